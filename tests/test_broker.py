"""Client order ids, the paper broker's fills and costs, idempotent submits and resume."""

from __future__ import annotations

import pytest

from envs import CostModel
from orchestrator.execution.broker import (
    BrokerError,
    OrderRequest,
    OrderStatus,
    client_order_id,
    resubmit_pending,
)
from orchestrator.execution.paper_broker import PaperBroker

COSTS = CostModel(commission_bps=1.0, slippage_bps=2.0)  # k = 0.0001, s = 0.0002


def order(quantity: float, decision_bar: int, intent: str = "rebalance") -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id("run-1", decision_bar, intent),
        symbol="ASSET",
        quantity=quantity,
        decision_bar=decision_bar,
        intent=intent,
    )


def test_client_order_ids_are_deterministic_and_distinct_per_run_bar_and_intent() -> None:
    first = client_order_id("run-1", 7, "rebalance")
    assert first == client_order_id("run-1", 7, "rebalance")
    assert first.startswith("ht-") and first.endswith("-7-rebalance")
    others = {
        client_order_id("run-2", 7, "rebalance"),
        client_order_id("run-1", 8, "rebalance"),
        client_order_id("run-1", 7, "stop_loss"),
    }
    assert first not in others and len(others) == 3
    assert "run-1" not in first  # the run id itself is hashed, not sent to the broker


@pytest.mark.parametrize(
    ("run_id", "bar_index", "intent"),
    [
        ("", 1, "x"),
        ("r", -1, "x"),
        ("r", True, "x"),
        ("r", 1, "Buy"),
        ("r", 1, "a-b"),
        ("r", 1, ""),
    ],
)
def test_bad_client_order_id_parts_are_refused(run_id: str, bar_index: int, intent: str) -> None:
    with pytest.raises(BrokerError):
        client_order_id(run_id, bar_index, intent)


@pytest.mark.parametrize("quantity", [0.0, float("nan"), float("inf"), True])
def test_orders_need_a_finite_non_zero_quantity(quantity: float) -> None:
    with pytest.raises(BrokerError, match="quantity"):
        OrderRequest(
            client_order_id="id", symbol="ASSET", quantity=quantity, decision_bar=0, intent="r"
        )


def test_a_buy_fills_at_the_next_open_with_the_env_costs_by_hand() -> None:
    broker = PaperBroker(10_000.0, cost_model=COSTS)
    broker.on_bar_open(0, 99.0)
    ack = broker.submit(order(10.0, 0))
    assert (ack.status, ack.duplicate, ack.quantity) == (OrderStatus.ACCEPTED, False, 10.0)
    assert broker.fills(ack.client_order_id) == ()  # nothing fills before the next open
    broker.on_bar_open(1, 100.0)
    (fill,) = broker.fills(ack.client_order_id)
    # fill price 100 * 1.0002; slippage 1000 * 0.0002; commission 1000.2 * 0.0001
    assert fill.bar_index == 1 and fill.shares == 10.0
    assert fill.price == pytest.approx(100.02, abs=1e-12)
    assert fill.slippage_cost == pytest.approx(0.2, abs=1e-12)
    assert fill.commission == pytest.approx(0.10002, abs=1e-12)
    assert fill.reference_price == 100.0
    assert broker.cash() == pytest.approx(10_000.0 - 1_000.0 - 0.2 - 0.10002, abs=1e-9)
    assert broker.positions() == {"ASSET": 10.0}
    assert broker.order(ack.client_order_id).status is OrderStatus.FILLED


def test_a_sell_receives_the_price_less_slippage_and_commission_by_hand() -> None:
    broker = PaperBroker(0.0, shares=10.0, cost_model=COSTS)
    ack = broker.submit(order(-10.0, 4))
    broker.on_bar_open(5, 110.0)
    (fill,) = broker.fills(ack.client_order_id)
    # fill price 110 * 0.9998 = 109.978; notional 1099.78; commission 0.109978; slippage 0.22
    assert fill.price == pytest.approx(109.978, abs=1e-12)
    assert fill.commission == pytest.approx(0.109978, abs=1e-12)
    assert broker.cash() == pytest.approx(1_100.0 - 0.22 - 0.109978, abs=1e-9)
    assert broker.positions() == {}


