"""The last check before an order reaches the broker: the trade-execution model confirms or vetoes.

It runs only for orders (a non-zero order after the risk check) that the strategy chose; the risk
manager's forced exits (stop-loss, kill switch, trims) are never put to a model, since a veto must
never keep a position open that the hard limits close. The prompt, the call and the fail-closed
parsing live in `llm` (`confirm_order`); this side says what the order is.
"""

from __future__ import annotations

from llm import CompletionGateway, Confirmation, confirm_order
from orchestrator.execution import OrderCheck
from orchestrator.trader.snapshots import MarketSnapshots


def order_facts(check: OrderCheck, intent: str) -> dict[str, object]:
    """The order as the model sees it: side, size, and what it does to the position."""
    return {
        "side": "buy" if check.order_shares > 0 else "sell",
        "shares": abs(check.order_shares),
        "price": check.price,
        "notional": check.order_notional,
        "notional_fraction_of_equity": check.order_notional / check.equity,
        "current_position": check.current_position,
        "target_position": check.approved_position,
        "risk_check": check.status.value,
        "intent": intent,
    }


class ExecutionConfirmer:
    """Asks the trade-execution model about each order (see the module docstring)."""

    def __init__(self, gateway: CompletionGateway, snapshots: MarketSnapshots) -> None:
        self.gateway = gateway
        self.snapshots = snapshots

    def confirm(self, bar: int, check: OrderCheck, intent: str) -> Confirmation:
        """The verdict on the order `check` approved at the close of `bar`; never raises."""
        snapshot = self.snapshots.at(bar, check.portfolio, check.price)
        return confirm_order(self.gateway, snapshot, order_facts(check, intent))
