"""The bar engine's state between bars, and how it is saved with each bar and read back.

The state is everything the engine needs to continue after the last completed bar: the account
and the orders still working at the broker (with the fills already applied).
With each bar the journal keeps the account in its own table and, as the bar's loop state, what
no table holds: the working orders and the strategy's own state
(`loop_state`). `resume` puts the two back together and loads the strategy.
"""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeInt

from orchestrator.checks import Value
from orchestrator.execution import OrderRequest, PortfolioState
from orchestrator.journal import RestoredState
from orchestrator.memory import TradeMemory
from orchestrator.trader import Strategy


class PendingOrder(Value):
    """An order sent and not yet done, with the ids of its fills already applied."""

    order: OrderRequest
    fill_ids: tuple[str, ...] = ()


class EngineState(Value):
    """portfolio: the account after the bar, marked at its close.
    last_bar: the last completed bar (None before the first).
    pending: working orders, oldest first."""

    portfolio: PortfolioState
    last_bar: NonNegativeInt | None = None
    pending: tuple[PendingOrder, ...] = ()

    @classmethod
    def opening(cls, cash: float) -> EngineState:
        """A new run: a flat account holding `cash`, nothing traded."""
        return cls(portfolio=PortfolioState.opening(cash))


class SavedLoop(Value):
    """The loop state saved with a bar, as JSON values (see the module docstring)."""

    pending: tuple[PendingOrder, ...]
    strategy: dict[str, Any]


def loop_state(state: EngineState, strategy: Strategy) -> dict[str, object]:
    """The JSON values saved with a bar beside the journal's tables (see the module docstring)."""
    saved = SavedLoop(pending=state.pending, strategy=strategy.state_dict())
    return saved.model_dump(mode="json")


def resume(
    restored: RestoredState, strategy: Strategy, memory: TradeMemory | None = None
) -> EngineState:
    """The engine state after the journal's last bar, with `strategy` loaded as it was then, and
    its trade `memory` (if it keeps one) given back the trades and lessons the journal holds."""
    saved = SavedLoop.from_mapping(restored.loop_state)
    strategy.load_state_dict(
        saved.strategy, weight_history=restored.weight_history, llm_view=restored.llm_view
    )
    if memory is not None:
        memory.load(restored.memory)
    return EngineState(
        portfolio=restored.portfolio,
        last_bar=restored.bar.index,
        pending=saved.pending,
    )
