"""Dates as users' files hold them, and the bar size read from them (envs.data.dates, bar_size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs import MarketDataError, describe_market, prepare_market
from envs.data.bar_size import infer_bar_size
from envs.data.sources import load_market_data
from tests.market_helpers import good_rows, random_bars, write_csv

DAYS = pd.bdate_range("2020-01-02", periods=6)


def load(path: Path, date_format: str | None = None) -> pd.DataFrame:
    return load_market_data(str(path), date_format=date_format)


def with_dates(tmp_path: Path, dates: list[str], header: str = "Date") -> Path:
    rows = [[day, *row[1:]] for day, row in zip(dates, good_rows(len(dates)), strict=True)]
    return write_csv(tmp_path / "m.csv", rows, header=f"{header},Open,High,Low,Close,Volume")


def test_pandas_default_to_csv_with_its_unnamed_date_column(tmp_path: Path) -> None:
    bars = load(with_dates(tmp_path, [str(day.date()) for day in DAYS]))
    path = tmp_path / "pandas.csv"
    bars.rename_axis(None).to_csv(path)  # header ",open,high,low,close,volume"
    assert path.read_text().startswith(",open")
    pd.testing.assert_frame_equal(load(path), bars)


@pytest.mark.parametrize("header", ["Time", "TIMESTAMP", "datetime", "date"])
def test_date_column_names_in_any_case(tmp_path: Path, header: str) -> None:
    bars = load(with_dates(tmp_path, [str(day.date()) for day in DAYS], header))
    assert list(bars.index) == list(DAYS)


def test_separate_date_and_time_columns_are_read_together(tmp_path: Path) -> None:
    rows = [["2020.01.02", f"{hour:02d}:00", *row[1:]] for hour, row in enumerate(good_rows(3))]
    path = write_csv(tmp_path / "mt.csv", rows, header="Date,Time,Open,High,Low,Close,Volume")
    assert list(load(path).index.hour) == [0, 1, 2]


def test_the_index_holds_the_dates(tmp_path: Path) -> None:
    bars = load(with_dates(tmp_path, [str(day.date()) for day in DAYS]))
    path = tmp_path / "m.parquet"
    bars.rename_axis(None).to_parquet(path)
    pd.testing.assert_frame_equal(load(path), bars)


def test_day_first_timestamps_with_milliseconds(tmp_path: Path) -> None:
    stamps = [f"0{day}.01.2017 {hour}:00:00.000" for day in (1, 2) for hour in (22, 23)]
    bars = load(with_dates(tmp_path, stamps, "Time"))
    assert bars.index[2] == pd.Timestamp("2017-01-02 22:00")


def test_one_reading_of_slashed_dates_is_chosen_when_only_one_fits(tmp_path: Path) -> None:
    bars = load(with_dates(tmp_path, ["12/01/2017", "13/01/2017"]))
    assert list(bars.index.day) == [12, 13]


def test_ambiguous_dates_are_refused_and_date_format_decides(tmp_path: Path) -> None:
    path = with_dates(tmp_path, ["01/02/2017", "01/03/2017"])
    with pytest.raises(MarketDataError) as caught:
        load(path)
    assert (caught.value.rule, caught.value.row) == ("ambiguous date", 1)
    assert "--date-format" in str(caught.value) and str(path) in str(caught.value)
    assert list(load(path, "%d/%m/%Y").index.month) == [2, 3]
    assert list(load(path, "%m/%d/%Y").index.day) == [2, 3]


def test_a_row_not_matching_date_format_is_named(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError) as caught:
        load(with_dates(tmp_path, ["01/02/2017", "2017-02-02"]), "%d/%m/%Y")
    assert (caught.value.rule, caught.value.row) == ("unparseable date", 2)
    assert "'2017-02-02' does not match --date-format '%d/%m/%Y'" in str(caught.value)


def test_a_date_format_strptime_does_not_know_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="bad date format: --date-format '%Q'"):
        load(with_dates(tmp_path, ["01/02/2017"]), "%Q")


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_seconds_and_milliseconds(tmp_path: Path, scale: int) -> None:
    epochs = [str(int(day.timestamp()) * scale) for day in DAYS]
    assert list(load(with_dates(tmp_path, epochs, "timestamp")).index) == list(DAYS)


def test_epochs_in_two_units_are_refused_naming_the_row(tmp_path: Path) -> None:
    epochs = [str(int(day.timestamp())) for day in DAYS]
    epochs[3] += "000"
    with pytest.raises(MarketDataError) as caught:
        load(with_dates(tmp_path, epochs))
    assert (caught.value.rule, caught.value.row) == ("unparseable date", 4)


def test_yyyymmdd_integers(tmp_path: Path) -> None:
    bars = load(with_dates(tmp_path, [day.strftime("%Y%m%d") for day in DAYS]))
    assert list(bars.index) == list(DAYS)


def test_a_parquet_time_zone_is_converted_to_utc(tmp_path: Path) -> None:
    closes = DAYS + pd.Timedelta(hours=16)
    bars = load(with_dates(tmp_path, [str(close) for close in closes]))
    path = tmp_path / "tz.parquet"
    bars.tz_localize("US/Eastern").to_parquet(path)
    assert list(load(path).index) == list(closes + pd.Timedelta(hours=5))


def test_parquet_daily_bars_at_local_midnight_keep_their_local_dates(tmp_path: Path) -> None:
    bars = load(with_dates(tmp_path, [str(day.date()) for day in DAYS]))
    path = tmp_path / "tokyo.parquet"
    bars.tz_localize("Asia/Tokyo").to_parquet(path)
    assert list(load(path).index) == list(DAYS)


def intraday_index(day_minutes: range, step: str, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Bars at `day_minutes` (minutes after midnight, every `step`) of each day in `days`."""
    offsets = pd.to_timedelta(np.asarray(day_minutes), unit="min")
    return pd.DatetimeIndex([day + offset for day in days for offset in offsets], name=step)


