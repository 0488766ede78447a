"""`HybridDRLLLMTrader`: at each close, the DRL vote and the LLM vote combined with learned weights.

Per bar, in the bar engine's order:
1. `learn(bar, r)`: each source's own book is scored on the interval its position was held: the
   position it recommended at close t-2 filled at open t-1 and was held to open t, so
   r = open[t] / open[t-1] - 1, and the book's gross relative is 1 + p * r - c, with c what moving
   that source's own book to p cost (`envs.trading.execution`'s fill model, as a fraction of
   equity). The weight learner (`orchestrator.trader.hedge`, delayed AdaHedge by default) moves the
   weights; `learn_weights=False` keeps them at 50/50. The same interval feeds the LLM's
   confidence calibrator (`LLMConfidenceCalibrator.record_held`), so a view's outcome counts
   once it is complete.
2. `decide(bar, account)`: the agent decides on the observation of its own book (`SourceBook`);
   the LLM view is asked or reused as `LLMCadence` says, and its stated confidence is replaced by
   the hit rate the LLM has realized at that confidence so far (outcomes complete before bar t
   only); `combiner.combine` mixes both votes with the current
   weights into a `HybridDecision` that records both votes, the weights and the reasoning,
   including how fresh the LLM view was. With the default mixture rule the target is exactly the
   weight mixture of the two recommended positions, so the traded position is the mixture the
   learner scores. Its weights are one update older than the learner's when it scores them (the
   decision at close t is scored at bar t + 2): delayed AdaHedge (`learner="hedge_delayed"`)
   scores each decision with the weights it was traded with, and its regret bound covers them;
   plain AdaHedge's covers its own, newer weights.

A source's recommended position is its vote as the account could hold it: capped at the
combiner's `max_position`, and flat instead of short in long-only mode.

With a trade memory (`orchestrator.memory.TradeMemory`, settings in `TraderConfig.memory`), each
decision first closes the trade whose exit filled by this bar's open (and has its lesson
written), the analysts, when asked, see the similar past trades and the lessons that apply, and
the decided target opens or closes the memory's trades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Annotated, Any

import numpy as np
from pydantic import Field, NonNegativeInt, model_validator

from agents import DRLAgent
from envs import CostModel, market_order, rebalance
from llm import CompletionGateway, TradeMemoryView, embedder_for
from orchestrator.checks import Position, Positive, Settings, UnitInterval, Value
from orchestrator.errors import InvalidInputError
from orchestrator.execution import PortfolioState
from orchestrator.memory import UNKNOWN_REGIME, MemoryConfig, TradeMemory
from orchestrator.trader.cadence import (
    Analyst,
    LLMCadence,
    LLMView,
    LLMViewKeeper,
    drl_unsure_threshold,
)
from orchestrator.trader.combiner import (
    CombinerConfig,
    ExtraExpert,
    account_position,
    combine,
)
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hedge import (
    DEFAULT_LEARNER,
    ExtraExpertName,
    HedgeWeights,
    LearnerName,
    WeightUpdate,
)
from orchestrator.trader.market import TradingMarket
from orchestrator.trader.snapshots import MarketSnapshots
from orchestrator.trader.strategy import StrategyDecision
from orchestrator.trader.votes import (
    LLMConfidenceCalibrator,
    llm_direction,
    vote_from_drl,
    vote_from_llm,
)


class TraderConfig(Settings):
    """Every setting of the hybrid trader: LLM cadence, combination rule, weight learning.

    extra_experts: experts the learner weighs beside the DRL and the LLM (`hedge.EXTRA_EXPERTS`):
        `market` (fully invested) and `cash` (flat); none by default. With `market`, the hybrid's
        log-wealth stays within the printed regret bound of buy and hold's.
    memory: the trade memory's settings; None trades without one.
    learner: how the weights are learned: "hedge_delayed" (the default: AdaHedge for the
        one-decision delay, its bound on the weights each decision was traded with;
        `hedge.DelayedAdaHedge`), "hedge" (AdaHedge, with its regret bound on the weights it
        holds when it scores) or "thompson"
        (Thompson sampling on the same outcomes; see `hedge.ThompsonExperts`).
    """

    cadence: LLMCadence = Field(default_factory=LLMCadence)
    combiner: CombinerConfig = Field(default_factory=CombinerConfig)
    learn_weights: bool = True
    learner: LearnerName = DEFAULT_LEARNER
    extra_experts: tuple[ExtraExpertName, ...] = ()
    memory: MemoryConfig | None = None

    @model_validator(mode="after")
    def _extras_need_the_mixture(self) -> TraderConfig:
        if len(set(self.extra_experts)) != len(self.extra_experts):
            raise ValueError(f"extra_experts must be distinct, got {self.extra_experts!r}")
        if self.extra_experts and self.combiner.rule != "mixture":
            raise ValueError(
                "extra experts (market, cash) join the mixture rule only, not the seed rule"
            )
        return self

    def for_agent(self, agent: DRLAgent) -> TraderConfig:
        """These settings for `agent`: the combiner long-only exactly when the agent's env is, and
        the cadence's "unsure" and the seed rule's "sure" thresholds from the agent's validation
        confidences, unless set."""
        cadence = self.cadence
        if cadence.below_drl_confidence is None:
            cadence = cadence.for_agent(agent)
        combiner = self.combiner.copy_with(long_only=agent.env_config.mode == "long_only")
        if combiner.agree_drl_confidence is None:
            sure = drl_unsure_threshold(agent, combiner.agree_quantile)
            combiner = combiner.copy_with(agree_drl_confidence=sure)
        return self.copy_with(combiner=combiner, cadence=cadence)


EXTRA_POSITIONS = {"market": 1.0, "cash": 0.0}
"""The signal of each extra expert: fully long (capped as the account holds it) and flat."""


def repositioning_cost(previous: float, target: float, cost_model: CostModel) -> float:
    """Cost, as a fraction of equity, of moving a portfolio from `previous` to `target` (fractions
    of equity), filled by the env's fill model at a unit price."""
    if target == previous:
        return 0.0
    fill = rebalance(1.0 - previous, previous, target, 1.0, cost_model)
    return float(fill.commission + fill.slippage_cost)


