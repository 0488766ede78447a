"""The backtest's reference strategies in the bar engine: the DRL agent alone, the LLM alone.

Each is a `Strategy` for the same bar engine as the hybrid, so fills, costs and the risk manager
are identical and only the decisions differ; LLM alone's orders also go to the LLM execution
check, DRL alone's do not (it calls no LLM). None of them mixes sources, so none learns weights
(their `weights` stay at the untouched 50/50 start). Buy and hold runs in no engine: it is
`envs.buy_and_hold`, pure (see `orchestrator.runs.backtest`).

LLM alone is asked at the first bar of each of the hybrid's windows of `every_bars` bars (it has
no DRL confidence to wait for; see `orchestrator.trader.cadence`). The hybrid asks at most once
per window too, so LLM alone shows what the LLM side is worth at the price the hybrid pays for
it (never less), rather than at a price no one would run it at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.errors import InvalidInputError
from orchestrator.execution import PortfolioState
from orchestrator.trader.cadence import Analyst, LLMCadence, LLMView, LLMViewKeeper
from orchestrator.trader.combiner import CombinerConfig, account_position
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate
from orchestrator.trader.snapshots import MarketSnapshots
from orchestrator.trader.strategy import StrategyDecision
from orchestrator.trader.votes import vote_from_llm


class _SingleSource:
    """What the baselines share: no weights to learn, no state unless they override it."""

    @property
    def weights(self) -> HedgeWeights:
        return HedgeWeights()  # never updated: the 50/50 start

    @property
    def llm_view(self) -> LLMView | None:
        return None

    def learn(self, bar: int, bar_return: float, label: str) -> WeightUpdate | None:
        return None

    def state_dict(self) -> dict[str, object]:
        return {}

    def load_state_dict(
        self,
        state: Mapping[str, object],
        *,
        weight_history: Sequence[WeightUpdate] = (),
        llm_view: LLMView | None = None,
    ) -> None:
        if weight_history:
            raise InvalidInputError(f"{type(self).__name__} learns no weights, got a history")
        if llm_view is not None:
            raise InvalidInputError(f"{type(self).__name__} asks no LLM, got an LLM view")


class DRLAlone(_SingleSource):
    """The agent's target position, as in its own evaluation."""

    def __init__(self, drl: DRLAdvisor) -> None:
        self.drl = drl

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> StrategyDecision:
        drl = self.drl.decide(bar, portfolio, price)
        return StrategyDecision(
            drl.target_position,
            f"DRL alone: action {drl.action}, confidence {drl.confidence:.2f}",
            drl=drl,
        )


class LLMAlone(_SingleSource):
    """The analysts' decision as a target: BUY size -> +size, SELL size -> -size, HOLD -> flat.

    Asked at the first bar of every window of `every_bars` bars from the first decision: the
    calendar the hybrid's asks are bounded by (`LLMCadence` without a DRL threshold).
    """

    def __init__(
        self,
        analyst: Analyst,
        snapshots: MarketSnapshots,
        every_bars: int | None,
        combiner: CombinerConfig,
    ) -> None:
        cadence = LLMCadence(every_bars=every_bars, below_drl_confidence=None)
        self.llm = LLMViewKeeper(analyst, snapshots, cadence)
        self.combiner = combiner

    @property
    def llm_view(self) -> LLMView | None:
        return self.llm.view

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> StrategyDecision:
        view, asked = self.llm.view_at(bar, portfolio, price)
        target = account_position(vote_from_llm(view.decision).signal, self.combiner)
        freshness = "asked now" if asked else f"reused from bar {view.asked_at_bar}"
        reasoning = f"LLM alone: {view.decision.action.value} size {view.decision.size:.2f}"
        return StrategyDecision(target, f"{reasoning} ({freshness})", llm_view=view)

    def state_dict(self) -> dict[str, object]:
        return self.llm.state_dict()

    def load_state_dict(
        self,
        state: Mapping[str, object],
        *,
        weight_history: Sequence[WeightUpdate] = (),
        llm_view: LLMView | None = None,
    ) -> None:
        super().load_state_dict(state, weight_history=weight_history)
        self.llm.load_state_dict(state, llm_view)
