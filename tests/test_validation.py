"""The data contract: each rule is caught, on the first offending row, with source, row and rule."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from envs import MarketDataError
from envs.data.contract import validate_bars

SOURCE = "unit.csv"


def frame(n_rows: int = 5) -> pd.DataFrame:
    close = 10.0 + np.arange(n_rows, dtype=np.float64)
    return pd.DataFrame(
        {
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(n_rows, 1000.0),
        },
        index=pd.DatetimeIndex(pd.bdate_range("2020-01-02", periods=n_rows), name="date"),
    )


def broken(**cells: tuple[int, float]) -> pd.DataFrame:
    bars = frame()
    for column, (row, value) in cells.items():
        bars.iloc[row, bars.columns.get_loc(column)] = value
    return bars


def assert_error(bars: pd.DataFrame, rule: str, row: int | None, *fragments: str) -> None:
    with pytest.raises(MarketDataError) as caught:
        validate_bars(bars, SOURCE)
    error = caught.value
    assert (error.source, error.rule, error.row) == (SOURCE, rule, row)
    message = str(error)
    prefix = SOURCE if row is None else f"{SOURCE}: row {row}"
    assert message.startswith(f"{prefix}: {rule}")
    for fragment in fragments:
        assert fragment in message


def test_valid_frame_passes() -> None:
    assert validate_bars(frame(), SOURCE) is None


@pytest.mark.parametrize(
    ("cells", "rule", "row", "fragment"),
    [
        ({"close": (2, np.nan)}, "NaN", 3, "close is missing"),
        ({"volume": (1, np.inf)}, "infinite value", 2, "volume=inf"),
        ({"open": (3, 0.0)}, "non-positive price", 4, "open=0"),
        ({"low": (1, -2.0)}, "non-positive price", 2, "low=-2"),
        ({"volume": (4, -1.0)}, "negative volume", 5, "volume=-1"),
        ({"high": (2, 8.5)}, "high < low", 3, "date=2020-01-06 high=8.5 low=11"),
        ({"open": (1, 12.5)}, "open outside [low, high]", 2, "open=12.5 low=10 high=12"),
        ({"close": (0, 8.0)}, "close outside [low, high]", 1, "close=8 low=9 high=11"),
    ],
)
def test_each_row_rule_is_named_with_its_row(
    cells: dict[str, tuple[int, float]], rule: str, row: int, fragment: str
) -> None:
    assert_error(broken(**cells), rule, row, fragment)


def test_duplicate_and_decreasing_dates() -> None:
    bars = frame()
    dates = list(bars.index)
    dates[3] = dates[2]
    assert_error(bars.set_axis(pd.DatetimeIndex(dates)), "duplicate date", 4, "repeats row 3")
    dates = list(frame().index)
    dates[1], dates[2] = dates[2], dates[1]
    assert_error(bars.set_axis(pd.DatetimeIndex(dates)), "decreasing date", 3, "2020-01-03")


def test_the_earliest_bad_row_wins_over_rule_order() -> None:
    bars = broken(close=(3, np.nan), high=(1, 8.0))  # NaN is checked first but sits later
    assert_error(bars, "high < low", 2)


def test_on_one_row_the_first_listed_rule_wins() -> None:
    assert_error(broken(open=(2, np.nan), high=(2, 0.5)), "NaN", 3)


@pytest.mark.parametrize(
    ("bars", "rule", "fragment"),
    [
        (frame().reset_index(drop=True), "index type", "RangeIndex"),
        (frame().tz_localize("UTC"), "time zone", "UTC"),
        (frame().drop(columns=["volume", "low"]), "missing column", "low, volume"),
        (frame().astype({"volume": np.int64}), "column dtype", "volume is int64"),
        (frame().iloc[:0], "empty file", "no data rows"),
    ],
)
def test_whole_frame_rules(bars: pd.DataFrame, rule: str, fragment: str) -> None:
    assert_error(bars, rule, None, fragment)


def test_error_message_format_and_pickle_round_trip() -> None:
    error = MarketDataError("high=9.5 low=10.0", source="data/x.csv", rule="high < low", row=17)
    assert str(error) == "data/x.csv: row 17: high < low: high=9.5 low=10.0"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.row, copy.rule, str(copy)) == (
        "data/x.csv",
        17,
        "high < low",
        str(error),
    )
    assert str(MarketDataError("", source="s", rule="r")) == "s: r"
