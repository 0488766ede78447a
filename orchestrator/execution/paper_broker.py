"""A simulated broker: an order decided at bar t's close fills in full at bar t+1's open.

Costs are the env's (`envs.trading.execution.execute`): the same slippage and commission that
trained the agent and that the backtests charge. Everything is deterministic, with ids derived from
the client order id, so a run rebuilt from its journal (`PaperBroker(cash, shares=...)` plus
`resubmit_pending`) produces exactly the fills an uninterrupted run would have.

Orders follow the package's one order semantics (`envs.trading.execution.market_order`, the
env's too): the risk manager sizes an order at the decision bar's close and it fills at the next
open. Cash may therefore go slightly negative: an overnight gap up makes a full-long buy cost a
little more than the cash (a margin account pays it; the next bar's risk check sees the position
over its limit and trims it once it is more than `RiskLimits.max_position_drift` over).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from pydantic import Field, NonNegativeInt, SkipValidation

from envs import CostModel, execute
from orchestrator.checks import Finite, Positive, checked_args
from orchestrator.execution.broker import (
    BrokerError,
    BrokerFill,
    OrderAck,
    OrderRequest,
    OrderStatus,
)


class PaperBroker:
    """One symbol, market orders only, filled whole at the open of the first bar after the decision.

    cash: currency; shares: the starting position (a resumed run passes the journal's).
    """

    @checked_args(BrokerError)
    def __init__(
        self,
        cash: Finite,
        *,
        shares: Finite = 0.0,
        symbol: Annotated[str, Field(min_length=1)] = "ASSET",
        cost_model: SkipValidation[CostModel | None] = None,
    ) -> None:
        self.symbol = symbol
        self.cost_model = cost_model or CostModel()
        self._cash = cash
        self._shares = shares
        self._orders: dict[str, tuple[OrderRequest, OrderAck]] = {}  # every order, ever
        # The accepted orders not filled yet, in submit order: a bar's open walks only these.
        self._pending: dict[str, OrderRequest] = {}
        self._fills: dict[str, tuple[BrokerFill, ...]] = {}
        self._last_open: int | None = None

    def submit(self, order: OrderRequest) -> OrderAck:
        """Accept `order` to fill at the next open; a known client id returns the existing order.

        An order decided before the last bar that opened is refused: it would fill a bar late,
        which means the loop fed the broker out of order.
        """
        known = self._orders.get(order.client_order_id)
        if known is not None:
            return replace(known[1], duplicate=True)
        if order.symbol != self.symbol:
            raise BrokerError(
                f"order {order.client_order_id}: symbol {order.symbol!r}, but this paper broker"
                f" trades only {self.symbol!r}"
            )
        if self._last_open is not None and order.decision_bar < self._last_open:
            raise BrokerError(
                f"order {order.client_order_id} was decided at bar {order.decision_bar} but bar"
                f" {self._last_open} has already opened; it would fill late"
            )
        ack = OrderAck(
            client_order_id=order.client_order_id,
            broker_order_id=f"paper-{order.client_order_id}",
            symbol=order.symbol,
            quantity=order.quantity,
            status=OrderStatus.ACCEPTED,
        )
        self._orders[order.client_order_id] = (order, ack)
        self._pending[order.client_order_id] = order
        return ack

    @checked_args(BrokerError)
    def on_bar_open(self, bar_index: NonNegativeInt, open_price: Positive) -> None:
        """Fill, in the order they were sent, every working order decided before `bar_index`.

        Walks the orders still pending only: filled orders leave `_pending`.
        """
        if self._last_open is not None and bar_index <= self._last_open:
            raise BrokerError(
                f"bar {bar_index} opened after bar {self._last_open}: bars must advance"
            )
        self._last_open = bar_index
        due = [order for order in self._pending.values() if order.decision_bar < bar_index]
        for order in due:
            self._fill(order, bar_index, open_price)

    def _fill(self, order: OrderRequest, bar_index: int, open_price: float) -> None:
        result = execute(self._cash, self._shares, order.quantity, open_price, self.cost_model)
        self._cash, self._shares = float(result.cash), float(result.shares)
        fill = BrokerFill(
            fill_id=f"{order.client_order_id}-fill",
            client_order_id=order.client_order_id,
            bar_index=bar_index,
            shares=order.quantity,
            price=float(result.traded_notional) / abs(order.quantity),
            commission=float(result.commission),
            reference_price=open_price,
            slippage_cost=float(result.slippage_cost),
        )
        self._fills[order.client_order_id] = (fill,)
        ack = self._orders[order.client_order_id][1]
        self._orders[order.client_order_id] = (order, replace(ack, status=OrderStatus.FILLED))
        del self._pending[order.client_order_id]

    def order(self, client_order_id: str) -> OrderAck | None:
        known = self._orders.get(client_order_id)
        return None if known is None else known[1]

    def fills(self, client_order_id: str) -> tuple[BrokerFill, ...]:
        return self._fills.get(client_order_id, ())

    def positions(self) -> dict[str, float]:
        return {self.symbol: self._shares} if self._shares != 0.0 else {}

    def cash(self) -> float:
        return self._cash
