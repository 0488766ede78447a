"""`hybrid-trader data`, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.market_helpers import good_rows, write_csv

CLI = Path(sys.executable).with_name("hybrid-trader")


def run_data(*args: str) -> subprocess.CompletedProcess[str]:
    assert CLI.is_file(), f"{CLI} is missing: run `pip install -e .` first"
    return subprocess.run(
        [str(CLI), "data", *args], capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {expected}"]
    assert "Traceback" not in result.stderr


def test_sp500_is_described_with_bars_dates_and_splits() -> None:
    result = run_data("--data", "sp500")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("5,031", "1999-01-04 to 2018-12-31", "calendar: train to 2012"):
        assert text in out
    split_rows = [
        line.split()
        for line in out.splitlines()
        if line.split()[1:2] in (["train"], ["validation"], ["test"])
    ]
    assert [row[1:6:2] for row in split_rows] == [
        ["train", "3,521", "1999-01-04"],
        ["validation", "504", "2013-01-02"],
        ["test", "1,006", "2015-01-02"],
    ]
    assert out.splitlines()[-1] == "train with the defaults: yes"


def test_a_csv_with_a_date_range(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "prices.csv", good_rows(20))
    result = run_data("--data", str(path), "--start", "2020-01-06", "--end", "2020-01-17")
    assert result.returncode == 0, result.stderr
    assert "2020-01-06 to 2020-01-17" in result.stdout and "chronological" in result.stdout
    last = result.stdout.splitlines()[-1]  # described, but far too short for an agent
    assert last.startswith("train with the defaults: no (") and "need 20" in last


def test_bad_file_prints_one_error_line_and_exits_2(tmp_path: Path) -> None:
    rows = good_rows()
    rows[1][2] = "9.5"  # high below this row's low of 10.0
    path = write_csv(tmp_path / "bad.csv", rows)
    assert_one_error_line(
        run_data("--data", str(path)), f"{path}: row 2: high < low: date=2020-01-03 high=9.5 low=10"
    )


def test_unknown_source_is_one_line() -> None:
    assert_one_error_line(
        run_data("--data", "sp5000"),
        "sp5000: unknown source: did you mean `sp500`? expected one of sp500, nasdaq, aapl, amzn,"
        " nvda, msft, synthetic or a path to a .csv/.txt/.parquet/.pq file",
    )


def test_a_source_name_with_a_typo_gets_a_suggestion() -> None:
    result = run_data("--data", "SP500")
    assert result.returncode == 2
    assert "SP500: unknown source: did you mean `sp500`?" in result.stderr


def test_hourly_bars_show_their_bar_size_and_periods_per_year(tmp_path: Path) -> None:
    rows = good_rows(30)
    hours = pd.date_range("2021-01-02", periods=30, freq="h")  # a Saturday: a 24/7 market
    for row, hour in zip(rows, hours, strict=True):
        row[0] = hour.strftime("%d.%m.%Y %H:%M:%S.000")
    path = write_csv(tmp_path / "btc.csv", rows, header="Time,Open,High,Low,Close,Volume")
    result = run_data("--data", str(path))
    assert result.returncode == 0, result.stderr
    assert "1 hour, 7 days a week" in result.stdout and "8,760 bars a year" in result.stdout
    result = run_data("--data", str(path), "--periods-per-year", "6000")
    assert "annualised with 6,000 (given)" in result.stdout


def test_ambiguous_dates_name_the_file_and_the_option(tmp_path: Path) -> None:
    rows = good_rows(3)
    for row, day in zip(rows, ("01/02/2017", "01/03/2017", "01/04/2017"), strict=True):
        row[0] = day
    path = write_csv(tmp_path / "eu.csv", rows)
    result = run_data("--data", str(path))
    assert_one_error_line(
        result,
        f"{path}: row 1: ambiguous date: date='01/02/2017' reads as 2017-01-02 month first and"
        " 2017-02-01 day first; pass --date-format, e.g. --date-format '%d/%m/%Y'",
    )
    result = run_data("--data", str(path), "--date-format", "%d/%m/%Y")
    assert result.returncode == 0, result.stderr
    assert "2017-02-01 to 2017-04-01" in result.stdout
