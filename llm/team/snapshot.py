"""A point-in-time view of one market: the only thing the analyst graph ever sees.

Plain frozen dataclasses (no frames) so that `llm` serves any caller and a snapshot can be checked
at construction: every bar and trade is at or before the snapshot's timestamp, so nothing that
reads a snapshot can look ahead. `snapshot_from_frame` builds one from an OHLCV frame, cutting the
frame at `t` BEFORE computing anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
import talib

from llm.gateway import LLMError

Side = Literal["buy", "sell"]
OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")


class SnapshotError(LLMError, ValueError):
    """A snapshot that breaks a rule (look-ahead, bad prices, unsorted bars)."""


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise SnapshotError(f"{what} must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `time` is when the bar closed (known at that time, not before)."""

    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    def __post_init__(self) -> None:
        o, h, lo, c, v = self.open, self.high, self.low, self.close, self.volume
        valid = math.isfinite(o + h + lo + c + v) and min(o, lo, c) > 0 and v >= 0
        if not (valid and h >= max(o, c) and lo <= min(o, c)):
            self._explain_invalid()

    def _explain_invalid(self) -> None:
        """Raise the precise reason (kept off the fast path: snapshots hold many bars)."""
        where = f"bar at {self.time.isoformat()}"
        for name in OHLCV_COLUMNS:
            _finite(getattr(self, name), f"{where}: {name}")
        if min(self.open, self.high, self.low, self.close) <= 0:
            raise SnapshotError(f"{where}: prices must be positive")
        if self.volume < 0:
            raise SnapshotError(f"{where}: volume must be >= 0, got {self.volume}")
        raise SnapshotError(f"{where}: needs low <= open, close <= high")


@dataclass(frozen=True, slots=True)
class Trade:
    """One print of the tape; `side` is the aggressor when the feed knows it."""

    time: datetime
    price: float
    size: float
    side: Side | None = None

    def __post_init__(self) -> None:
        where = f"trade at {self.time.isoformat()}"
        _finite(self.price, f"{where}: price")
        _finite(self.size, f"{where}: size")
        if self.price <= 0 or self.size <= 0:
            raise SnapshotError(f"{where}: price and size must be positive")
        if self.side not in (None, "buy", "sell"):
            raise SnapshotError(f"{where}: side must be 'buy', 'sell' or None, got {self.side!r}")


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """The caller's book: `position` is the signed fraction of equity held (-1 short .. +1 long)."""

    position: float = 0.0
    cash: float = 0.0
    equity: float = 1.0
    unrealized_pnl: float = 0.0

    def __post_init__(self) -> None:
        for name in ("position", "cash", "equity", "unrealized_pnl"):
            _finite(getattr(self, name), f"portfolio {name}")
        if not -1.0 <= self.position <= 1.0:
            raise SnapshotError(f"portfolio position must be in [-1, 1], got {self.position}")
        if self.equity <= 0:
            raise SnapshotError(f"portfolio equity must be positive, got {self.equity}")


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything known about `symbol` at `timestamp`, and nothing after it."""

    symbol: str
    timestamp: datetime
    bars: tuple[Bar, ...] = ()
    indicators: Mapping[str, float] = field(default_factory=dict)
    trades: tuple[Trade, ...] = ()
    news: str | None = None
    portfolio: PortfolioState = field(default_factory=PortfolioState)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise SnapshotError("snapshot symbol must not be empty")
        object.__setattr__(self, "bars", tuple(self.bars))
        object.__setattr__(self, "trades", tuple(self.trades))
        object.__setattr__(self, "indicators", dict(self.indicators))
        self._check_times(self.bars, "bar", strictly=True)
        self._check_times(self.trades, "trade", strictly=False)
        for name, value in self.indicators.items():
            _finite(value, f"indicator {name!r}")

    def _check_times(self, items: Sequence[Bar | Trade], kind: str, *, strictly: bool) -> None:
        previous: datetime | None = None
        for item in items:
            if item.time > self.timestamp:
                raise SnapshotError(
                    f"{kind} at {item.time.isoformat()} is after the snapshot timestamp "
                    f"{self.timestamp.isoformat()} (look-ahead)"
                )
            if previous is not None and (
                item.time <= previous if strictly else item.time < previous
            ):
                raise SnapshotError(
                    f"{kind}s must be in time order: {item.time.isoformat()} follows "
                    f"{previous.isoformat()}"
                )
            previous = item.time

    @property
    def has_news(self) -> bool:
        return bool(self.news and self.news.strip())


def indicators_from_bars(bars: pd.DataFrame) -> dict[str, float]:
    """A standard indicator set (TA-Lib) on the LAST row of `bars`; warm-up NaNs are left out."""
    close = bars["close"].to_numpy(dtype=np.float64)
    high = bars["high"].to_numpy(dtype=np.float64)
    low = bars["low"].to_numpy(dtype=np.float64)
    series = {
        "sma_10": talib.SMA(close, timeperiod=10),
        "sma_30": talib.SMA(close, timeperiod=30),
        "rsi_14": talib.RSI(close, timeperiod=14),
        "atr_14": talib.ATR(high, low, close, timeperiod=14),
        "roc_10": talib.ROC(close, timeperiod=10),
    }
    return {name: float(values[-1]) for name, values in series.items() if np.isfinite(values[-1])}


def snapshot_from_frame(
    frame: pd.DataFrame,
    t: datetime | pd.Timestamp,
    *,
    symbol: str,
    window: int = 60,
    portfolio: PortfolioState | None = None,
    trades: Sequence[Trade] = (),
    news: str | None = None,
) -> MarketSnapshot:
    """The snapshot at `t` from an OHLCV frame (DESIGN.md data contract): the last `window` bars
    with index <= t, and indicators computed from those bars only."""
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise SnapshotError(f"frame lacks OHLCV columns {missing}")
    if window < 1:
        raise SnapshotError(f"window must be at least 1 bar, got {window}")
    cutoff = pd.Timestamp(t)
    past = frame.loc[frame.index <= cutoff, list(OHLCV_COLUMNS)].iloc[-window:]
    bars = tuple(
        Bar(time.to_pydatetime(), float(o), float(h), float(lo), float(c), float(v))
        for time, o, h, lo, c, v in past.itertuples(name=None)
    )
    return MarketSnapshot(
        symbol=symbol,
        timestamp=cutoff.to_pydatetime(),
        bars=bars,
        indicators=indicators_from_bars(past) if len(past) else {},
        trades=tuple(trades),
        news=news,
        portfolio=portfolio or PortfolioState(),
    )
