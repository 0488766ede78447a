"""What the paper-trade loop needs from a broker, so a simulated one and a real one plug in alike.

The crash-safety contract rests on one rule: an order is identified by a client order id that the
loop derives deterministically from (run id, bar index, intent), and submitting an id the broker
already holds never creates a second order. A run that crashed after sending an order and before
journaling it therefore sends the same id again on resume and gets the original order back; a run
that crashed before journaling the order's fill asks the broker for the fills of that id
(`Broker.fills`). A paper broker, which lives in the process, is rebuilt on resume from the
journal's account and pending orders (`resubmit_pending` below).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, ClassVar, Protocol

from pydantic import Field, NonNegativeInt, field_validator

from orchestrator.checks import Finite, Value, checked_args
from orchestrator.errors import OrchestratorError

INTENT_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"


class BrokerError(OrchestratorError):
    """An order or a broker call the broker refuses: bad order, late order, unreachable broker."""


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"  # working at the broker, nothing filled yet
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"  # refused by the broker (reason in the ack); never fills
    CANCELED = "canceled"


@checked_args(BrokerError)
def client_order_id(
    run_id: Annotated[str, Field(min_length=1)],
    bar_index: NonNegativeInt,
    intent: Annotated[str, Field(pattern=INTENT_PATTERN)],
) -> str:
    """`ht-<run tag>-<bar>-<intent>`: the same inputs always give the same id.

    The run tag is the first 16 hex digits of sha256(run_id), so ids of different runs on one
    account do not collide and the run id itself never reaches the broker. Ids are short (under 50
    characters for bar indexes below 10^9) and use only letters, digits, dashes and underscores;
    the intent is 1-16 characters of a-z, 0-9 or _, starting with a letter.
    """
    tag = hashlib.sha256(run_id.encode()).hexdigest()[:16]
    return f"ht-{tag}-{bar_index}-{intent}"


class OrderRequest(Value):
    """A market order for `quantity` shares (signed: positive buys, negative sells).

    decision_bar: the bar whose close decided it; it may fill from the next bar's open on.
    intent: why it was sent (e.g. "rebalance"); part of the client order id.
    """

    invalid_error: ClassVar[type[OrchestratorError]] = BrokerError

    client_order_id: Annotated[str, Field(min_length=1)]
    symbol: Annotated[str, Field(min_length=1)]
    quantity: Finite
    decision_bar: NonNegativeInt
    intent: str

    @field_validator("quantity")
    @classmethod
    def _not_zero(cls, quantity: float) -> float:
        if quantity == 0.0:
            raise ValueError("an order must trade a non-zero quantity")
        return quantity


@dataclass(frozen=True)
class OrderAck:
    """The broker's answer to a submission, or its view of an order when asked by client id.

    quantity: the order as the broker holds it. duplicate: the id was already known, so no new
    order was created and this is the existing one (whose quantity stands, even if the new
    request asked for another). reason: why a REJECTED order was refused.
    """

    client_order_id: str
    broker_order_id: str
    symbol: str
    quantity: float
    status: OrderStatus
    duplicate: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class BrokerFill:
    """One execution of an order (an order may fill in parts at a real broker).

    shares: signed, as the order. price: per share, slippage included. commission: currency.
    bar_index: the bar during which the fill happened (for the paper broker: the bar whose open
    filled it). reference_price / slippage_cost: the price before slippage and what slippage cost,
    when the broker knows them (the paper broker does; a real broker's slippage is inside `price`).
    """

    fill_id: str
    client_order_id: str
    bar_index: int
    shares: float
    price: float
    commission: float
    reference_price: float | None = None
    slippage_cost: float | None = None


class Broker(Protocol):
    """A broker the paper-trade loop can drive.

    Idempotency: `submit` with a client id the broker already holds returns that order's ack with
    `duplicate=True` and creates nothing. `order` and `fills` look an order up by client id: that
    is how a resumed run finds out what happened to orders it sent before a crash.
    """

    def submit(self, order: OrderRequest) -> OrderAck:
        """Send `order`, or return the existing one with the same client id."""
        ...

    def order(self, client_order_id: str) -> OrderAck | None:
        """The order with this client id as the broker holds it now, or None if it has none."""
        ...

    def fills(self, client_order_id: str) -> tuple[BrokerFill, ...]:
        """Every fill of the order with this client id so far, oldest first."""
        ...

    def positions(self) -> dict[str, float]:
        """Shares held per symbol (signed; symbols with no position may be left out)."""
        ...

    def cash(self) -> float:
        """Cash in the account, in the account currency."""
        ...

    def on_bar_open(self, bar_index: int, open_price: float) -> None:
        """Bar `bar_index` opened at `open_price`: the clock of the loop.

        A simulated broker fills the orders due at this open; a live broker, whose market fills
        orders by itself, only notes the bar so that fills it reports can be stamped with it.
        """
        ...


def resubmit_pending(broker: Broker, pending: Iterable[OrderRequest]) -> tuple[OrderAck, ...]:
    """On resume, send every order the journal holds as not yet filled, in order.

    A broker that still holds an order answers with the existing one (`duplicate=True`); a paper
    broker rebuilt from the journal recreates it, so that it fills at the next open as before.
    """
    return tuple(broker.submit(order) for order in pending)
