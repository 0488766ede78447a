"""Date-based splits: the calendar splits of sp500/nasdaq and 65/15/20 for everything else."""

from __future__ import annotations

import pandas as pd
import pytest

from envs import SPLIT_NAMES, EnvSetupError, Splits
from envs.data.sources import load_market_data
from envs.data.splits import chronological_splits, make_splits


def summary(bars: pd.DataFrame, splits: Splits) -> dict[str, tuple[str, str, int]]:
    out = {}
    for name in SPLIT_NAMES:
        part = splits.cut(bars, name)
        out[name] = (str(part.index[0].date()), str(part.index[-1].date()), len(part))
    return out


def test_sp500_calendar_splits_cover_every_bar_once() -> None:
    bars = load_market_data("sp500")
    assert summary(bars, make_splits("sp500", bars.index)) == {
        "train": ("1999-01-04", "2012-12-31", 3521),
        "validation": ("2013-01-02", "2014-12-31", 504),
        "test": ("2015-01-02", "2018-12-31", 1006),
    }
    assert len(bars) == 3521 + 504 + 1006


def test_nasdaq_uses_the_same_calendar() -> None:
    bars = load_market_data("nasdaq")
    assert make_splits("nasdaq", bars.index) == make_splits("sp500", bars.index)


def test_start_and_end_are_applied_before_the_calendar_splits() -> None:
    bars = load_market_data("sp500", start="2012-07", end="2015-06")
    assert summary(bars, make_splits("sp500", bars.index)) == {
        "train": ("2012-07-02", "2012-12-31", 125),
        "validation": ("2013-01-02", "2014-12-31", 504),
        "test": ("2015-01-02", "2015-06-30", 124),
    }


def test_a_split_outside_the_selection_is_empty() -> None:
    bars = load_market_data("sp500", start="2016")
    bounds = make_splits("sp500", bars.index).bounds(bars.index)
    assert bounds == {"train": slice(0, 0), "validation": slice(0, 0), "test": slice(0, len(bars))}


def test_other_sources_split_65_15_20_in_time_order() -> None:
    index = pd.bdate_range("2021-01-01", periods=100)
    splits = make_splits("data/prices.csv", index)
    assert (splits.validation_start, splits.test_start) == (index[65], index[80])
    bars = pd.DataFrame({"x": range(100)}, index=index)
    assert [len(splits.cut(bars, name)) for name in SPLIT_NAMES] == [65, 15, 20]
    assert splits.cut(bars, "test").index.equals(index[-20:])  # the last 20% is test


def test_synthetic_is_split_chronologically() -> None:
    bars = load_market_data("synthetic")
    splits = make_splits("synthetic", bars.index)
    assert [len(splits.cut(bars, name)) for name in SPLIT_NAMES] == [1638, 378, 504]
    assert splits.scheme.startswith("chronological")


def test_tiny_selection_still_splits_without_error() -> None:
    index = pd.bdate_range("2021-01-01", periods=1)
    bounds = chronological_splits(index).bounds(index)
    assert bounds == {"train": slice(0, 1), "validation": slice(1, 1), "test": slice(1, 1)}


def test_boundaries_must_be_in_order() -> None:
    with pytest.raises(
        EnvSetupError,
        match=r"--test-start 2013-01-01 comes before the validation split's start, 2015-01-01",
    ):
        Splits(pd.Timestamp("2015-01-01"), pd.Timestamp("2013-01-01"), scheme="bad")
