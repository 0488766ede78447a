"""Fills: costs charged exactly as envs/trading/execution.py documents, checked against hand
arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CostModel, EnvSetupError, buy_and_hold, execute, market_order, rebalance
from tests.agents_helpers import hand_market

# 10 bp commission and 20 bp slippage: big enough that a mistake shows in the 4th digit.
COSTS = CostModel(commission_bps=10.0, slippage_bps=20.0)
S, K = 0.002, 0.001  # COSTS as fractions


def test_default_costs_are_one_bp_commission_and_two_bp_slippage() -> None:
    costs = CostModel()
    assert (costs.commission_rate, costs.slippage_rate) == (0.0001, 0.0002)


def test_full_buy_from_cash_spends_exactly_the_cash() -> None:
    # Buy q shares at open 100: fill price 100 * 1.002 = 100.2, commission 0.1% of q * 100.2.
    # All 10_000 of cash goes: q * 100.2 * 1.001 = 10_000.
    q = 10_000.0 / (100.2 * 1.001)
    fill = rebalance(10_000.0, 0.0, 1.0, 100.0, COSTS)
    assert fill.shares == pytest.approx(q, rel=1e-12)
    assert fill.slippage_cost == pytest.approx(q * 0.2, rel=1e-12)
    assert fill.commission == pytest.approx(q * 100.2 * 0.001, rel=1e-12)
    assert fill.traded_notional == pytest.approx(q * 100.2, rel=1e-12)
    assert fill.cash == pytest.approx(0.0, abs=1e-9)


def test_sell_half_hits_target_fraction_after_its_own_costs() -> None:
    # Hold 100 shares, no cash, open 110 (equity 11_000); target 50%. Selling x shares fills at
    # 110 * 0.998 = 109.78 and costs 0.22x slippage + 0.10978x commission, so
    # (100 - x) * 110 = 0.5 * (11_000 - 0.22x - 0.10978x)  =>  x = 5500 / (110 - 0.16489).
    x = 5500.0 / (110.0 - 0.5 * (0.22 + 0.10978))
    fill = rebalance(0.0, 100.0, 0.5, 110.0, COSTS)
    assert fill.shares == pytest.approx(100.0 - x, rel=1e-12)
    assert fill.slippage_cost == pytest.approx(0.22 * x, rel=1e-12)
    assert fill.commission == pytest.approx(0.10978 * x, rel=1e-12)
    assert fill.cash == pytest.approx(109.78 * 0.999 * x, rel=1e-12)
    equity_after = fill.cash + fill.shares * 110.0
    assert fill.shares * 110.0 / equity_after == pytest.approx(0.5, rel=1e-12)


def test_short_from_cash_receives_sale_proceeds_net_of_costs() -> None:
    # Target -1 from 10_000 cash at open 100: sell x with 100x = 10_000 - 0.2x - 0.0998x.
    x = 10_000.0 / (100.0 + 0.2 + 0.0998)
    fill = rebalance(10_000.0, 0.0, -1.0, 100.0, COSTS)
    assert fill.shares == pytest.approx(-x, rel=1e-12)
    assert fill.cash == pytest.approx(10_000.0 + 99.8 * 0.999 * x, rel=1e-12)
    assert fill.commission == pytest.approx(0.0998 * x, rel=1e-12)


def test_round_trip_pays_both_fill_prices_and_both_commissions() -> None:
    # Buy with all 1_000 at open 50, sell everything at open 50: the only loss is the costs.
    bought = rebalance(1_000.0, 0.0, 1.0, 50.0, COSTS)
    sold = rebalance(bought.cash, bought.shares, 0.0, 50.0, COSTS)
    assert sold.shares == 0.0
    assert sold.cash == pytest.approx(1_000.0 * (1 - S) * (1 - K) / ((1 + S) * (1 + K)), rel=1e-12)


def test_execute_charges_fill_price_and_commission_on_a_given_quantity() -> None:
    buy = execute(1_000.0, 0.0, 10.0, 50.0, COSTS)
    assert buy.cash == pytest.approx(1_000.0 - 10 * 50.0 * (1 + S) * (1 + K), rel=1e-12)
    assert buy.commission == pytest.approx(10 * 50.0 * (1 + S) * K, rel=1e-12)
    sell = execute(0.0, 10.0, -10.0, 50.0, COSTS)
    assert sell.cash == pytest.approx(10 * 50.0 * (1 - S) * (1 - K), rel=1e-12)
    assert sell.shares == 0.0 and sell.slippage_cost == pytest.approx(10 * 50.0 * S, rel=1e-12)


def test_zero_costs_trade_at_the_open_and_nothing_to_do_costs_nothing() -> None:
    free = CostModel(commission_bps=0.0, slippage_bps=0.0)
    fill = rebalance(1_000.0, 0.0, 1.0, 40.0, free)
    assert (fill.shares, fill.cash, fill.commission, fill.slippage_cost) == (25.0, 0.0, 0.0, 0.0)
    idle = rebalance(1_000.0, 0.0, 0.0, 40.0, COSTS)
    assert (idle.shares, idle.cash, idle.commission, idle.traded_notional) == (0.0, 1_000.0, 0, 0)


def test_any_target_is_reached_exactly_with_costs_inside_equity() -> None:
    rng = np.random.default_rng(7)
    cash = rng.uniform(-5_000.0, 20_000.0, 500)
    shares = rng.uniform(-50.0, 150.0, 500)
    price = rng.uniform(10.0, 200.0, 500)
    target = rng.uniform(-1.0, 1.0, 500)
    keep = cash + shares * price > 100.0  # solvent portfolios only
    cash, shares, price, target = cash[keep], shares[keep], price[keep], target[keep]
    fill = rebalance(cash, shares, target, price, COSTS)
    equity_before = cash + shares * price
    equity_after = fill.cash + fill.shares * price
    np.testing.assert_allclose(fill.shares * price / equity_after, target, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        equity_after, equity_before - fill.commission - fill.slippage_cost, rtol=1e-12
    )


def test_arrays_give_bit_identical_results_to_scalars() -> None:
    rng = np.random.default_rng(3)
    cash, shares = rng.uniform(0, 1e4, 20), rng.uniform(-10, 10, 20)
    target, price = rng.choice([-1.0, 0.0, 0.5, 1.0], 20), rng.uniform(50, 60, 20)
    batch = rebalance(cash, shares, target, price, COSTS)
    for i in range(20):
        one = rebalance(float(cash[i]), float(shares[i]), float(target[i]), float(price[i]), COSTS)
        assert tuple(one) == tuple(field[i] for field in batch)


def test_one_price_serves_a_batch_of_portfolios() -> None:
    cash, shares, target = np.array([500.0, 500.0]), np.array([3.0, 3.0]), np.array([1.0, 0.0])
    fill = rebalance(cash, shares, target, 100.0, COSTS)
    for i in range(2):
        assert fill.shares[i] == rebalance(500.0, 3.0, float(target[i]), 100.0, COSTS).shares
    assert isinstance(fill.traded_notional, np.ndarray)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"commission_bps": -1.0}, "commission_bps"),
        ({"slippage_bps": float("nan")}, "slippage_bps"),
        ({"slippage_bps": True}, "slippage_bps"),
        ({"commission_bps": "1"}, "commission_bps"),
    ],
)
def test_bad_costs_are_refused_by_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(EnvSetupError, match=f"^CostModel.{message} must be in \\[0, 1000\\)"):
        CostModel(**kwargs)  # type: ignore[arg-type]


def test_costs_take_only_their_two_fields() -> None:
    assert CostModel(10.0, 20.0) == CostModel(commission_bps=10.0, slippage_bps=20.0)
    with pytest.raises(EnvSetupError, match=r"^CostModel takes at most 2 arguments$"):
        CostModel(1.0, 2.0, 3.0)  # type: ignore[call-arg]
    with pytest.raises(EnvSetupError, match=r"^CostModel has no field 'commission'$"):
        CostModel(commission=1.0)  # type: ignore[call-arg]


def test_buy_and_hold_orders_at_the_decision_close_and_fills_at_the_next_open() -> None:
    market = hand_market(open_=[10, 11, 12, 12.4, 13, 14], close=[10, 11.5, 12.5, 11, 13.5, 15])
    hold = buy_and_hold(market, 1, 10_000.0, COSTS)
    # Decided at close[1] = 11.5: the cash would buy this many shares there, costs paid ...
    shares = 10_000.0 / (11.5 * (1 + S) * (1 + K))
    assert hold.fill.shares == pytest.approx(shares, rel=1e-12)
    # ... and they fill at open[2] = 12 * (1 + s), commission k on top: the gap up is borrowed.
    assert hold.fill.cash == pytest.approx(10_000.0 - shares * 12.0 * (1 + S) * (1 + K))
    assert hold.fill.cash < 0.0
    equity = hold.fill.cash + shares * np.array([12.5, 11, 13.5, 15])
    np.testing.assert_allclose(hold.equity, [10_000.0, *equity], rtol=1e-12)
    assert hold.final_equity == hold.equity[-1]
    np.testing.assert_allclose(hold.position[1:], shares * np.array([12.5, 11, 13.5, 15]) / equity)
    np.testing.assert_array_equal(hold.held, [1.0, 1.0, 1.0, 1.0])


def test_market_order_is_rebalance_sized_at_the_decision_price_and_filled_at_another() -> None:
    sized = rebalance(10_000.0, 20.0, 0.3, 100.0, COSTS)
    order = market_order(10_000.0, 20.0, 0.3, 100.0, 104.0, COSTS)
    assert order.shares == sized.shares
    assert order.cash == pytest.approx(10_000.0 - (sized.shares - 20.0) * 104.0 * (1 + S) * (1 + K))
    same_price = market_order(10_000.0, 20.0, 0.3, 100.0, 100.0, COSTS)
    assert tuple(same_price) == tuple(sized)


@pytest.mark.parametrize(
    ("decision_bar", "cash", "target", "message"),
    [
        (5, 10_000.0, 1.0, "decision_bar must be in 0..4"),
        (-1, 10_000.0, 1.0, "decision_bar"),
        (0, 0.0, 1.0, "cash must be"),
        (0, float("nan"), 1.0, "cash must be"),
        (0, 10_000.0, 0.0, r"target must be in \(0, 1\]"),
        (0, 10_000.0, 1.5, "target must be"),
    ],
)
def test_buy_and_hold_refuses_what_it_cannot_hold(
    decision_bar: int, cash: float, target: float, message: str
) -> None:
    market = hand_market(open_=[10, 11, 12, 12.4, 13, 14], close=[10, 11.5, 12.5, 11, 13.5, 15])
    with pytest.raises(EnvSetupError, match=message):
        buy_and_hold(market, decision_bar, cash, COSTS, target=target)
