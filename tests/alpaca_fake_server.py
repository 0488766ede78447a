"""A local stand-in for Alpaca's trading API (the few endpoints the adapter uses), for tests.

It listens on 127.0.0.1 on a free port, serves the bars given to `add_bar` as the market-data
API does, and keeps one account: orders by client order id (a
second POST with a known id gets Alpaca's 422), positions and cash. `open_market(price)` fills
every working order at `price` (or a part of each), as the real market would at the open, and
`close_market()` expires what is left, as the close does to DAY orders; with `fill_at` set, an
order fills whole at that price as it is placed. Faults are programmable: refuse the next order
(an HTTP error), accept it and reject it at once (Alpaca's asynchronous rejection), drop the
connection before or after accepting one, or hide an order from the next lookup (to provoke the
422 race). Every request's headers are kept (`headers_seen`), for tests that look for the keys.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlparse

API_KEY, SECRET_KEY = "test-key-id", "test-secret-do-not-leak"
_STAMP = "2024-01-02T14:30:00Z"
_ASSET_ID = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415"


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    qty: float
    side: str
    status: str = "accepted"
    filled_qty: float = 0.0
    filled_avg_price: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "submitted_at": _STAMP,
            "filled_at": _STAMP if self.status == "filled" else None,
            "asset_id": _ASSET_ID,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": None
            if self.filled_avg_price is None
            else str(self.filled_avg_price),
            "order_class": "simple",
            "order_type": "market",
            "type": "market",
            "side": self.side,
            "time_in_force": "day",
            "status": self.status,
            "extended_hours": False,
        }


class FakeAlpaca:
    """The account and its faults; use as a context manager (starts and stops the server)."""

    def __init__(self, cash: float = 10_000.0) -> None:
        self.cash = cash
        self.orders: dict[str, FakeOrder] = {}
        self.shares: dict[str, float] = {}
        self.posts = 0
        self.headers_seen: list[dict[str, str]] = []
        self.bars: dict[str, list[dict[str, Any]]] = {}
        self.refuse_next: tuple[int, str] | None = None
        self.reject_next = False
        self.fill_at: float | None = None
        self.drop_after_accept = False
        self.drop_before_accept = False
        self.hide_next_lookup = False
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def open_market(self, price: float, fraction: float = 1.0) -> None:
        """Fill `fraction` of what is left of every working order at `price` (no commission, as
        Alpaca on US equities); an order filled in part stays working."""
        with self._lock:
            for order in self.orders.values():
                if order.status in ("accepted", "partially_filled"):
                    self._fill(order, price, (order.qty - order.filled_qty) * fraction)

    def close_market(self) -> None:
        """Expire every working order, as the close does to DAY orders."""
        with self._lock:
            for order in self.orders.values():
                if order.status in ("accepted", "partially_filled"):
                    order.status = "expired"

    def _fill(self, order: FakeOrder, price: float, qty: float) -> None:
        signed = qty if order.side == "buy" else -qty
        self.cash -= signed * price
        self.shares[order.symbol] = self.shares.get(order.symbol, 0.0) + signed
        paid = (order.filled_avg_price or 0.0) * order.filled_qty + price * qty
        order.filled_qty += qty
        order.filled_avg_price = paid / order.filled_qty
        order.status = "filled" if order.filled_qty >= order.qty else "partially_filled"

    def __enter__(self) -> FakeAlpaca:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ---- request handling (called from the server's threads) ----

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        """(status, JSON body), or None to drop the connection without answering."""
        with self._lock:
            if method == "POST" and path == "/v2/orders":
                return self._post_order(body)
            if method == "GET" and path == "/v2/orders:by_client_order_id":
                return self._lookup(query.get("client_order_id", [""])[0])
            if method == "GET" and path == "/v2/positions":
                return 200, [self._position(s, q) for s, q in self.shares.items() if q != 0.0]
            if method == "GET" and path == "/v2/stocks/bars":
                return self._bars(query)
            if method == "GET" and path == "/v2/account":
                account = {"id": _ASSET_ID, "account_number": "PA0001", "status": "ACTIVE"}
                return 200, {**account, "cash": str(self.cash)}
            return 404, {"code": 40410000, "message": f"no route {method} {path}"}

    def _post_order(self, body: dict[str, Any]) -> Any:
        self.posts += 1
        if self.refuse_next is not None:
            (status, message), self.refuse_next = self.refuse_next, None
            return status, {"code": 40310000, "message": message}
        if self.drop_before_accept:
            self.drop_before_accept = False
            return None
        client_id = body["client_order_id"]
        if client_id in self.orders:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        order = FakeOrder(
            str(uuid.uuid4()), client_id, body["symbol"], float(body["qty"]), body["side"]
        )
        self.orders[client_id] = order
        if self.reject_next:
            self.reject_next, order.status = False, "rejected"
        elif self.fill_at is not None:
            self._fill(order, self.fill_at, order.qty)
        if self.drop_after_accept:
            self.drop_after_accept = False
            return None
        return 200, order.to_json()

    def add_bar(self, symbol: str, start: str, price: float) -> None:
        """A bar of `symbol` starting at `start` (ISO, UTC) around `price`, for the data API."""
        with self._lock:
            self.bars.setdefault(symbol, []).append(
                {"t": start, "o": price, "h": price * 1.01, "l": price * 0.99, "c": price,
                 "v": 1000.0, "n": 10, "vw": price}
            )  # fmt: skip

    def _bars(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        symbol = query["symbols"][0]
        start = query.get("start", [""])[0]
        bars = [bar for bar in self.bars.get(symbol, []) if bar["t"] >= start]
        return 200, {"bars": {symbol: bars}, "next_page_token": None}

    def _lookup(self, client_id: str) -> tuple[int, Any]:
        if self.hide_next_lookup:
            self.hide_next_lookup = False
            return 404, {"code": 40410000, "message": "order not found"}
        order = self.orders.get(client_id)
        if order is None:
            return 404, {"code": 40410000, "message": "order not found"}
        return 200, order.to_json()

    @staticmethod
    def _position(symbol: str, qty: float) -> dict[str, Any]:
        return {
            "asset_id": _ASSET_ID,
            "symbol": symbol,
            "exchange": "ARCA",
            "asset_class": "us_equity",
            "avg_entry_price": "100.0",
            "qty": str(qty),  # Alpaca gives a short's quantity negative
            "side": "long" if qty > 0 else "short",
            "cost_basis": str(qty * 100.0),
        }


def _handler_for(account: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read the account, not the log."""

        def _serve(self, method: str) -> None:
            authorized = (
                self.headers.get("APCA-API-KEY-ID") == API_KEY
                and self.headers.get("APCA-API-SECRET-KEY") == SECRET_KEY
            )
            account.headers_seen.append(dict(self.headers))
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if not authorized:
                answer = 401, {"code": 40110000, "message": "request is not authorized"}
            else:
                answer = account.handle(method, url.path, parse_qs(url.query), body)
            if answer is None:
                self.close_connection = True
                return
            status, payload = answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
