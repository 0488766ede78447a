"""A point-in-time view of one market: the only thing the analyst graph ever sees.

Frozen pydantic dataclasses (`llm.team.checked`; no frames) so that `llm` serves any caller and a
snapshot is checked at construction: prices positive, numbers finite, and every bar, trade, past
trade recalled from the caller's memory and lesson at or before the snapshot's timestamp, so
nothing that reads a snapshot can look ahead. A value that
breaks a rule raises `SnapshotError` naming it. `snapshot_from_frame` builds one from an OHLCV
frame, cutting the frame at `t` BEFORE computing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import talib
from pydantic import Field, InstanceOf, NonNegativeInt, model_validator
from pydantic.dataclasses import dataclass

from llm.gateway import LLMError
from llm.team.checked import CHECKED, Checked

Side = Literal["buy", "sell"]
OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class SnapshotError(LLMError):
    """A snapshot that breaks a rule (look-ahead, bad prices, unsorted bars)."""


@dataclass(frozen=True, slots=True, config=CHECKED)
class _SnapshotPart(Checked):
    error: ClassVar[type[LLMError]] = SnapshotError


@dataclass(frozen=True, slots=True, config=CHECKED)
class Bar(_SnapshotPart):
    """One OHLCV bar; `time` is when the bar closed (known at that time, not before)."""

    time: datetime
    open: Positive
    high: Positive
    low: Positive
    close: Positive
    volume: NonNegative

    @model_validator(mode="after")
    def _within_range(self) -> Self:
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise SnapshotError(f"bar at {self.time.isoformat()}: needs low <= open, close <= high")
        return self


@dataclass(frozen=True, slots=True, config=CHECKED)
class Trade(_SnapshotPart):
    """One print of the tape; `side` is the aggressor when the feed knows it."""

    time: datetime
    price: Positive
    size: Positive
    side: Side | None = None


@dataclass(frozen=True, slots=True, config=CHECKED)
class AccountView(_SnapshotPart):
    """The caller's account as the analysts see it: `position` is the signed fraction of equity
    held (-1 short .. +1 long), the rest in the account's currency."""

    position: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    cash: float = 0.0
    equity: Positive = 1.0
    unrealized_pnl: float = 0.0


@dataclass(frozen=True, slots=True, config=CHECKED)
class PastTrade(_SnapshotPart):
    """A closed trade of the caller's memory as the analysts see it: when its outcome became known
    (`known_at`, its exit fill), its side, the regime at entry, its net return (a fraction of the
    position, costs paid), the bars it was held, and its distance from the current situation."""

    known_at: datetime
    side: Literal["long", "short"]
    regime: str
    net_return: float
    bars_held: NonNegativeInt
    distance: NonNegative


@dataclass(frozen=True, slots=True, config=CHECKED)
class RecalledLesson(_SnapshotPart):
    """A lesson written when an earlier trade closed (`written_at`), retrieved for this snapshot."""

    written_at: datetime
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


@dataclass(frozen=True, slots=True, config=CHECKED)
class TradeMemoryView(_SnapshotPart):
    """What the caller's trade memory recalls for a snapshot: the most similar past situations
    (nearest first) and the lessons that apply (most relevant first)."""

    similar: tuple[InstanceOf[PastTrade], ...] = ()
    lessons: tuple[InstanceOf[RecalledLesson], ...] = ()

    @property
    def win_rate(self) -> float | None:
        """The share of the similar trades that made money after costs (None: none recalled)."""
        if not self.similar:
            return None
        return sum(t.net_return > 0.0 for t in self.similar) / len(self.similar)

    @property
    def mean_net_return(self) -> float | None:
        if not self.similar:
            return None
        return float(np.mean([t.net_return for t in self.similar]))


@dataclass(frozen=True, slots=True, config=CHECKED)
class MarketSnapshot(_SnapshotPart):
    """Everything known about `symbol` at `timestamp`, and nothing after it."""

    symbol: Annotated[str, Field(min_length=1)]
    timestamp: datetime
    bars: tuple[InstanceOf[Bar], ...] = ()  # checked when each was made: not again
    indicators: dict[str, float] = field(default_factory=dict)
    trades: tuple[InstanceOf[Trade], ...] = ()
    news: str | None = None
    portfolio: InstanceOf[AccountView] = field(default_factory=AccountView)
    memory: InstanceOf[TradeMemoryView] | None = None

    @model_validator(mode="after")
    def _nothing_after_timestamp(self) -> Self:
        self._check_times(self.bars, "bar", strictly=True)
        self._check_times(self.trades, "trade", strictly=False)
        if self.memory is not None:
            recalled = [(t.known_at, "past trade") for t in self.memory.similar]
            recalled += [(lesson.written_at, "lesson") for lesson in self.memory.lessons]
            for time, kind in recalled:
                if time > self.timestamp:
                    raise SnapshotError(
                        f"{kind} known at {time.isoformat()} is after the snapshot timestamp "
                        f"{self.timestamp.isoformat()} (look-ahead)"
                    )
        return self

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
    portfolio: AccountView | None = None,
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
        portfolio=portfolio or AccountView(),
    )
