"""Alpaca's bars as a feed: `hybrid-trader feed` against the fake Alpaca on 127.0.0.1 appends
closed bars only, once each, to a CSV that the data loader reads and `paper --follow` follows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from envs.data.sources import load_market_data
from orchestrator.cli import app as cli
from orchestrator.cli.feed import TIMEFRAME_NAMES
from orchestrator.execution.alpaca_bars import TIMEFRAMES, AlpacaBars, StockHistoricalDataClient
from orchestrator.execution.broker import BrokerError
from orchestrator.runs.follow import IdlePoller
from tests.alpaca_fake_server import API_KEY, SECRET_KEY, FakeAlpaca


@pytest.fixture
def alpaca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    monkeypatch.chdir(tmp_path)
    with FakeAlpaca() as server:
        monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
        monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("ALPACA_DATA_URL", server.base_url)
        yield server


def hours(first: int, last: int) -> list[str]:
    return [f"2024-01-02T{hour:02d}:00:00Z" for hour in range(first, last)]


def feed(*args: str, capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        cli.main(["feed", "--symbol", "SPY", "--bar", "1Hour", *args])
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capfd.readouterr()
    return code, captured.out + captured.err


def test_closed_bars_are_appended_once_and_read_back_as_hourly_bars(
    alpaca: FakeAlpaca, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for price, start in enumerate(hours(10, 14), start=100):
        alpaca.add_bar("SPY", start, float(price))
    out = tmp_path / "spy.csv"
    code, output = feed("--out", str(out), "--start", "2024-01-02", capfd=capfd)
    assert code == 0, output
    assert "4 bars appended" in output
    for price, start in enumerate(hours(14, 16), start=104):
        alpaca.add_bar("SPY", start, float(price))
    assert feed("--out", str(out), capfd=capfd)[0] == 0  # no --start: after the file's last bar
    bars = load_market_data(str(out))
    assert list(bars.index.hour) == list(range(10, 16))
    assert bars["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    assert SECRET_KEY not in out.read_text()


def test_the_bar_still_forming_is_not_written(alpaca: FakeAlpaca, tmp_path: Path) -> None:
    for price, start in enumerate(hours(10, 13), start=100):
        alpaca.add_bar("SPY", start, float(price))
    client = StockHistoricalDataClient(API_KEY, SECRET_KEY, url_override=alpaca.base_url)
    now = pd.Timestamp("2024-01-02 12:30")  # the 12:00 bar closes at 13:00
    bars = AlpacaBars(client, symbol="SPY", timeframe="1Hour", clock=lambda: now)
    closed = bars.closed_after(pd.Timestamp("2024-01-02"))
    assert list(closed.index.hour) == [10, 11]


def test_following_stops_when_idle(alpaca: FakeAlpaca, tmp_path: Path) -> None:
    from orchestrator.jobs import feed_alpaca

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] == 1.0:
            alpaca.add_bar("SPY", "2024-01-02T11:00:00Z", 101.0)

    alpaca.add_bar("SPY", "2024-01-02T10:00:00Z", 100.0)
    poller = IdlePoller(1.0, 3.0, clock=lambda: now[0], sleep=sleep)
    out = tmp_path / "spy.csv"
    assert feed_alpaca("SPY", "1Hour", out, "2024-01-02", follow=poller, say=lambda _: None) == 2
    assert now[0] == 4.0  # the second bar at 1 s, then 3 s without one


def test_bad_bar_size_missing_start_and_missing_keys_are_one_line_errors(
    alpaca: FakeAlpaca, tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert tuple(TIMEFRAMES) == TIMEFRAME_NAMES
    out = str(tmp_path / "spy.csv")
    code, output = feed("--out", out, "--bar", "2Hour", "--start", "2024", capfd=capfd)
    assert (code, output) == (
        2,
        "error: bar size '2Hour' is not one of 1Min, 5Min, 15Min, 1Hour, 1Day\n",
    )
    code, output = feed("--out", out, capfd=capfd)
    assert (code, output.startswith(f"error: {out} does not exist yet: give --start")) == (2, True)
    monkeypatch.delenv("ALPACA_API_KEY")
    code, output = feed("--out", out, "--start", "2024", capfd=capfd)
    assert code == 2 and "Alpaca needs ALPACA_API_KEY in the environment" in output
    assert not os.path.exists(out)
    with pytest.raises(BrokerError, match="HTTP 401"):
        AlpacaBars.from_environment("SPY", "1Day", {"ALPACA_API_KEY": "x", "ALPACA_SECRET_KEY": "y",
            "ALPACA_DATA_URL": alpaca.base_url}).closed_after(pd.Timestamp("2024"))  # fmt: skip