class HybridDRLLLMTrader:
    """The hybrid strategy (see the module docstring); a `Strategy` for the bar engine."""

    def __init__(
        self,
        drl: DRLAdvisor,
        analyst: Analyst,
        snapshots: MarketSnapshots,
        *,
        cost_model: CostModel,
        config: TraderConfig | None = None,
        memory: TradeMemory | None = None,
    ) -> None:
        self.config = config or TraderConfig()
        if (memory is None) != (self.config.memory is None):
            raise InvalidInputError(
                "a hybrid with memory settings needs a TradeMemory, and one without none"
            )
        self.memory = memory
        self.drl = drl
        self.drl_book = SourceBook(snapshots.market.arrays.open, snapshots.market.arrays.close)
        self.llm = LLMViewKeeper(analyst, snapshots, self.config.cadence)
        self.cost_model = cost_model
        self._weights = HedgeWeights(self.config.extra_experts, self.config.learner)
        self.llm_calibrator = LLMConfidenceCalibrator()
        # the decisions of the last closes, oldest first, not yet scored
        self._unscored: list[UnscoredDecision] = []
        # each expert's own position before the oldest unscored decision
        self._held = dict.fromkeys(("drl", "llm", *self.config.extra_experts), 0.0)

    @property
    def weights(self) -> HedgeWeights:
        return self._weights

    @property
    def llm_view(self) -> LLMView | None:
        return self.llm.view

    def learn(self, bar: int, held_return: float, label: str) -> WeightUpdate | None:
        """Score the sources of close `bar - 2` on `held_return` (open[bar-1] to open[bar]), and
        feed the LLM's confidence calibrator the same interval."""
        if len(self._unscored) < 2:  # the oldest has not been held a whole interval yet
            return None
        scored, self._unscored = self._unscored[0], self._unscored[1:]
        positions = {"drl": scored.drl, "llm": scored.llm, **scored.extras}
        costs = {
            name: repositioning_cost(self._held[name], position, self.cost_model)
            for name, position in positions.items()
        }
        self._held = positions
        self.llm_calibrator.record_held(
            scored.llm_asked_at,
            scored.llm_confidence,
            scored.llm_direction,
            held_return,
            costs["llm"],
        )
        if not self.config.learn_weights:
            return None
        extras = self.config.extra_experts
        return self._weights.update(
            drl_position=scored.drl,
            llm_position=scored.llm,
            bar_return=held_return,
            drl_cost=costs["drl"],
            llm_cost=costs["llm"],
            label=label,
            extra_positions={name: positions[name] for name in extras},
            extra_costs={name: costs[name] for name in extras},
        )

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> StrategyDecision:
        # The agent decides from its own book, as in training and as DRL-alone does, not from the
        # hybrid's account, which holds positions it never chose.
        drl = self.drl.decide_for(bar, *self.drl_book.at_close(bar, self.cost_model))
        drl_vote = vote_from_drl(drl)
        recall = self._memory_recall(bar, drl_vote.signal)
        view, asked = self.llm.view_at(bar, portfolio, price, drl.confidence, recall)
        llm_vote = vote_from_llm(view.decision, self.llm_calibrator)
        combiner = self.config.combiner
        extra_positions: dict[str, float] = {
            name: account_position(EXTRA_POSITIONS[name], combiner)
            for name in self.config.extra_experts
        }
        extra_weights = self._weights.extra_weights
        hybrid = combine(
            drl_vote,
            llm_vote,
            drl_weight=self._weights.drl_weight,
            config=combiner,
            extras={
                name: ExtraExpert(extra_weights[name], position)
                for name, position in extra_positions.items()
            },
        )
        freshness = "asked now" if asked else f"reused from bar {view.asked_at_bar}"
        hybrid = replace(hybrid, reasoning=f"{hybrid.reasoning}; LLM view {freshness}")
        drl_position = account_position(drl_vote.signal, combiner)
        if self.memory is not None:
            self.memory.observe(
                bar,
                hybrid.target_position,
                {
                    "regime": regime_of(view),
                    "drl_signal": drl_vote.signal,
                    "llm_signal": llm_vote.signal,
                    "drl_weight": self._weights.drl_weight,
                },
            )
        self._unscored.append(
            UnscoredDecision(
                drl=drl_position,
                llm=account_position(llm_vote.signal, combiner),
                llm_asked_at=view.asked_at_bar,
                llm_confidence=view.decision.confidence,
                llm_direction=llm_direction(view.decision),
                extras=extra_positions,
            )
        )
        self.drl_book.target = drl_position
        return StrategyDecision(
            target_position=hybrid.target_position,
            reasoning=hybrid.reasoning,
            hybrid=hybrid,
            drl=drl,
            llm_view=view,
        )

    def _memory_recall(self, bar: int, drl_signal: float) -> Callable[[], TradeMemoryView] | None:
        """Close the memory's trade due at `bar` (and have its lesson written), and return what
        the analysts are shown if they are asked now: the situation as the agent sees it at `bar`
        with the LLM view held so far. None without a memory."""
        if self.memory is None:
            return None
        self.memory.close_due(bar)
        held = self.llm.view
        held_signal = 0.0 if held is None else vote_from_llm(held.decision).signal
        return partial(self.memory.recall, bar, regime_of(held), drl_signal, held_signal)

    def state_dict(self) -> dict[str, object]:
        """JSON values that restore the trader, with the two things kept apart (see `Strategy`)."""
        return TraderState(
            weights=self._weights.state_dict(),
            llm=self.llm.state_dict(),
            unscored=self._unscored,
            held=self._held,
            drl_book=self.drl_book.state_dict(),
            llm_calibrator=self.llm_calibrator.state_dict(),
            memory=None if self.memory is None else self.memory.state_dict(),
        ).model_dump(mode="json")

    def load_state_dict(
        self,
        state: Mapping[str, object],
        *,
        weight_history: Sequence[WeightUpdate] = (),
        llm_view: LLMView | None = None,
    ) -> None:
        saved = TraderState.from_mapping(state)
        self._weights.load_state_dict(saved.weights, weight_history)
        self.llm.load_state_dict(saved.llm, llm_view)
        self._unscored = list(saved.unscored)
        if set(saved.held) != set(self._held):
            raise InvalidInputError(
                f"the saved trader holds experts {sorted(saved.held)}, this one"
                f" {sorted(self._held)}"
            )
        self._held = dict(saved.held)
        self.drl_book.load_state_dict(saved.drl_book)
        self.llm_calibrator.load_state_dict(saved.llm_calibrator)
        if (self.memory is None) != (saved.memory is None):
            raise InvalidInputError("the saved trader and this one differ in having a memory")
        if self.memory is not None and saved.memory is not None:
            self.memory.load_state_dict(saved.memory)


