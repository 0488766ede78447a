"""The bar engine's state between bars, as a plain value that round-trips through JSON.

It is everything the engine needs to continue after the last completed bar: the account, the
target it holds, the orders still working at the broker (with the fills already applied), and
the strategy's own state. The Hedge weights' history is left out (the journal keeps it as rows),
so the saved state stays the same size at every bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.errors import InvalidInputError
from orchestrator.execution import BrokerError, OrderRequest, PortfolioState
from orchestrator.validation import checked_number


@dataclass(frozen=True)
class PendingOrder:
    """An order sent and not yet done, with the ids of its fills already applied."""

    order: OrderRequest
    fill_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineState:
    """portfolio: the account after the bar, marked at its close.
    last_bar: the last completed bar (None before the first).
    held_target: the target position the account holds (the last one sent); None when no target
        is held (an order was closed unfilled), so the next target is traded whatever it is.
    pending: working orders, oldest first.
    strategy: `Strategy.state_dict()`, or None for a strategy that has not traded yet."""

    portfolio: PortfolioState
    last_bar: int | None = None
    held_target: float | None = 0.0
    pending: tuple[PendingOrder, ...] = ()
    strategy: Mapping[str, object] | None = None

    @classmethod
    def opening(cls, cash: float) -> EngineState:
        """A new run: a flat account holding `cash`, nothing traded."""
        return cls(portfolio=PortfolioState.opening(cash))

    def pending_orders(self) -> tuple[OrderRequest, ...]:
        """The working orders, to hand to `broker.resubmit_pending` when resuming."""
        return tuple(item.order for item in self.pending)

    def to_dict(self) -> dict[str, object]:
        return {
            "portfolio": self.portfolio.to_dict(),
            "last_bar": self.last_bar,
            "held_target": self.held_target,
            "pending": [
                {
                    "client_order_id": item.order.client_order_id,
                    "symbol": item.order.symbol,
                    "quantity": item.order.quantity,
                    "decision_bar": item.order.decision_bar,
                    "intent": item.order.intent,
                    "fill_ids": list(item.fill_ids),
                }
                for item in self.pending
            ],
            "strategy": None if self.strategy is None else dict(self.strategy),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EngineState:
        """The inverse of `to_dict`; anything malformed is an `InvalidInputError`."""
        try:
            pending = tuple(
                PendingOrder(
                    OrderRequest(
                        client_order_id=item["client_order_id"],
                        symbol=item["symbol"],
                        quantity=item["quantity"],
                        decision_bar=item["decision_bar"],
                        intent=item["intent"],
                    ),
                    tuple(item["fill_ids"]),
                )
                for item in data["pending"]  # type: ignore[attr-defined]
            )
            last_bar = data["last_bar"]
            strategy = data["strategy"]
            portfolio = PortfolioState.from_dict(dict(data["portfolio"]))  # type: ignore[call-overload]
            held = data["held_target"]
            if held is not None:
                held = checked_number("saved held_target", held, low=-1.0, high=1.0)
        except (KeyError, TypeError, BrokerError) as exc:
            raise InvalidInputError(f"saved engine state is malformed: {exc!r}") from None
        if last_bar is not None and (not isinstance(last_bar, int) or last_bar < 0):
            raise InvalidInputError(f"saved engine state: bad last_bar {last_bar!r}")
        if strategy is not None and not isinstance(strategy, Mapping):
            raise InvalidInputError(f"saved engine state: bad strategy state {strategy!r}")
        return cls(portfolio, last_bar, held, pending, strategy)
