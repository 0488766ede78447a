"""An Alpaca paper-trading account behind the `Broker` protocol (optional extra `alpaca`).

Uses alpaca-py, Alpaca's official SDK, so requests, authentication and response models are
theirs. Orders are DAY market orders for whole or fractional shares, sent with our client order
id, which Alpaca keeps unique per account: that makes `submit` idempotent across crashes. The
adapter asks for the id first and, should Alpaca still answer that it exists (a race with an
earlier attempt), returns the existing order. When the connection drops after the order was sent,
the adapter asks for it by its id on a new connection, so the order Alpaca placed is the one
recorded and never sent twice.

Fills: alpaca-py's trading client exposes each order's filled quantity and average price, not
the individual executions, so an order's fills are reported as ONE fill once the order is done
(filled, or canceled / expired with a part filled), with id `<alpaca order id>-fill`. Commission
is 0: Alpaca charges none on US equities (regulatory fees on sales are not reported per order).
Slippage is inside the fill price, so `reference_price` and `slippage_cost` are None.

Secrets: the keys go to the SDK only; no message of this module contains them, and the repr of
the broker shows the endpoint and symbol alone.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from pydantic import NonNegativeInt
from requests import RequestException

with warnings.catch_warnings():
    # alpaca.trading imports its websocket stream, which imports the deprecated
    # `websockets.legacy`; the REST client used here never touches it.
    warnings.filterwarnings("ignore", "websockets.legacy is deprecated", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, PositionSide, TimeInForce
    from alpaca.trading.enums import OrderStatus as AlpacaStatus
    from alpaca.trading.models import Order, Position, TradeAccount
    from alpaca.trading.requests import MarketOrderRequest

from orchestrator.checks import checked_args
from orchestrator.execution.broker import (
    BrokerError,
    BrokerFill,
    OrderAck,
    OrderRequest,
    OrderStatus,
)

T = TypeVar("T")
M = TypeVar("M")
API_KEY_VARIABLE, SECRET_KEY_VARIABLE = "ALPACA_API_KEY", "ALPACA_SECRET_KEY"
URL_VARIABLE = "ALPACA_BASE_URL"
_HTTP_NOT_FOUND = 404
_HTTP_UNPROCESSABLE = 422  # Alpaca's answer to a client order id it already holds, among others

_STATUS = {
    AlpacaStatus.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    AlpacaStatus.FILLED: OrderStatus.FILLED,
    AlpacaStatus.CANCELED: OrderStatus.CANCELED,
    AlpacaStatus.EXPIRED: OrderStatus.CANCELED,
    AlpacaStatus.REPLACED: OrderStatus.CANCELED,
    AlpacaStatus.REJECTED: OrderStatus.REJECTED,
    AlpacaStatus.SUSPENDED: OrderStatus.REJECTED,
}  # every other Alpaca status is an order still working: ACCEPTED
_DONE = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})


class AlpacaBroker:
    """One symbol on an Alpaca account; `connect` builds it from keys, tests pass a client."""

    def __init__(self, client: TradingClient, *, symbol: str, endpoint: str = "alpaca") -> None:
        if not symbol:
            raise BrokerError("AlpacaBroker needs a symbol to trade, got an empty one")
        self.symbol = symbol
        self._client = client
        self._endpoint = endpoint
        self._bar: int | None = None

    @classmethod
    def connect(
        cls,
        api_key: str,
        secret_key: str,
        *,
        symbol: str,
        paper: bool = True,
        url_override: str | None = None,
    ) -> AlpacaBroker:
        """A broker on the paper (default) or live account; `url_override` points elsewhere."""
        if not api_key or not secret_key:
            raise BrokerError("Alpaca needs an API key id and a secret key; one of them is empty")
        client = TradingClient(api_key, secret_key, paper=paper, url_override=url_override)
        endpoint = url_override or ("alpaca paper" if paper else "alpaca live")
        return cls(client, symbol=symbol, endpoint=endpoint)

    @classmethod
    def from_environment(
        cls, symbol: str, environ: Mapping[str, str] | None = None
    ) -> AlpacaBroker:
        """A broker on Alpaca's paper account, with the keys in `ALPACA_API_KEY` and
        `ALPACA_SECRET_KEY` of `environ` (default: the process environment); `ALPACA_BASE_URL`
        points it at another server (a proxy, or a test's fake). Never the live account."""
        environ = os.environ if environ is None else environ
        api_key, secret_key = alpaca_keys(environ)
        return cls.connect(
            api_key,
            secret_key,
            symbol=symbol,
            url_override=environ.get(URL_VARIABLE) or None,
        )

    def __repr__(self) -> str:
        return f"AlpacaBroker(endpoint={self._endpoint!r}, symbol={self.symbol!r})"

    def submit(self, order: OrderRequest) -> OrderAck:
        """Send a DAY market order, or return the order Alpaca already holds under this id."""
        if order.symbol != self.symbol:
            raise BrokerError(
                f"order {order.client_order_id}: symbol {order.symbol!r}, but this broker trades"
                f" only {self.symbol!r}"
            )
        existing = self.order(order.client_order_id)
        if existing is not None:
            return _duplicate(existing)
        request = MarketOrderRequest(
            symbol=order.symbol,
            qty=abs(order.quantity),
            side=OrderSide.BUY if order.quantity > 0 else OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=order.client_order_id,
        )
        try:
            placed = _parsed(self._client.submit_order(request), Order)
        except APIError as exc:
            if exc.status_code == _HTTP_UNPROCESSABLE:
                raced = self.order(order.client_order_id)
                if raced is not None:
                    return _duplicate(raced)
            raise BrokerError(
                f"Alpaca refused order {order.client_order_id}: {_api_message(exc)}"
            ) from None
        except RequestException as exc:
            return self._after_lost_answer(order.client_order_id, exc)
        return _ack(placed)

    def _after_lost_answer(self, client_order_id: str, lost: RequestException) -> OrderAck:
        """The order Alpaca placed although its answer was lost (a dropped connection), asked
        for on a new connection by its client id; a BrokerError if it is not there, which makes
        the run stop with the bar rolled back, to send the same id again when resumed."""
        try:
            placed = self._find(client_order_id)
        except BrokerError:
            placed = None
        if placed is None:
            raise BrokerError(
                f"could not reach {self._endpoint} to send order {client_order_id}"
                f" ({type(lost).__name__}); it may have been placed: sending it again with the"
                " same client id is safe"
            ) from None
        return _ack(placed)

    def order(self, client_order_id: str) -> OrderAck | None:
        placed = self._find(client_order_id)
        return None if placed is None else _ack(placed)

    def fills(self, client_order_id: str) -> tuple[BrokerFill, ...]:
        """One fill per done order with shares filled (see the module docstring)."""
        placed = self._find(client_order_id)
        if placed is None:
            return ()
        filled = float(placed.filled_qty or 0.0)
        if filled == 0.0 or _ack(placed).status not in _DONE:
            return ()
        if self._bar is None:
            raise BrokerError("no bar has opened yet: call on_bar_open before asking for fills")
        sign = 1.0 if placed.side == OrderSide.BUY else -1.0
        return (
            BrokerFill(
                fill_id=f"{placed.id}-fill",
                client_order_id=client_order_id,
                bar_index=self._bar,
                shares=sign * filled,
                price=float(placed.filled_avg_price or 0.0),
                commission=0.0,
            ),
        )

    def positions(self) -> dict[str, float]:
        answer = self._call("read positions", self._client.get_all_positions)
        held = [_parsed(position, Position) for position in answer]
        # Signed from the side, whichever sign Alpaca gives a short's quantity.
        return {
            position.symbol: abs(float(position.qty))
            * (-1.0 if position.side == PositionSide.SHORT else 1.0)
            for position in held
            if float(position.qty) != 0.0
        }

    def cash(self) -> float:
        account = _parsed(self._call("read the account", self._client.get_account), TradeAccount)
        return float(account.cash or 0.0)

    @checked_args(BrokerError)
    def on_bar_open(self, bar_index: NonNegativeInt, open_price: float) -> None:
        """Alpaca's market fills orders by itself; the bar only stamps the fills reported next."""
        self._bar = bar_index

    def _find(self, client_order_id: str) -> Order | None:
        try:
            return _parsed(self._client.get_order_by_client_id(client_order_id), Order)
        except APIError as exc:
            if exc.status_code == _HTTP_NOT_FOUND:
                return None
            raise BrokerError(
                f"Alpaca could not look up order {client_order_id}: {_api_message(exc)}"
            ) from None
        except RequestException as exc:
            raise BrokerError(
                f"could not reach {self._endpoint} to look up order {client_order_id}"
                f" ({type(exc).__name__})"
            ) from None

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except APIError as exc:
            raise BrokerError(f"Alpaca could not {what}: {_api_message(exc)}") from None
        except RequestException as exc:
            raise BrokerError(
                f"could not reach {self._endpoint} to {what} ({type(exc).__name__})"
            ) from None


def _parsed(answer: object, model: type[M]) -> M:
    """`answer` as alpaca-py's `model`: it returns raw dicts only to a client made with
    raw_data=True, which this adapter never makes."""
    if not isinstance(answer, model):
        raise BrokerError(f"Alpaca answered {type(answer).__name__}, not {model.__name__}")
    return answer


def alpaca_keys(environ: Mapping[str, str]) -> tuple[str, str]:
    """The key id and secret of an Alpaca paper-trading account, from `ALPACA_API_KEY` and
    `ALPACA_SECRET_KEY` in `environ`; a BrokerError naming those missing (never a value)."""
    missing = [name for name in (API_KEY_VARIABLE, SECRET_KEY_VARIABLE) if not environ.get(name)]
    if missing:
        raise BrokerError(
            f"Alpaca needs {' and '.join(missing)} in the environment: the keys of an Alpaca"
            " paper-trading account"
        )
    return environ[API_KEY_VARIABLE], environ[SECRET_KEY_VARIABLE]


def _ack(placed: Order) -> OrderAck:
    status = _STATUS.get(placed.status, OrderStatus.ACCEPTED)
    sign = 1.0 if placed.side == OrderSide.BUY else -1.0
    return OrderAck(
        client_order_id=placed.client_order_id,
        broker_order_id=str(placed.id),
        symbol=placed.symbol or "",
        quantity=sign * float(placed.qty or 0.0),
        status=status,
        reason=f"alpaca status {placed.status.value}" if status is OrderStatus.REJECTED else None,
    )


def _duplicate(ack: OrderAck) -> OrderAck:
    return replace(ack, duplicate=True)


def _api_message(exc: APIError) -> str:
    """Alpaca's own error message (never the request, whose headers hold the keys)."""
    try:
        return f"HTTP {exc.status_code}: {exc.message}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.status_code}"
