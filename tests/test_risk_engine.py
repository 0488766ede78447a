"""The risk manager through the bar engine: a clipped target held, the stop-loss latch, and trades
counted on the day they fill (daily bars, and intraday-like bars two to a day)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd

from envs import load_market_data
from orchestrator.execution.broker import BrokerFill, OrderAck, OrderRequest
from orchestrator.execution.paper_broker import PaperBroker
from orchestrator.execution.risk import (
    KILL_SWITCH_COOLDOWN_BARS,
    CheckStatus,
    OrderCheck,
    RiskLimits,
    RiskManager,
)
from orchestrator.runs.bar_engine import BarEngine
from orchestrator.runs.engine_state import EngineState
from orchestrator.trader.market import TradingMarket
from tests.engine_helpers import ListRecorder, ScriptedStrategy, trading_market

CASH = 100_000.0
# Only the limit under test binds: no daily-loss or drawdown stop in the way.
QUIET = RiskLimits(max_daily_loss=1.0, max_drawdown=1.0)


def run_engine(
    market: TradingMarket, targets: dict[int, float], limits: RiskLimits
) -> tuple[BarEngine, list[ListRecorder]]:
    """`targets` traded bar by bar from the market's first decision, one recorder per bar."""
    engine = BarEngine(
        market,
        ScriptedStrategy(targets),
        PaperBroker(CASH, symbol=market.symbol),
        RiskManager(limits),
        run_id="risk",
        state=EngineState.opening(CASH),
    )
    recorders = []
    for bar in range(market.first_bar, market.n_bars):
        recorder = ListRecorder()
        engine.step(bar, recorder)
        recorders.append(recorder)
    return engine, recorders


def orders_at(market: TradingMarket, recorders: list[ListRecorder]) -> list[int]:
    """The bars at which an order was sent."""
    bars = []
    for recorder in recorders:
        for pair in recorder.of("order"):
            assert isinstance(pair, tuple)
            order, ack = pair
            assert isinstance(order, OrderRequest) and isinstance(ack, OrderAck)
            bars.append(order.decision_bar)
    return bars


def checks(recorders: list[ListRecorder]) -> list[OrderCheck]:
    found = [check for recorder in recorders for check in recorder.of("risk_check")]
    return [check for check in found if isinstance(check, OrderCheck)]


def fills(recorders: list[ListRecorder]) -> list[BrokerFill]:
    found = [fill for recorder in recorders for fill in recorder.of("fill")]
    return [fill for fill in found if isinstance(fill, BrokerFill)]


def test_a_target_the_position_limit_clips_is_held_not_reordered_every_bar() -> None:
    # A strategy always at 1.0 under a max position of 0.8, over 60 bars that swing 8 % up and
    # down (overnight gaps included): the clipped 0.8 is the target held, so one order fills it
    # and the drift of the position with the price is left alone. It used to be re-ordered at
    # every bar (the strategy's 1.0 never matched the 0.8 held): 59 orders in 59 bars in a probe.
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(0.08 * np.sin(np.arange(61) / 5.0) + rng.normal(0.0, 0.005, 61))
    open_ = close * np.exp(rng.normal(0.0, 0.003, 61))
    market = trading_market(open_=list(open_), close=list(close))
    limits = QUIET.copy_with(max_position_fraction=0.8, stop_loss=math.inf)
    _, recorders = run_engine(market, dict.fromkeys(range(61), 1.0), limits)

    assert orders_at(market, recorders) == [1]
    assert len(fills(recorders)) == 1
    first, *rest = checks(recorders)
    assert first.status is CheckStatus.CLIPPED and first.approved_position == 0.8
    assert all(check.status is CheckStatus.NO_ORDER for check in rest)
    positions = [check.current_position for check in rest[1:]]
    assert min(positions) < 0.8 < max(positions)  # it did drift, both ways, inside the band


# A long bought at 100 (the open after bar 1), a 12 % fall at bar 3's close: the stop-loss
# (10 %) closes it at bar 3, the exit fills at bar 4's open; the price stays at 88.
STOP_OPEN = [100.0, 100.0, 100.0, 100.0, *[88.0] * 8]
STOP_CLOSE = [100.0, 100.0, 100.0, 88.0, *[88.0] * 8]


def test_after_a_stop_loss_the_same_side_is_not_reentered_until_the_cooldown_passes() -> None:
    market = trading_market(open_=STOP_OPEN, close=STOP_CLOSE)
    always_long = dict.fromkeys(range(12), 1.0)
    _, recorders = run_engine(market, always_long, QUIET)

    # Bought at 1, stopped out at 3, then the strategy's unchanged 1.0 is refused for the
    # cooldown (5 bars: 4 to 7) and bought again at 8, after 5 bars out of the market.
    assert orders_at(market, recorders) == [1, 3, 8]
    by_bar = dict(enumerate(checks(recorders), start=1))
    assert by_bar[3].status is CheckStatus.FORCED and by_bar[3].reasons[0].startswith("stop-loss")
    for bar in range(4, 8):
        assert by_bar[bar].status is CheckStatus.REJECTED
        assert any("stop-loss latch: no new long" in reason for reason in by_bar[bar].reasons)
    assert by_bar[8].status is CheckStatus.APPROVED

    # Without the latch (cooldown 0), as before: bought back the very next bar.
    _, unlatched = run_engine(market, always_long, QUIET.copy_with(stop_loss_cooldown_bars=0))
    assert orders_at(market, unlatched) == [1, 3, 4]