def test_an_order_never_fills_at_the_open_of_its_own_decision_bar() -> None:
    broker = PaperBroker(10_000.0, cost_model=COSTS)
    ack = broker.submit(order(5.0, 3))
    broker.on_bar_open(3, 100.0)  # a fresh broker told about bar 3's open after the order
    assert broker.fills(ack.client_order_id) == ()
    broker.on_bar_open(4, 101.0)
    assert broker.fills(ack.client_order_id)[0].reference_price == 101.0


def test_submitting_the_same_client_id_twice_creates_one_order_and_one_fill() -> None:
    broker = PaperBroker(10_000.0, cost_model=COSTS)
    first = broker.submit(order(10.0, 0))
    again = broker.submit(order(10.0, 0))
    conflicting = broker.submit(order(99.0, 0))  # a re-decision after a crash asks for another size
    assert again.duplicate and conflicting.duplicate and not first.duplicate
    assert again.broker_order_id == conflicting.broker_order_id == first.broker_order_id
    assert conflicting.quantity == 10.0  # the original order stands
    broker.on_bar_open(1, 100.0)
    assert len(broker.fills(first.client_order_id)) == 1
    assert broker.positions() == {"ASSET": 10.0}
    after_fill = broker.submit(order(10.0, 0))
    assert after_fill.duplicate and after_fill.status is OrderStatus.FILLED
    broker.on_bar_open(2, 100.0)
    assert broker.positions() == {"ASSET": 10.0}


def test_a_late_order_a_wrong_symbol_and_bars_going_back_are_refused() -> None:
    broker = PaperBroker(10_000.0, cost_model=COSTS)
    broker.on_bar_open(5, 100.0)
    with pytest.raises(BrokerError, match="fill late"):
        broker.submit(order(1.0, 4))
    with pytest.raises(BrokerError, match="trades only 'ASSET'"):
        broker.submit(
            OrderRequest(
                client_order_id="x", symbol="SPY", quantity=1.0, decision_bar=5, intent="r"
            )
        )
    with pytest.raises(BrokerError, match="bars must advance"):
        broker.on_bar_open(5, 100.0)
    with pytest.raises(BrokerError, match="open_price"):
        broker.on_bar_open(6, 0.0)


def test_an_order_decided_ahead_waits_for_its_bar_and_every_order_fills_once() -> None:
    broker = PaperBroker(10_000.0, cost_model=COSTS)
    broker.on_bar_open(0, 100.0)
    now, ahead = broker.submit(order(10.0, 0)), broker.submit(order(-3.0, 2))
    broker.on_bar_open(1, 100.0)
    assert broker.fills(now.client_order_id)[0].bar_index == 1
    assert broker.fills(ahead.client_order_id) == ()
    broker.on_bar_open(2, 101.0)  # its own decision bar: still waiting
    assert broker.fills(ahead.client_order_id) == ()
    broker.on_bar_open(3, 102.0)
    (fill,) = broker.fills(ahead.client_order_id)
    assert (fill.bar_index, fill.reference_price) == (3, 102.0)
    cash = broker.cash()
    for bar_index in range(4, 40):
        broker.on_bar_open(bar_index, 100.0 + bar_index)
    assert broker.cash() == cash and broker.positions() == {"ASSET": 7.0}
    assert [len(broker.fills(ack.client_order_id)) for ack in (now, ahead)] == [1, 1]
    assert broker.order(ahead.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_unknown_orders_have_no_ack_and_no_fills() -> None:
    broker = PaperBroker(1.0)
    assert broker.order("nope") is None and broker.fills("nope") == ()


def test_a_broker_rebuilt_from_the_journal_fills_exactly_as_the_uninterrupted_one() -> None:
    """Crash after the order was journaled, before its fill was: resubmit on a fresh broker."""
    pending = (order(10.0, 0), order(-4.0, 0, intent="hedge"))
    uninterrupted = PaperBroker(10_000.0, cost_model=COSTS)
    resubmit_pending(uninterrupted, pending)
    uninterrupted.on_bar_open(1, 100.0)

    rebuilt = PaperBroker(10_000.0, cost_model=COSTS)  # cash and shares as the journal saved
    acks = resubmit_pending(rebuilt, pending)
    assert [ack.duplicate for ack in acks] == [False, False]
    rebuilt.on_bar_open(1, 100.0)
    for client_id in (o.client_order_id for o in pending):
        assert rebuilt.fills(client_id) == uninterrupted.fills(client_id)
    assert rebuilt.cash() == uninterrupted.cash()
    assert rebuilt.positions() == uninterrupted.positions() == {"ASSET": 6.0}
