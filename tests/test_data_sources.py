"""Loading by name or path: the real bars, the file formats, and one clear error per bad file."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs import MarketDataError
from envs.data.sources import load_market_data
from tests.market_helpers import good_rows, write_csv


def assert_error(source: str | Path, rule: str, row: int | None, *fragments: str, **dates: str):
    with pytest.raises(MarketDataError) as caught:
        load_market_data(str(source), **dates)
    error = caught.value
    assert (error.source, error.rule, error.row) == (str(source), rule, row)
    where = str(source) if row is None else f"{source}: row {row}"
    assert str(error).startswith(f"{where}: {rule}")
    for fragment in fragments:
        assert fragment in str(error)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: loading must never download."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a data loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_sp500_is_the_real_daily_bars() -> None:
    bars = load_market_data("sp500")
    assert len(bars) == 5031
    assert (bars.index[0], bars.index[-1]) == (
        pd.Timestamp("1999-01-04"),
        pd.Timestamp("2018-12-31"),
    )
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert (bars.dtypes == np.float64).all()
    assert bars.index.dtype == "datetime64[ns]" and bars.index.name == "date"
    first = bars.iloc[0]
    assert first["open"] == pytest.approx(1229.22998) and first["volume"] == 877_000_000.0


@pytest.mark.usefixtures("no_network")
def test_nasdaq_loads_offline() -> None:
    bars = load_market_data("nasdaq")
    assert len(bars) == 5031 and bars.index[-1] == pd.Timestamp("2018-12-31")


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("source", "n_bars", "first", "last"),
    [
        ("aapl", 2699, "2013-01-02", "2023-09-21"),
        ("amzn", 2699, "2013-01-02", "2023-09-21"),
        ("nvda", 2699, "2013-01-02", "2023-09-21"),
        ("msft", 5756, "1995-01-03", "2017-11-10"),
    ],
)
def test_packaged_stock_samples_load_offline(
    source: str, n_bars: int, first: str, last: str
) -> None:
    bars = load_market_data(source)
    assert len(bars) == n_bars
    assert (bars.index[0], bars.index[-1]) == (pd.Timestamp(first), pd.Timestamp(last))
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]


def test_start_and_end_are_inclusive_whole_periods() -> None:
    year = load_market_data("sp500", start="2015", end="2015")
    assert (year.index[0], year.index[-1], len(year)) == (
        pd.Timestamp("2015-01-02"),
        pd.Timestamp("2015-12-31"),
        252,
    )
    days = load_market_data("sp500", start="2018-12-27", end="2018-12-28")
    assert list(days.index.day) == [27, 28]


def test_csv_with_any_case_extra_columns_and_datetime_column(tmp_path: Path) -> None:
    rows = [[*row, "x"] for row in good_rows(3)]
    path = write_csv(tmp_path / "m.csv", rows, header="DATETIME,open,HIGH,Low,close,VoLuMe,Note")
    bars = load_market_data(str(path))
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars["close"].tolist() == [10.0, 11.0, 12.0]
    assert bars.index[0] == pd.Timestamp("2020-01-02")


def test_adj_close_scales_open_high_low_close_by_one_factor(tmp_path: Path) -> None:
    rows = [[*row, adj] for row, adj in zip(good_rows(2), ["5.0", "11.0"], strict=True)]
    path = write_csv(tmp_path / "adj.csv", rows, header="Date,Open,High,Low,Close,Volume,Adj Close")
    bars = load_market_data(str(path))
    # row 1: close 10 -> adj 5, factor 0.5; row 2: close 11 -> adj 11, factor 1.
    assert bars.iloc[0].tolist() == [4.75, 5.5, 4.5, 5.0, 1000.0]
    assert bars.iloc[1].tolist() == [10.5, 12.0, 10.0, 11.0, 1001.0]


@pytest.mark.parametrize("adj", ["0", "-1.5", "nan"])
def test_a_bad_adj_close_is_named_with_its_date_and_value(tmp_path: Path, adj: str) -> None:
    rows = [[*row, value] for row, value in zip(good_rows(2), ["5.0", adj], strict=True)]
    path = write_csv(tmp_path / "adj.csv", rows, header="Date,Open,High,Low,Close,Volume,Adj Close")
    shown = f"{float(adj):.10g}"
    assert_error(path, "bad adj close", 2, f"date=2020-01-03 adj close={shown}")


def test_parquet_with_a_date_index(tmp_path: Path) -> None:
    csv_bars = load_market_data(str(write_csv(tmp_path / "m.csv", good_rows(4))))
    table = csv_bars.rename(columns=str.title).rename_axis("Date")
    table.to_parquet(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(load_market_data(str(tmp_path / "m.parquet")), csv_bars)


def test_mixed_date_and_datetime_strings_parse(tmp_path: Path) -> None:
    rows = good_rows(2)
    rows[1][0] = "2020-01-03 00:00:00"
    assert len(load_market_data(str(write_csv(tmp_path / "m.csv", rows)))) == 2


def test_file_not_found(tmp_path: Path) -> None:
    assert_error(tmp_path / "absent.csv", "file not found", None)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_error(empty, "empty file", None, "0 bytes")
    assert_error(write_csv(tmp_path / "header.csv", []), "empty file", None, "no data rows")


def test_unparseable_date(tmp_path: Path) -> None:
    rows = good_rows()
    rows[3][0] = "2020-13-45"
    assert_error(write_csv(tmp_path / "d.csv", rows), "unparseable date", 4, "'2020-13-45'")


def test_small_numbers_in_the_date_column_are_refused(tmp_path: Path) -> None:
    rows = [[str(1 + i), *row[1:]] for i, row in enumerate(good_rows(2))]
    assert_error(write_csv(tmp_path / "d.csv", rows), "unparseable date", 1, "neither epoch")


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\t'")])
def test_wrong_delimiter(tmp_path: Path, sep: str, shown: str) -> None:
    path = write_csv(tmp_path / "semi.csv", good_rows(), sep=sep)
    assert_error(path, "wrong delimiter", None, f"uses {shown}", "comma-separated")


def test_missing_column(tmp_path: Path) -> None:
    rows = [row[:5] for row in good_rows()]
    path = write_csv(tmp_path / "m.csv", rows, header="Date,Open,High,Low,Close")
    assert_error(path, "missing column", None, "volume (found: date, open, high, low, close)")


def test_missing_date_column(tmp_path: Path) -> None:
    rows = [row[1:] for row in good_rows()]
    path = write_csv(tmp_path / "m.csv", rows, header="Open,High,Low,Close,Volume")
    assert_error(path, "missing column", None, "no Date, Time, Datetime or Timestamp column")


def test_empty_cell_is_nan(tmp_path: Path) -> None:
    rows = good_rows()
    rows[2][4] = ""
    assert_error(write_csv(tmp_path / "m.csv", rows), "NaN", 3, "close is missing")


def test_text_in_a_number_column(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][2] = "twelve"
    assert_error(write_csv(tmp_path / "m.csv", rows), "not a number", 2, "high='twelve'")


def test_duplicate_date(tmp_path: Path) -> None:
    rows = good_rows()
    rows[4][0] = rows[3][0]
    assert_error(write_csv(tmp_path / "m.csv", rows), "duplicate date", 5, "repeats row 4")


def test_decreasing_date(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][0], rows[2][0] = rows[2][0], rows[1][0]
    assert_error(write_csv(tmp_path / "m.csv", rows), "decreasing date", 3)


@pytest.mark.parametrize("price", ["0", "-3.5"])
def test_zero_or_negative_price(tmp_path: Path, price: str) -> None:
    rows = good_rows()
    rows[2][3] = price
    assert_error(write_csv(tmp_path / "m.csv", rows), "non-positive price", 3, f"low={price}")


def test_high_below_low(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][2] = "9.5"  # low is 10.0 on this row
    path = write_csv(tmp_path / "x.csv", rows)
    assert_error(
        path, "high < low", 2, f"{path}: row 2: high < low: date=2020-01-03 high=9.5 low=10"
    )


@pytest.mark.parametrize(("column", "name"), [(1, "open"), (4, "close")])
def test_open_or_close_outside_the_range(tmp_path: Path, column: int, name: str) -> None:
    rows = good_rows()
    rows[4][column] = "99"
    rule = f"{name} outside [low, high]"
    assert_error(write_csv(tmp_path / "m.csv", rows), rule, 5, f"{name}=99 low=13 high=15")


def test_date_range_that_selects_nothing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", good_rows())
    assert_error(path, "empty date range", None, "2020-01-02 to 2020-01-09", start="2021")
    assert_error("sp500", "empty date range", None, end="1990-06-30")


def test_bad_start_option() -> None:
    assert_error("sp500", "bad date", None, "--start 'yesterday'", start="yesterday")


def test_unknown_source_name() -> None:
    assert_error(
        "sp5000", "unknown source", None, "sp500, nasdaq, aapl, amzn, nvda, msft, synthetic"
    )


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_text("this is not parquet")
    assert_error(path, "unreadable Parquet", None)


def test_utc_offsets_are_converted_to_utc_and_dropped(tmp_path: Path) -> None:
    rows = good_rows(2)
    rows[0][0], rows[1][0] = "2020-01-02T16:00:00-05:00", "2020-01-03T16:00:00-04:00"
    bars = load_market_data(str(write_csv(tmp_path / "tz.csv", rows)))
    assert bars.index.tz is None
    assert list(bars.index) == [pd.Timestamp("2020-01-02 21:00"), pd.Timestamp("2020-01-03 20:00")]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2020-01-06 00:00:00+09:00", "2020-01-07 00:00:00+09:00"),  # Tokyo, as yfinance writes it
        ("2020-03-27T00:00:00+01:00", "2020-03-30T00:00:00+02:00"),  # Berlin across summer time
        ("2020-01-06T00:00:00.000-05:00", "2020-01-07T00:00:00.000-05:00"),
        ("20200106T0000+09:00", "20200107T0000+09:00"),
    ],
)
def test_daily_bars_at_local_midnight_keep_their_local_dates(
    tmp_path: Path, first: str, second: str
) -> None:
    rows = good_rows(2)
    rows[0][0], rows[1][0] = first, second
    bars = load_market_data(str(write_csv(tmp_path / "tz.csv", rows)))
    assert list(bars.index) == [pd.Timestamp(first[:-6]), pd.Timestamp(second[:-6])]


def test_midnight_with_an_offset_on_some_rows_only_is_converted_to_utc(tmp_path: Path) -> None:
    rows = good_rows(2)
    rows[0][0], rows[1][0] = "2020-01-06T00:00:00+09:00", "2020-01-06T12:00:00+09:00"
    bars = load_market_data(str(write_csv(tmp_path / "tz.csv", rows)))
    assert list(bars.index) == [pd.Timestamp("2020-01-05 15:00"), pd.Timestamp("2020-01-06 03:00")]


def test_spreadsheet_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "excel.csv", good_rows(2))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_market_data(str(path))["close"].tolist() == [10.0, 11.0]


def test_semicolons_with_decimal_commas_are_a_wrong_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "european.csv"
    path.write_text("Date;Open;High;Low;Close;Volume\n2020-01-02;9,5;11,0;9,0;10,0;1000\n")
    assert_error(path, "wrong delimiter", None, "uses ';'")