@pytest.mark.parametrize(
    ("index", "per_year", "text"),
    [
        (pd.bdate_range("2020-01-01", periods=300), 252, "1 day, exchange days: 252"),
        (pd.date_range("2020-01-01", periods=300, freq="D"), 365, "1 day, 7 days a week: 365"),
        (pd.date_range("2020-01-01", periods=900, freq="h"), 8760, "1 hour, 7 days a week, 24"),
        (
            intraday_index(range(570, 960, 60), "h", pd.bdate_range("2020-01-01", periods=60)),
            7 * 252,
            "1 hour, exchange days, 7 bars a day: 1,764",
        ),
        (
            intraday_index(range(570, 960), "min", pd.bdate_range("2020-01-01", periods=5)),
            390 * 252,
            "1 minute, exchange days, 390 bars a day",
        ),
        (pd.date_range("2020-01-05", periods=60, freq="W"), 52, "7 days: 52"),
    ],
)
def test_bar_size_is_read_from_the_dates(index: pd.DatetimeIndex, per_year: int, text: str) -> None:
    bar_size = infer_bar_size(index)
    assert bar_size.periods_per_year == per_year
    assert bar_size.describe().startswith(text)


def hourly_crypto_csv(tmp_path: Path, n_bars: int = 2_000) -> Path:
    index = pd.date_range("2021-01-01", periods=n_bars, freq="h", name="timestamp")
    bars = random_bars(np.random.default_rng(0), index, 30_000.0)
    path = tmp_path / "btc.csv"
    bars.to_csv(path)
    return path


def test_data_command_description_and_markets_carry_periods_per_year(tmp_path: Path) -> None:
    path = str(hourly_crypto_csv(tmp_path))
    description = describe_market(path)
    assert description.periods_per_year == 24 * 365
    assert describe_market(path, periods_per_year=1000).periods_per_year == 1000
    prepared = prepare_market(path)
    assert prepared.periods_per_year == prepared.test.periods_per_year == 24 * 365
    assert prepare_market(path, periods_per_year=500).train.periods_per_year == 500
