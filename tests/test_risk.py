"""The risk manager on hand-built accounts: each limit, clip vs reject vs force, the latches."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from envs import CostModel
from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.execution.risk import CheckStatus, RiskLimits, RiskManager

FREE = CostModel(commission_bps=0.0, slippage_bps=0.0)
DAY1, DAY2, DAY3 = dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)
CASH = 100_000.0


def _manager(limits: RiskLimits | None = None) -> RiskManager:
    """A manager without trading costs, so that order sizes are plain arithmetic."""
    return RiskManager(limits, FREE)


def _long(
    shares: float, entry: float, *, peak: float = CASH, start: float = CASH
) -> PortfolioState:
    """An account that bought `shares` at `entry` out of CASH, on DAY1."""
    return PortfolioState(
        cash=CASH - shares * entry,
        peak_equity=peak,
        start_of_day_equity=start,
        shares=shares,
        entry_price=entry,
        day=DAY1,
        last_equity=CASH,
    )


def test_an_order_within_every_limit_is_approved_as_proposed() -> None:
    check = _manager().check(0.5, PortfolioState.opening(CASH), 100.0, DAY1)
    assert check.status is CheckStatus.APPROVED
    assert (check.approved_position, check.order_shares, check.order_notional) == (
        0.5,
        500.0,
        50_000.0,
    )
    assert check.reasons == ()


def test_position_limit_clips() -> None:
    manager = _manager(RiskLimits(max_position_fraction=0.8))
    check = manager.check(1.0, PortfolioState.opening(CASH), 100.0, DAY1)
    assert check.status is CheckStatus.CLIPPED
    assert check.approved_position == 0.8
    assert check.order_shares == pytest.approx(800.0)
    assert "position limit" in check.reasons[0]


def test_order_notional_limit_clips() -> None:
    manager = _manager(RiskLimits(max_order_notional=20_000.0))
    check = manager.check(-0.5, PortfolioState.opening(CASH), 100.0, DAY1)
    assert check.status is CheckStatus.CLIPPED
    assert check.approved_position == pytest.approx(-0.2)
    assert check.order_notional == pytest.approx(20_000.0)
    assert "order notional 50000.00 > max 20000.00" in check.reasons[0]


def test_orders_are_sized_with_costs_to_land_on_the_target_within_the_notional_cap() -> None:
    costs = CostModel(commission_bps=10.0, slippage_bps=20.0)
    manager = RiskManager(RiskLimits(max_order_notional=20_000.0), costs)
    state = PortfolioState.opening(CASH)
    check = manager.check(0.5, state, 100.0, DAY1)
    # The cap binds: width = 20,000 * (1 - 0.002 - 0.001 - 0.000002) / 100,000.
    assert check.approved_position == pytest.approx(0.2 * 0.996998)
    assert check.order_notional <= 20_000.0
    filled = check.portfolio.filled(check.order_shares, 100.0, costs)
    assert filled.position_fraction(100.0) == pytest.approx(check.approved_position, rel=1e-12)
    uncapped = RiskManager(RiskLimits(), costs).check(-0.5, state, 100.0, DAY1)
    short = uncapped.portfolio.filled(uncapped.order_shares, 100.0, costs)
    assert short.position_fraction(100.0) == pytest.approx(-0.5, rel=1e-12)


def test_trade_limit_rejects_even_a_reduction() -> None:
    manager = _manager(RiskLimits(max_trades_per_day=2))
    state = PortfolioState.opening(CASH).marked(100.0, DAY1)
    state = state.filled(100.0, 100.0, FREE).filled(100.0, 100.0, FREE)
    check = manager.check(0.0, state, 100.0, DAY1)
    assert check.status is CheckStatus.REJECTED
    assert check.order_shares == 0.0
    assert check.approved_position == check.current_position == pytest.approx(0.2)
    assert "trade limit: 2 trades today >= max 2" in check.reasons[0]
    assert manager.check(0.0, state, 100.0, DAY2).status is CheckStatus.APPROVED


def test_unchanged_target_is_no_order() -> None:
    state = _long(500.0, 100.0)
    check = _manager().check(0.5, state, 100.0, DAY1)
    assert (check.status, check.order_shares, check.reasons) == (CheckStatus.NO_ORDER, 0.0, ())


class TestDailyLoss:
    """1,000 shares from 100 with start-of-day equity 100,000; at 94 the day is down 6 % > 5 %."""

    state = _long(1000.0, 100.0)
    manager = _manager(RiskLimits(max_daily_loss=0.05))

    def test_no_risk_increase_after_the_breach(self) -> None:
        more = self.manager.check(1.0, _long(500.0, 100.0, start=CASH + 3_000.0), 94.0, DAY1)
        # equity 97,000 vs 103,000 at the start of the day: -5.8 %.
        assert more.status is CheckStatus.REJECTED
        assert more.approved_position == more.current_position
        assert any(reason.startswith("daily loss: 5.83%") for reason in more.reasons)

    def test_reductions_pass_and_flips_stop_at_flat(self) -> None:
        reduce = self.manager.check(0.5, self.state, 94.0, DAY1)
        assert (reduce.status, reduce.approved_position) == (CheckStatus.APPROVED, 0.5)
        flip = self.manager.check(-0.5, self.state, 94.0, DAY1)
        assert (flip.status, flip.approved_position) == (CheckStatus.CLIPPED, 0.0)
        assert flip.order_shares == -1000.0

    def test_the_breach_is_latched_for_the_day_and_cleared_the_next(self) -> None:
        first = self.manager.check(0.5, self.state, 94.0, DAY1)
        assert first.portfolio.daily_loss_breached
        after = first.portfolio.filled(first.order_shares, 94.0, FREE)
        # Price recovers the same day: the day is no longer down 5 %, but the latch holds.
        again = self.manager.check(1.0, after, 99.0, DAY1)
        assert again.status is CheckStatus.REJECTED
        assert "breached earlier today" in again.reasons[0]
        tomorrow = self.manager.check(1.0, again.portfolio, 99.0, DAY2)
        assert tomorrow.status is CheckStatus.APPROVED

    def test_flatten_on_breach(self) -> None:
        manager = _manager(RiskLimits(max_daily_loss=0.05, flatten_on_daily_loss=True))
        check = manager.check(1.0, self.state, 94.0, DAY1)
        assert (check.status, check.approved_position, check.order_shares) == (
            CheckStatus.FORCED,
            0.0,
            -1000.0,
        )


def test_kill_switch_flattens_and_stays_flat_for_good_without_a_cooldown() -> None:
    manager = _manager(
        RiskLimits(
            max_drawdown=0.25,
            kill_switch_cooldown_bars=None,
            max_daily_loss=1.0,
            stop_loss=math.inf,
        )
    )
    state = _long(1000.0, 100.0, peak=140_000.0)  # equity 100,000: 28.6 % below the peak
    check = manager.check(1.0, state, 100.0, DAY1)
    assert (check.status, check.order_shares) == (CheckStatus.FORCED, -1000.0)
    assert (check.portfolio.halted, check.portfolio.halt_bars) == (True, 0)
    assert check.reasons[0].startswith("kill switch: drawdown 28.57%")
    assert check.reasons[0].endswith("stop trading for good")
    flat = check.portfolio.filled(check.order_shares, 100.0, FREE)
    for day in range(100):
        later = manager.check(1.0, flat, 150.0, DAY2 + dt.timedelta(days=day))
        assert (later.status, later.order_shares) == (CheckStatus.REJECTED, 0.0)
        assert "halted for good by an earlier drawdown breach" in later.reasons[0]
        flat = later.portfolio


def test_kill_switch_holds_the_account_flat_for_its_cooldown_then_measures_from_there() -> None:
    manager = _manager(
        RiskLimits(
            max_drawdown=0.25, kill_switch_cooldown_bars=3, max_daily_loss=1.0, stop_loss=math.inf
        )
    )
    state = _long(1000.0, 100.0, peak=140_000.0)  # equity 100,000: 28.6 % below the peak
    check = manager.check(1.0, state, 100.0, DAY1)
    assert (check.status, check.portfolio.halted, check.portfolio.halt_bars) == (
        CheckStatus.FORCED,
        True,
        3,
    )
    assert check.reasons[0].endswith("stop trading for 3 bar(s)")
    flat = check.portfolio.filled(check.order_shares, 100.0, FREE)  # 100,000 in cash
    for left, day in ((2, DAY2), (1, DAY3)):
        later = manager.check(1.0, flat, 120.0, day)
        assert (later.status, later.order_shares, later.portfolio.halt_bars) == (
            CheckStatus.REJECTED,
            0.0,
            left,
        )
        assert f"flat for {left} more bar(s)" in later.reasons[0]
        flat = later.portfolio
    # The third bar after the breach trades again, its drawdown measured from 100,000, not 140,000.
    resumed = manager.check(1.0, flat, 120.0, DAY3 + dt.timedelta(days=1))
    assert (resumed.status, resumed.approved_position) == (CheckStatus.APPROVED, 1.0)
    assert (resumed.portfolio.halted, resumed.portfolio.halt_bars) == (False, 0)
    assert resumed.portfolio.peak_equity == CASH


def test_kill_switch_stays_tripped_when_the_flattening_fill_gaps_back_above_the_limit() -> None:
    manager = _manager(RiskLimits(max_drawdown=0.25, max_daily_loss=1.0, stop_loss=math.inf))
    state = _long(1000.0, 100.0)
    check = manager.check(1.0, state, 74.0, DAY1)  # drawdown 26 %
    assert check.status is CheckStatus.FORCED
    flat = check.portfolio.filled(check.order_shares, 80.0, FREE)  # equity 80,000: 20 % down
    later = manager.check(0.5, flat, 80.0, DAY2)
    assert (later.status, later.order_shares, later.portfolio.halted) == (
        CheckStatus.REJECTED,
        0.0,
        True,
    )


def test_kill_switch_when_equity_is_gone() -> None:
    short = PortfolioState(
        cash=150_000.0,
        peak_equity=CASH,
        start_of_day_equity=CASH,
        shares=-1000.0,
        entry_price=100.0,
        day=DAY1,
        last_equity=CASH,
    )
    check = _manager().check(-1.0, short, 200.0, DAY2)  # equity -50,000
    assert check.current_position == -math.inf
    assert (check.status, check.approved_position, check.order_shares) == (
        CheckStatus.FORCED,
        0.0,
        1000.0,
    )


@pytest.mark.parametrize(("shares", "price"), [(1000.0, 89.9), (-500.0, 110.5)])
def test_stop_loss_closes_the_position(shares: float, price: float) -> None:
    state = _long(shares, 100.0)
    manager = _manager(RiskLimits(stop_loss=0.10, max_daily_loss=1.0, max_drawdown=1.0))
    check = manager.check(float(math.copysign(1.0, shares)), state, price, DAY1)
    assert (check.status, check.approved_position, check.order_shares) == (
        CheckStatus.FORCED,
        0.0,
        -shares,
    )
    assert check.reasons[0].startswith("stop-loss")
    near = manager.check(0.5, state, 100.0 - math.copysign(9.9, shares), DAY1)
    assert near.status is not CheckStatus.FORCED


def test_a_position_pushed_over_the_limit_is_trimmed_past_the_caps() -> None:
    limits = RiskLimits(max_position_fraction=0.5, max_order_notional=1_000.0, max_trades_per_day=1)
    manager = _manager(limits)
    state = PortfolioState.opening(CASH).marked(100.0, DAY1).filled(500.0, 100.0, FREE)
    # At 150: equity 125,000 and the position is 75,000 / 125,000 = 0.6 > 0.5.
    trim = manager.check(0.8, state, 150.0, DAY1)
    assert (trim.status, trim.approved_position) == (CheckStatus.FORCED, 0.5)
    assert trim.order_notional == pytest.approx(12_500.0)
    assert "over the max" in trim.reasons[0]
    # The strategy's own exit passes the caps as a trim would, but it is its decision: no reason
    # of the risk manager's is given (the bar engine labels it the strategy's order).
    exit_ = manager.check(0.0, state, 150.0, DAY1)
    assert (exit_.status, exit_.approved_position, exit_.reasons) == (
        CheckStatus.FORCED,
        0.0,
        (),
    )
    flip = manager.check(-0.5, state, 150.0, DAY1)
    assert flip.approved_position == 0.0


def test_an_order_under_the_minimum_notional_is_not_sent_but_an_exit_always_is() -> None:
    manager = _manager(RiskLimits(min_order_notional=100.0))
    state = _long(500.0, 100.0)  # a position of 0.5 at 100
    tiny = manager.check(0.5005, state, 100.0, DAY1)  # 50 of currency more
    assert (tiny.status, tiny.order_shares, tiny.approved_position) == (
        CheckStatus.REJECTED,
        0.0,
        0.5,
    )
    assert "< min 100.00" in tiny.reasons[0]
    enough = manager.check(0.502, state, 100.0, DAY1)  # 200 more
    assert enough.status is CheckStatus.APPROVED and enough.order_shares == pytest.approx(2.0)
    dust = _long(0.5, 100.0)  # 50 of currency in the asset: flat is still an order
    exit_ = manager.check(0.0, dust, 100.0, DAY1)
    assert (exit_.status, exit_.order_shares) == (CheckStatus.APPROVED, -0.5)
    stopped = manager.check(0.5, _long(0.5, 100.0), 85.0, DAY1)  # the stop-loss at 10 %
    assert (stopped.status, stopped.order_shares) == (CheckStatus.FORCED, -0.5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_position_fraction", 0.0),
        ("min_order_notional", -1.0),
        ("max_order_notional", -1.0),
        ("max_daily_loss", 1.5),
        ("max_drawdown", math.nan),
        ("max_trades_per_day", 0),
        ("max_trades_per_day", 2.5),
        ("stop_loss", 0.0),
        ("flatten_on_daily_loss", 1),
    ],
)
def test_invalid_limits_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"RiskLimits.{field}"):
        RiskLimits(**{field: value})  # type: ignore[arg-type]


def test_invalid_check_inputs_are_refused() -> None:
    manager, state = _manager(), PortfolioState.opening(CASH)
    with pytest.raises(InvalidInputError, match="proposed_position"):
        manager.check(math.nan, state, 100.0, DAY1)
    with pytest.raises(InvalidInputError, match="price"):
        manager.check(0.5, state, -1.0, DAY1)
