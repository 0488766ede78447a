"""No sequence of proposals and prices can make the risk manager breach a limit (hypothesis).

Each example draws limits, a price path (log returns up to +-20 % a bar; several bars a day or
one) and a proposed target per bar. Every proposal goes through `RiskManager.check`, and orders
fill with the env's default costs at the decision price or after a gap of up to +-10 % (as at the
next open). After every step the invariants are asserted against figures recomputed here from the
marked account.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from envs import CostModel
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.execution.risk import CheckStatus, RiskLimits, RiskManager

COSTS = CostModel()
TOLERANCE = 1e-9

limits_strategy = st.builds(
    RiskLimits,
    max_position_fraction=st.floats(0.1, 1.0),
    max_order_notional=st.one_of(st.just(math.inf), st.floats(1_000.0, 200_000.0)),
    max_daily_loss=st.floats(0.005, 0.2),
    flatten_on_daily_loss=st.booleans(),
    max_drawdown=st.floats(0.02, 0.5),
    kill_switch_cooldown_bars=st.one_of(st.none(), st.integers(1, 8)),
    max_trades_per_day=st.integers(1, 4),
    stop_loss=st.one_of(st.just(math.inf), st.floats(0.02, 0.3)),
    stop_loss_cooldown_bars=st.integers(0, 6),
    max_position_drift=st.floats(0.0, 0.1),
)
# A bar: log return into it, does it start a new day?, proposed target, log gap to the fill price.
Bar = tuple[float, bool, float, float]


def _bars(low_return: float, high_return: float, low_target: float) -> st.SearchStrategy[list[Bar]]:
    bar = st.tuples(
        st.floats(low_return, high_return),
        st.sampled_from([False, False, False, True]),
        st.floats(low_target, 1.5),
        st.one_of(st.just(0.0), st.floats(-0.1, 0.1)),
    )
    return st.lists(bar, min_size=1, max_size=60)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(limits=limits_strategy, bars=_bars(-0.2, 0.2, low_target=-1.5))
def test_no_sequence_breaches_a_limit(limits: RiskLimits, bars: list[Bar]) -> None:
    _assert_limits_hold(limits, bars)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(limits=limits_strategy, bars=_bars(-0.2, 0.05, low_target=0.0))
def test_no_crash_breaches_a_limit(limits: RiskLimits, bars: list[Bar]) -> None:
    """Long positions in falling markets, no stop-loss: kill switch and daily loss trip often."""
    _assert_limits_hold(limits.copy_with(stop_loss=math.inf), bars)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    limits=limits_strategy,
    overshoot=st.floats(0.0, 0.05),
    gap_up=st.floats(0.0, 0.1),
    bars=_bars(-0.2, 0.2, -1.5),
)
def test_the_kill_switch_latches_whatever_follows(
    limits: RiskLimits, overshoot: float, gap_up: float, bars: list[Bar]
) -> None:
    """A flattening fill that gaps up can lift equity back above the limit: stay flat anyway.

    The account starts fully long just past the drawdown limit.
    """
    price = 100.0 * (1.0 - limits.max_drawdown - overshoot)
    _assert_limits_hold(limits, [(0.0, False, 1.0, gap_up), *bars], start_price=price)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(limits=limits_strategy, overshoot=st.floats(0.0, 0.05), bars=_bars(-0.05, 0.2, -1.5))
def test_the_daily_loss_latches_for_the_day(
    limits: RiskLimits, overshoot: float, bars: list[Bar]
) -> None:
    """Start fully long just past the daily-loss limit, then mostly rising prices the same day."""
    limits = limits.copy_with(max_drawdown=1.0, stop_loss=math.inf)
    price = 100.0 * (1.0 - limits.max_daily_loss - overshoot)
    _assert_limits_hold(limits, [(0.0, False, 1.0, 0.0), *bars], start_price=price)


def _assert_limits_hold(limits: RiskLimits, bars: list[Bar], start_price: float = 100.0) -> None:
    """Run `bars` from 100,000 in cash, or from 1,000 shares bought at 100 if start_price != 100."""
    manager = RiskManager(limits, COSTS)
    day = dt.date(2020, 1, 1)
    state = PortfolioState.opening(100_000.0)
    if start_price != 100.0:
        state = state.marked(100.0, day).filled(1000.0, 100.0, CostModel(0.0, 0.0))
    price = start_price
    discretionary_fills: Counter[dt.date] = Counter()
    halted, halt_left = False, None  # the kill switch as the limits define it
    loss_days: set[dt.date] = set()
    latch_side, latch_bars = 0, 0  # the stop-loss latch as the limits define it
    for log_return, new_day, proposal, fill_gap in bars:
        price *= math.exp(log_return)
        day += dt.timedelta(days=int(new_day))
        marked = state.marked(price, day)
        equity = marked.equity(price)
        check = manager.check(proposal, state, price, day)
        target, current = check.approved_position, check.current_position

        # Position limit, at the decision price: no order goes past it; a position the price
        # pushed past it is held (no order) up to max_position_drift beyond it, trimmed beyond.
        if check.order_shares:
            assert abs(target) <= limits.max_position_fraction + TOLERANCE
        else:  # a trim smaller than the minimum order is not sent
            drift = limits.max_position_drift + limits.min_order_notional / equity
            assert abs(target) <= limits.max_position_fraction + drift + TOLERANCE
        # After a stop-loss exit, nothing is added on the side it closed until the proposal goes
        # flat or flips, or stop_loss_cooldown_bars checks have passed.
        if latch_side:
            latch_bars -= 1
            if latch_bars == 0 or proposal * latch_side <= 0.0:
                latch_side, latch_bars = 0, 0
            else:
                assert target * latch_side <= max(0.0, current * latch_side) + TOLERANCE
        # Order notional and trade count bind every order that is not a forced exit or trim.
        if check.order_shares and check.status is not CheckStatus.FORCED:
            assert check.order_notional <= limits.max_order_notional * (1 + TOLERANCE)
            discretionary_fills[day] += 1
            assert discretionary_fills[day] <= limits.max_trades_per_day
        # (Limits are checked up to float rounding at the exact boundary.)
        # The drawdown kill switch trips when it must, flattens, and holds the account flat for
        # kill_switch_cooldown_bars checks (for good with None, or once no equity is left); at
        # the last of them trading resumes, the drawdown measured from the equity then.
        released = False
        if halted:
            assert marked.shares == 0.0
            if halt_left is not None:
                halt_left -= 1
            if halt_left is None or halt_left > 0 or equity <= 0.0:
                assert check.portfolio.halted
            else:
                halted, released = False, True
                assert check.portfolio.peak_equity == equity
        if not released and equity < (1 - limits.max_drawdown) * marked.peak_equity * (
            1 - TOLERANCE
        ):
            assert check.portfolio.halted
        if check.portfolio.halted:
            assert target == 0.0
        # After a daily-loss breach (now or earlier today) risk can only shrink, or go to flat.
        if equity < (1 - limits.max_daily_loss) * marked.start_of_day_equity * (1 - TOLERANCE):
            assert check.portfolio.daily_loss_breached
        if day in loss_days:
            assert check.portfolio.daily_loss_breached
        if check.portfolio.daily_loss_breached:
            loss_days.add(day)
            assert min(0.0, current) - TOLERANCE <= target <= max(0.0, current) + TOLERANCE
            if limits.flatten_on_daily_loss:
                assert target == 0.0
        # The stop-loss closes the position.
        if marked.entry_price is not None:
            adverse = (marked.entry_price - price) / marked.entry_price
            if marked.shares < 0:
                adverse = -adverse
            if adverse >= limits.stop_loss:
                assert target == 0.0
                assert check.status is CheckStatus.FORCED
                latch_bars = limits.stop_loss_cooldown_bars
                latch_side = int(math.copysign(1.0, marked.shares)) if latch_bars else 0
        # Whatever the manager changes, it says why.
        if abs(target - proposal) > TOLERANCE and abs(proposal - current) > TOLERANCE:
            assert check.reasons
        # Fill with the env's costs at the decision price, or after a gap (as at the next open).
        if check.order_shares:
            state = check.portfolio.filled(check.order_shares, price * math.exp(fill_gap), COSTS)
        else:
            state = check.portfolio
        if check.portfolio.halted:
            assert state.shares == 0.0
            if not halted:
                halted, halt_left = True, limits.kill_switch_cooldown_bars
        if target == 0.0:
            assert state.shares == 0.0
        # Filled at the decision price, the position is exactly the approved one.
        if fill_gap == 0.0 and state.equity(price) > 0.0:
            assert math.isclose(state.position_fraction(price), target, abs_tol=TOLERANCE)
