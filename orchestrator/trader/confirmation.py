"""The last check before an order reaches the broker: the trade-execution model confirms or vetoes.

It runs only for orders (a non-zero order after the risk check) that the strategy chose; the risk
manager's forced exits (stop-loss, kill switch, trims) are never put to a model, since a veto must
never keep a position open that the hard limits close. The prompt, the call and the fail-closed
parsing live in `llm` (`confirm_order`); this side says what the order is. An order vetoed at the
previous bar and unchanged since (same side, same shares held, same target to the percent, same
intent) keeps its veto without asking again: the critical models cost about $0.025 a question,
and a strategy that holds its view would otherwise pay that every bar for the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class _Veto:
    """The last veto: what order it was about, since which bar it stands, the last bar it served."""

    order: tuple[object, ...]
    since_bar: int
    last_bar: int
    confirmation: Confirmation


def _same_order(check: OrderCheck, intent: str) -> tuple[object, ...]:
    """What makes two bars' orders the same question (prices and notionals move every bar)."""
    side = "buy" if check.order_shares > 0 else "sell"
    return (side, check.portfolio.shares, round(check.approved_position, 2), intent)


class ExecutionConfirmer:
    """Asks the trade-execution model about each order of one strategy (see the module
    docstring); one per strategy, since it remembers that strategy's last veto."""

    def __init__(self, gateway: CompletionGateway, snapshots: MarketSnapshots) -> None:
        self.gateway = gateway
        self.snapshots = snapshots
        self._veto: _Veto | None = None

    def confirm(self, bar: int, check: OrderCheck, intent: str) -> Confirmation:
        """The verdict on the order `check` approved at the close of `bar`; raises only when the
        gateway is down (`LLMGatewayDownError`)."""
        order = _same_order(check, intent)
        veto = self._veto
        if veto is not None and veto.order == order and veto.last_bar == bar - 1:
            self._veto = replace(veto, last_bar=bar)
            reason = (
                f"{veto.confirmation.reason} (unchanged since bar {veto.since_bar}, not re-asked)"
            )
            return replace(veto.confirmation, reason=reason, cost_usd=0.0)
        snapshot = self.snapshots.at(bar, check.portfolio, check.price)
        confirmation = confirm_order(self.gateway, snapshot, order_facts(check, intent))
        self._veto = None if confirmation.confirmed else _Veto(order, bar, bar, confirmation)
        return confirmation