def trade_memory(
    config: TraderConfig, market: TradingMarket, gateway: CompletionGateway, cost_model: CostModel
) -> TradeMemory | None:
    """The trade memory `config` asks for over `market` (None: it asks for none): lessons written
    through `gateway` and embedded by its stack's embedding model, or by the deterministic local
    embedder where the stack names none (`llm.embedder_for`)."""
    if config.memory is None:
        return None
    return TradeMemory(
        market.arrays,
        market.symbol,
        cost_model,
        gateway=gateway,
        embedder=embedder_for(gateway),
        config=config.memory,
    )


def regime_of(view: LLMView | None) -> str:
    """The narrative analyst's regime in `view` (`regime=...` among its key features)."""
    if view is not None:
        for signal in view.decision.signals:
            for feature in signal.key_features:
                if feature.startswith("regime="):
                    return feature.removeprefix("regime=")
    return UNKNOWN_REGIME


class UnscoredDecision(Value):
    """One close's decision, kept until the interval its positions were held has been scored:
    each source's recommended position, and the LLM view it used (when it was asked, the
    confidence it stated, its direction) for the LLM's confidence calibrator; and each extra
    expert's position."""

    drl: Position
    llm: Position
    llm_asked_at: NonNegativeInt
    llm_confidence: UnitInterval
    llm_direction: Position
    extras: dict[str, Position] = Field(default_factory=dict)