def test_the_stop_loss_latch_lifts_as_soon_as_the_target_goes_flat_or_flips() -> None:
    market = trading_market(open_=STOP_OPEN, close=STOP_CLOSE)
    flat_then_long = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 0.0, 6: 1.0}
    _, recorders = run_engine(market, flat_then_long, QUIET)
    assert orders_at(market, recorders)[:3] == [1, 3, 6]  # flat at 5 lifts it: long again at 6

    flip = {1: 1.0, 2: 1.0, 3: 1.0, 4: -0.5, 5: -0.5}
    _, recorders = run_engine(market, flip, QUIET)
    assert orders_at(market, recorders)[:3] == [1, 3, 4]  # a short is the other side: allowed


def intraday_market(stamps: list[str]) -> TradingMarket:
    """A flat market at 100 whose bars carry the given timestamps (several to a day)."""
    base = trading_market(open_=[100.0] * len(stamps), close=[100.0] * len(stamps), window=1)
    dates = pd.DatetimeIndex(stamps).to_numpy()
    arrays = replace(base.arrays, dates=dates)
    history = base.history.set_axis(pd.DatetimeIndex(dates), axis=0)
    return replace(base, arrays=arrays, history=history)


def fills_per_day(market: TradingMarket, recorders: list[ListRecorder]) -> Counter[str]:
    return Counter(str(market.day(fill.bar_index)) for fill in fills(recorders))


def test_on_intraday_bars_a_fill_counts_on_its_day_and_the_trade_limit_binds() -> None:
    # Two bars a day. An order decided at the last bar of day 1 fills at day 2's first open: that
    # fill is day 2's. It used to be counted on day 1 and lost when the day rolled, so the next
    # order filled on day 2 too: two fills under a limit of one.
    market = intraday_market(
        [
            "2020-01-02 15:00", "2020-01-03 10:00", "2020-01-03 15:00",
            "2020-01-06 10:00", "2020-01-06 15:00", "2020-01-07 10:00",
        ]
    )  # fmt: skip
    flips = {0: 1.0, 1: 0.0, 2: 0.0, 3: 1.0, 4: 1.0}
    _, recorders = run_engine(market, flips, QUIET.copy_with(max_trades_per_day=1))

    by_bar = checks(recorders)
    # Bar 1 (day 2, 10:00): day 2 already has its fill; the sell would fill at 15:00 the same day.
    assert by_bar[1].status is CheckStatus.REJECTED
    assert "trade limit: 1 trades today >= max 1" in by_bar[1].reasons
    assert by_bar[1].portfolio.trades_today == 1
    # Bar 2 (day 2, 15:00): the sell fills at day 3's open, whose count is 0: allowed.
    assert by_bar[2].status is CheckStatus.APPROVED
    assert orders_at(market, recorders) == [0, 2, 4]
    assert set(fills_per_day(market, recorders).values()) == {1}


def test_on_daily_bars_a_limit_of_one_trade_a_day_lets_a_strategy_trade_every_day() -> None:
    # Each order fills the next day, so one a day always passes; the fill is counted on the day
    # it lands (trades_today is 1 at the close of each day that had a fill at its open). The last
    # bar changes nothing: an order there, which no bar of the run fills, counts on its own day.
    market = trading_market(open_=[100.0] * 8, close=[100.0] * 8)
    every_day = {bar: float(bar % 2) for bar in range(7)}
    _, recorders = run_engine(market, every_day, QUIET.copy_with(max_trades_per_day=1))

    assert orders_at(market, recorders) == [1, 2, 3, 4, 5, 6]
    assert [check.portfolio.trades_today for check in checks(recorders)] == [0, 1, 1, 1, 1, 1, 1]
    assert set(fills_per_day(market, recorders).values()) == {1}


def test_the_default_kill_switch_fires_on_real_data_pauses_for_its_cooldown_and_resumes() -> None:
    # Always fully long NVDA through 2021-07 to 2023-09 (the packaged sample's test years, where
    # buy and hold fell 66 % from its peak), under the default drawdown limits only: the kill
    # switch flattens at a 25 % drawdown, keeps the account flat for its cooldown, then buys
    # again and measures the next drawdown from the equity it resumed with.
    bars = load_market_data("nvda", start="2021-07-29", end="2023-09-21")
    market = trading_market(open_=bars["open"].tolist(), close=bars["close"].tolist())
    limits = RiskLimits(max_daily_loss=1.0, stop_loss=math.inf)
    cooldown = limits.kill_switch_cooldown_bars
    assert cooldown == KILL_SWITCH_COOLDOWN_BARS
    _, recorders = run_engine(market, dict.fromkeys(range(market.n_bars), 1.0), limits)

    per_bar = [checks([recorder]) for recorder in recorders]
    assert all(len(bar_checks) == 1 for bar_checks in per_bar)  # one check a bar
    found = [bar_checks[0] for bar_checks in per_bar]
    breaches = [
        bar
        for bar, check in enumerate(found)
        if any("flatten and stop trading" in reason for reason in check.reasons)
    ]
    assert len(breaches) >= 2  # it fired, resumed, and fired again in that bear market
    first, second = breaches[:2]
    assert all(check.portfolio.halted for check in found[first : first + cooldown])
    resumed = found[first + cooldown]
    assert not resumed.portfolio.halted and resumed.status is CheckStatus.APPROVED
    assert resumed.portfolio.peak_equity == resumed.equity
    assert second > first + cooldown
