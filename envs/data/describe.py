"""What `hybrid-trader data` reports about a source: enough to trust it before training on it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from envs.data.bar_size import BarSize, infer_bar_size
from envs.data.dataset import market_data_hash
from envs.data.sources import DateLike, load_market_data, select_dates
from envs.data.splits import SPLIT_NAMES, SplitName, make_splits
from envs.features import WARMUP_BARS


@dataclass(frozen=True)
class SplitSummary:
    name: SplitName
    n_bars: int
    first: pd.Timestamp | None  # None when the split is empty
    last: pd.Timestamp | None


@dataclass(frozen=True)
class MarketDescription:
    """A validated source in numbers (it has no NaN, so "missing" here means calendar gaps)."""

    source: str
    n_bars: int
    first: pd.Timestamp
    last: pd.Timestamp
    lowest_low: float
    highest_high: float
    last_close: float
    bar_size: BarSize  # inferred from the whole source's dates
    periods_per_year: int  # bars in a year used for annualised figures (inferred or given)
    missing_business_days: int  # weekdays in [first, last] without a bar (mostly holidays)
    longest_gap_days: int  # most calendar days between two consecutive bars
    zero_volume_bars: int  # bars whose volume was reported as 0
    split_scheme: str
    splits: tuple[SplitSummary, ...]
    warmup_bars: int  # leading bars the features need before the first usable row
    data_hash: str


def describe_market(
    source: str,
    start: DateLike = None,
    end: DateLike = None,
    *,
    date_format: str | None = None,
    periods_per_year: int | None = None,
) -> MarketDescription:
    """Load and validate `source` (raising MarketDataError on bad data) and describe it.

    date_format: the strftime format of a file's dates (None: recognised). periods_per_year: bars
    in a year (None: inferred from the whole source's dates).
    """
    history = load_market_data(source, date_format=date_format)
    bar_size = infer_bar_size(history.index)
    bars = select_dates(history, source, start, end)
    index = bars.index
    splits = make_splits(source, index)
    days = index.normalize().unique()
    weekdays = pd.bdate_range(days[0], days[-1])
    gaps = days.to_series().diff().dt.days
    return MarketDescription(
        source=source,
        n_bars=len(bars),
        first=index[0],
        last=index[-1],
        lowest_low=float(bars["low"].min()),
        highest_high=float(bars["high"].max()),
        last_close=float(bars["close"].iloc[-1]),
        bar_size=bar_size,
        periods_per_year=periods_per_year or bar_size.periods_per_year,
        missing_business_days=len(weekdays.difference(days)),
        longest_gap_days=int(gaps.max()) if len(days) > 1 else 0,
        zero_volume_bars=int((bars["volume"] == 0).sum()),
        split_scheme=splits.scheme,
        splits=tuple(_summary(name, splits.cut(bars, name).index) for name in SPLIT_NAMES),
        warmup_bars=WARMUP_BARS,
        data_hash=market_data_hash(bars),
    )


def _summary(name: SplitName, index: pd.DatetimeIndex) -> SplitSummary:
    if len(index) == 0:
        return SplitSummary(name=name, n_bars=0, first=None, last=None)
    return SplitSummary(name=name, n_bars=len(index), first=index[0], last=index[-1])
