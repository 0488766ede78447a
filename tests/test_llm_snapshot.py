"""Snapshots hold nothing after their timestamp, and reject bad bars with a clear message."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from llm import AccountView, MarketSnapshot, snapshot_from_frame
from llm.team.snapshot import Bar, SnapshotError, Trade
from tests.llm_helpers import trend_frame

T0 = datetime(2024, 1, 2, 16, 0)
T1 = datetime(2024, 1, 3, 16, 0)


def _bar(time: datetime, close: float = 10.0) -> Bar:
    return Bar(time, open=close, high=close + 1, low=close - 1, close=close, volume=100.0)


def test_bar_after_timestamp_is_look_ahead() -> None:
    with pytest.raises(SnapshotError, match=r"after the snapshot timestamp .* \(look-ahead\)"):
        MarketSnapshot(symbol="X", timestamp=T0, bars=(_bar(T0), _bar(T1)))


def test_trade_after_timestamp_is_look_ahead() -> None:
    with pytest.raises(SnapshotError, match="trade at 2024-01-03T16:00:00 is after"):
        MarketSnapshot(symbol="X", timestamp=T0, trades=(Trade(T1, 10.0, 5.0, "buy"),))


def test_bars_must_be_strictly_increasing() -> None:
    with pytest.raises(SnapshotError, match="in time order"):
        MarketSnapshot(symbol="X", timestamp=T1, bars=(_bar(T1), _bar(T0)))
    with pytest.raises(SnapshotError, match="in time order"):
        MarketSnapshot(symbol="X", timestamp=T1, bars=(_bar(T0), _bar(T0)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"open": 10, "high": 9, "low": 8, "close": 9.5}, "low <= open, close <= high"),
        ({"open": 10, "high": 11, "low": 10.5, "close": 10.7}, "low <= open, close <= high"),
        ({"open": -1, "high": 11, "low": -2, "close": 10}, "open: Input should be greater than 0"),
        ({"open": 10, "high": float("nan"), "low": 9, "close": 10}, "high: .* finite number"),
    ],
)
def test_bad_bars_are_rejected_with_the_rule(fields: dict[str, float], message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        Bar(T0, volume=1.0, **fields)


def test_negative_volume_and_bad_trades_are_rejected() -> None:
    with pytest.raises(SnapshotError, match=r"invalid Bar: volume: .* greater than or equal to 0"):
        Bar(T0, 10, 11, 9, 10, -5)
    with pytest.raises(SnapshotError, match=r"invalid Trade: size: .* greater than 0 \(got 0.0\)"):
        Trade(T0, 10.0, 0.0)
    with pytest.raises(SnapshotError, match="side: Input should be 'buy' or 'sell'"):
        Trade(T0, 10.0, 1.0, "short")  # type: ignore[arg-type]


def test_account_limits() -> None:
    with pytest.raises(SnapshotError, match="position: Input should be less than or equal to 1"):
        AccountView(position=1.5)
    with pytest.raises(SnapshotError, match="equity: Input should be greater than 0"):
        AccountView(equity=0.0)
    with pytest.raises(SnapshotError, match="cash: Input should be a finite number"):
        AccountView(cash=float("nan"))


def test_an_empty_symbol_is_refused() -> None:
    with pytest.raises(SnapshotError, match="symbol: String should have at least 1 character"):
        MarketSnapshot(symbol="", timestamp=T0)


def test_indicator_values_must_be_finite() -> None:
    with pytest.raises(SnapshotError, match=r"indicators\.rsi_14: .* finite number"):
        MarketSnapshot(symbol="X", timestamp=T0, indicators={"rsi_14": float("inf")})


def test_from_frame_takes_the_last_window_up_to_t() -> None:
    frame = trend_frame(n_bars=100)
    t = frame.index[69]
    snapshot = snapshot_from_frame(frame, t, symbol="X", window=30)
    assert len(snapshot.bars) == 30
    assert snapshot.bars[-1].time == t.to_pydatetime() == snapshot.timestamp
    assert snapshot.bars[0].time == frame.index[40].to_pydatetime()
    assert snapshot.bars[-1].close == frame["close"].iloc[69]
    expected_sma = frame["close"].iloc[60:70].mean()
    assert snapshot.indicators["sma_10"] == pytest.approx(expected_sma, rel=1e-12)


def test_from_frame_ignores_everything_after_t() -> None:
    frame = trend_frame(n_bars=100)
    t = frame.index[59]
    before = snapshot_from_frame(frame, t, symbol="X")
    future = frame.copy()
    rng = np.random.default_rng(3)
    future.iloc[60:] = future.iloc[60:].to_numpy() * rng.uniform(0.5, 2.0, (40, 1))
    future.iloc[60:, future.columns.get_loc("volume")] = 1.0
    assert snapshot_from_frame(future, t, symbol="X") == before


def test_from_frame_between_bars_keeps_the_last_closed_bar() -> None:
    frame = trend_frame(n_bars=10)
    t = frame.index[4] + (frame.index[5] - frame.index[4]) / 2
    snapshot = snapshot_from_frame(frame, t, symbol="X")
    assert snapshot.bars[-1].time == frame.index[4].to_pydatetime()
    assert snapshot.timestamp == t.to_pydatetime()


def test_from_frame_needs_ohlcv_columns() -> None:
    frame = trend_frame(n_bars=10).drop(columns=["volume"])
    with pytest.raises(SnapshotError, match=r"lacks OHLCV columns \['volume'\]"):
        snapshot_from_frame(frame, frame.index[-1], symbol="X")
