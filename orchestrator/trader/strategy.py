"""What the bar engine asks of a strategy: a target position at each close, and learning after.

The hybrid trader and the backtest's baselines (buy and hold, DRL alone, LLM alone) all satisfy
`Strategy`, so that every strategy of a backtest runs through the same engine, costs and risk
manager, and differs only in the decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from agents import DRLDecision
from orchestrator.execution import PortfolioState
from orchestrator.trader.cadence import LLMView
from orchestrator.trader.combiner import HybridDecision
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate


@dataclass(frozen=True)
class StrategyDecision:
    """A target position (fraction of equity, in [-1, 1]) and what it came from.

    hybrid: the combined decision, when there is one (the journal records it); drl / llm_view:
    the sources' raw views, when the strategy consulted them.
    """

    target_position: float
    reasoning: str
    hybrid: HybridDecision | None = None
    drl: DRLDecision | None = None
    llm_view: LLMView | None = None


class Strategy(Protocol):
    """One way to trade. Its state changes only in `decide` and `learn`, and round-trips through
    `state_dict` / `load_state_dict` so that a run resumes exactly. Two parts of it are saved
    apart, because the journal keeps each of them once in its own tables: the weights' history (a
    row per update) and the LLM view (a row per view); `load_state_dict` takes them back.
    """

    @property
    def weights(self) -> HedgeWeights:
        """The DRL/LLM weights (a strategy that does not mix sources keeps them at 50/50)."""
        ...

    @property
    def llm_view(self) -> LLMView | None:
        """The latest LLM view, or None when the strategy does not ask the LLM."""
        ...

    def learn(self, bar: int, held_return: float, label: str) -> WeightUpdate | None:
        """Score the decision of close `bar - 2` on `held_return`, the return open[bar-1] ->
        open[bar]: the interval that decision's position was held, from its fill to the next."""
        ...

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> StrategyDecision:
        """The target at the close of `bar`, for `portfolio` marked at `price`."""
        ...

    def state_dict(self) -> dict[str, object]:
        """JSON values that restore the strategy, but for the two parts saved apart (see above)."""
        ...

    def load_state_dict(
        self,
        state: Mapping[str, object],
        *,
        weight_history: Sequence[WeightUpdate] = (),
        llm_view: LLMView | None = None,
    ) -> None:
        """Continue from `state` (from `state_dict`), the weights' updates and the LLM view."""
        ...