class TraderState(Value):
    """What `HybridDRLLLMTrader.state_dict` saves.

    unscored: the decisions of the last closes (at most two), not yet scored.
    held: each expert's own position before the oldest of those, to cost the move to it.
    drl_book: the DRL agent's own book (`SourceBook.state_dict`).
    llm_calibrator: `LLMConfidenceCalibrator.state_dict`.
    memory: the trade memory's open trades (`TradeMemory.state_dict`; its closed trades and
    lessons are saved apart, in the journal's tables), None without a memory.
    """

    weights: dict[str, Any]
    llm: dict[str, Any]
    unscored: Annotated[list[UnscoredDecision], Field(max_length=2)]
    held: dict[str, Position]
    drl_book: dict[str, Any]
    llm_calibrator: dict[str, Any]
    memory: dict[str, Any] | None = None


class BookState(Value):
    """What `SourceBook.state_dict` saves."""

    cash: float
    shares: float
    peak_equity: Positive
    target: Position | None
    last_bar: int | None


class SourceBook:
    """One source's own book, unit equity at the start: its last target is ordered as the env and
    the broker order it (`envs.market_order`: sized at the decision close, filled at the next
    open), and the book is marked at each close, so the source sees the position and drawdown it
    would have had trading alone."""

    def __init__(self, opens: np.ndarray, closes: np.ndarray) -> None:
        self.opens, self.closes = opens, closes
        self.cash, self.shares, self.peak_equity = 1.0, 0.0, 1.0
        self.target: float | None = None  # the last decision's position, to fill at the next open
        self.last_bar: int | None = None

    def at_close(self, bar: int, cost_model: CostModel) -> tuple[float, float]:
        """(position fraction, drawdown) at the close of `bar`, after the last target filled."""
        if self.target is not None and self.last_bar is not None and bar > self.last_bar:
            fill = market_order(
                self.cash,
                self.shares,
                self.target,
                float(self.closes[self.last_bar]),
                float(self.opens[bar]),
                cost_model,
            )
            self.cash, self.shares = float(fill.cash), float(fill.shares)
            self.target = None
        self.last_bar = bar
        close = float(self.closes[bar])
        equity = self.cash + self.shares * close
        if equity <= 0.0:  # a ruined book is closed, as the env shows it
            return 0.0, -1.0
        self.peak_equity = max(self.peak_equity, equity)
        return self.shares * close / equity, min(0.0, equity / self.peak_equity - 1.0)

    def state_dict(self) -> dict[str, object]:
        return BookState(
            cash=self.cash,
            shares=self.shares,
            peak_equity=self.peak_equity,
            target=self.target,
            last_bar=self.last_bar,
        ).model_dump()

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        saved = BookState.from_mapping(state)
        self.cash, self.shares, self.peak_equity = saved.cash, saved.shares, saved.peak_equity
        self.target, self.last_bar = saved.target, saved.last_bar
