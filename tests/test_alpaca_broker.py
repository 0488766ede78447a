"""The Alpaca adapter through alpaca-py's real HTTP client, against a fake Alpaca on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.execution.alpaca_broker import AlpacaBroker
from orchestrator.execution.broker import (
    BrokerError,
    OrderRequest,
    OrderStatus,
    client_order_id,
    resubmit_pending,
)
from tests.alpaca_fake_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.journal_helpers import unrecorded_fills


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    with FakeAlpaca(cash=10_000.0) as server:
        yield server


@pytest.fixture
def broker(alpaca: FakeAlpaca) -> AlpacaBroker:
    return AlpacaBroker.connect(API_KEY, SECRET_KEY, symbol="SPY", url_override=alpaca.base_url)


def order(quantity: float, bar_index: int = 0) -> OrderRequest:
    cid = client_order_id("run-1", bar_index, "rebalance")
    return OrderRequest(
        client_order_id=cid,
        symbol="SPY",
        quantity=quantity,
        decision_bar=bar_index,
        intent="rebalance",
    )


def test_an_order_is_sent_filled_at_the_open_and_reported_once(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    buy = order(10.0)
    ack = broker.submit(buy)
    assert (ack.status, ack.quantity, ack.duplicate) == (OrderStatus.ACCEPTED, 10.0, False)
    broker.on_bar_open(1, 100.0)
    assert broker.fills(buy.client_order_id) == ()  # still working
    alpaca.open_market(100.5)
    (fill,) = broker.fills(buy.client_order_id)
    assert (fill.bar_index, fill.shares, fill.price, fill.commission) == (1, 10.0, 100.5, 0.0)
    assert fill.fill_id == f"{ack.broker_order_id}-fill"
    assert broker.order(buy.client_order_id).status is OrderStatus.FILLED
    assert broker.positions() == {"SPY": 10.0}
    assert broker.cash() == pytest.approx(10_000.0 - 1_005.0)
    assert unrecorded_fills(broker, [buy.client_order_id], {fill.fill_id}) == ()


def test_a_sell_is_a_short_position_with_a_negative_quantity(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    ack = broker.submit(order(-3.0))
    assert ack.quantity == -3.0
    broker.on_bar_open(1, 50.0)
    alpaca.open_market(50.0)
    assert broker.fills(ack.client_order_id)[0].shares == -3.0
    assert broker.positions() == {"SPY": -3.0}


def test_resubmitting_a_client_id_returns_the_existing_order(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    first = broker.submit(order(10.0))
    (again,) = resubmit_pending(broker, [order(25.0)])  # a re-decision after a crash
    assert again.duplicate and again.broker_order_id == first.broker_order_id
    assert again.quantity == 10.0 and len(alpaca.orders) == 1 and alpaca.posts == 1


def test_a_dropped_connection_mid_order_is_recovered_without_a_second_order(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    alpaca.drop_after_accept = True  # Alpaca placed the order, the answer never arrived
    ack = broker.submit(order(5.0))  # asked for again on a new connection, by its client id
    assert (ack.status, ack.quantity, ack.duplicate) == (OrderStatus.ACCEPTED, 5.0, False)
    assert alpaca.posts == 1 and len(alpaca.orders) == 1
    again = broker.submit(order(5.0))  # and a resume after a crash finds it too
    assert again.duplicate and again.broker_order_id == ack.broker_order_id and alpaca.posts == 1


def test_an_order_lost_before_alpaca_got_it_is_safe_to_resend(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    alpaca.drop_before_accept = True
    with pytest.raises(BrokerError, match="sending it again with the same client id is safe"):
        broker.submit(order(5.0))
    assert not broker.submit(order(5.0)).duplicate
    assert alpaca.posts == 2 and len(alpaca.orders) == 1


def test_a_partial_fill_is_reported_once_the_order_is_done(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    buy = order(10.0)
    broker.submit(buy)
    broker.on_bar_open(1, 100.0)
    alpaca.open_market(100.0, fraction=0.4)
    assert broker.order(buy.client_order_id).status is OrderStatus.PARTIALLY_FILLED
    assert broker.fills(buy.client_order_id) == ()  # still working: the rest may fill
    alpaca.open_market(102.0, fraction=0.5)
    alpaca.close_market()  # the DAY order expires with 7 of 10 shares filled
    broker.on_bar_open(2, 101.0)
    assert broker.order(buy.client_order_id).status is OrderStatus.CANCELED
    (fill,) = broker.fills(buy.client_order_id)
    assert (fill.bar_index, fill.shares) == (2, pytest.approx(7.0))
    assert fill.price == pytest.approx((4 * 100.0 + 3 * 102.0) / 7)


def test_an_order_alpaca_accepts_then_rejects(alpaca: FakeAlpaca, broker: AlpacaBroker) -> None:
    alpaca.reject_next = True
    ack = broker.submit(order(1.0))
    assert ack.status is OrderStatus.REJECTED and ack.reason == "alpaca status rejected"
    assert broker.fills(ack.client_order_id) == ()


def test_keys_come_from_the_environment_and_are_named_not_shown_when_missing(
    alpaca: FakeAlpaca,
) -> None:
    environ = {
        "ALPACA_API_KEY": API_KEY,
        "ALPACA_SECRET_KEY": SECRET_KEY,
        "ALPACA_BASE_URL": alpaca.base_url,
    }
    assert AlpacaBroker.from_environment("SPY", environ).cash() == 10_000.0
    with pytest.raises(
        BrokerError, match="Alpaca needs ALPACA_SECRET_KEY in the environment"
    ) as caught:
        AlpacaBroker.from_environment("SPY", {"ALPACA_API_KEY": API_KEY})
    assert API_KEY not in str(caught.value)


def test_the_unique_id_race_returns_the_existing_order(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    broker.submit(order(5.0))
    alpaca.hide_next_lookup = True  # the lookup misses it, so the POST gets Alpaca's 422
    ack = broker.submit(order(5.0))
    assert ack.duplicate and alpaca.posts == 2 and len(alpaca.orders) == 1


def test_a_refused_order_is_a_broker_error_with_alpacas_reason(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    alpaca.refuse_next = (403, "insufficient buying power")
    with pytest.raises(BrokerError, match="HTTP 403: insufficient buying power"):
        broker.submit(order(1_000.0))
    assert broker.order(order(1_000.0).client_order_id) is None


def test_bad_keys_fail_clearly_and_never_show_the_secret(alpaca: FakeAlpaca) -> None:
    wrong = AlpacaBroker.connect(
        API_KEY, "wrong-secret", symbol="SPY", url_override=alpaca.base_url
    )
    with pytest.raises(BrokerError, match="HTTP 401") as caught:
        wrong.cash()
    assert "wrong-secret" not in str(caught.value) and "wrong-secret" not in repr(wrong)
    with pytest.raises(BrokerError, match="empty"):
        AlpacaBroker.connect(API_KEY, "", symbol="SPY")


def test_an_unreachable_endpoint_is_a_broker_error(alpaca: FakeAlpaca) -> None:
    url = alpaca.base_url
    alpaca.__exit__(None, None, None)  # the server is gone
    gone = AlpacaBroker.connect(API_KEY, SECRET_KEY, symbol="SPY", url_override=url)
    with pytest.raises(BrokerError, match="could not reach"):
        gone.positions()


def test_orders_for_another_symbol_are_refused(broker: AlpacaBroker) -> None:
    with pytest.raises(BrokerError, match="trades only 'SPY'"):
        broker.submit(
            OrderRequest(
                client_order_id="x", symbol="QQQ", quantity=1.0, decision_bar=0, intent="rebalance"
            )
        )
