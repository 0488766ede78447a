"""`hybrid-trader paper --follow`: a CSV that grows while the real command follows it, a SIGKILL
and a resume, ending exactly as runs that each read the file as it stood; appended bars extend a
run, an edited past is refused; and the feed's waiting rule on its own (`FileFeed`)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from envs.data.sources import load_market_data
from llm import load_settings
from orchestrator.errors import ConfigError, JournalIdentityError
from orchestrator.runs.follow import FileFeed, IdlePoller
from orchestrator.runs.paper import run_paper
from tests.paper_helpers import CLI, END, clean_environment, comparable_tables, tiny_agent

TIMEOUT_S = 300.0
POLL_S = 0.02
APPENDED = 6  # bars appended while the command follows the file, as many again after the kill


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_market_data("synthetic", end=END)


def write_rows(path: Path, rows: pd.DataFrame, header: bool) -> None:
    """Append `rows` to `path` as pandas writes them, one write per line, as a feed does."""
    lines = rows.to_csv(header=header).splitlines(keepends=True)
    with path.open("a") as handle:
        for line in lines:
            handle.write(line)
            handle.flush()


def committed_bars(journal: Path) -> int:
    try:
        connection = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(connection.execute("SELECT COUNT(*) FROM bars").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def wait_for(process: subprocess.Popen[bytes], journal: Path, bars: int, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while committed_bars(journal) < bars:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the followed run made no progress"
        time.sleep(POLL_S)


def follow(agent: Path, path: Path, journal: Path, max_idle_s: float) -> subprocess.Popen[bytes]:
    assert CLI.is_file(), f"{CLI} is missing: run `pip install -e .` first"
    args = [
        "paper", "--agent", str(agent), "--data", str(path), "--llm", "offline",
        "--journal", str(journal), "--follow", "--poll", str(POLL_S), "--max-idle", str(max_idle_s),
    ]  # fmt: skip
    with journal.with_name("output.log").open("ab") as output:
        return subprocess.Popen(
            [str(CLI), *args],
            cwd=journal.parent,
            env=clean_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def paper(agent: Path, path: Path, journal: Path) -> int:
    """A run over the file as it stands now, in this process; the bars it holds."""
    result = run_paper(agent, str(path), "offline", journal, settings=load_settings({}, None))
    return result.total


def test_a_followed_file_killed_and_resumed_ends_as_runs_over_each_version(
    agent: Path, bars: pd.DataFrame, tmp_path: Path
) -> None:
    start = bars.iloc[: -2 * APPENDED]
    # The expected journal: one run over the first version of the file, extended by another run
    # once every bar is there (the same file name: the symbol comes from it).
    (tmp_path / "batch").mkdir()
    (tmp_path / "follow").mkdir()
    batch_file = tmp_path / "batch" / "prices.csv"
    write_rows(batch_file, start, header=True)
    batch = tmp_path / "batch" / "journal.sqlite"
    first = paper(agent, batch_file, batch)
    write_rows(batch_file, bars.iloc[-2 * APPENDED :], header=False)
    assert paper(agent, batch_file, batch) == first + 2 * APPENDED

    path = tmp_path / "follow" / "prices.csv"
    journal = tmp_path / "follow" / "journal.sqlite"
    log = journal.with_name("output.log")
    write_rows(path, start, header=True)
    process = follow(agent, path, journal, max_idle_s=TIMEOUT_S)
    try:
        wait_for(process, journal, first, log)
        for row in range(APPENDED):  # each bar decided as it arrives
            write_rows(path, bars.iloc[len(start) + row : len(start) + row + 1], header=False)
            wait_for(process, journal, first + row + 1, log)
    finally:
        process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    write_rows(path, bars.iloc[-APPENDED:], header=False)  # arrives while nothing follows
    resumed = follow(agent, path, journal, max_idle_s=0.5)
    assert resumed.wait(timeout=TIMEOUT_S) == 0, log.read_text()

    expected = comparable_tables(batch)
    for name, table in comparable_tables(journal).items():
        assert table.equals(expected[name]), name


def test_an_edited_past_is_refused_naming_the_bar(
    agent: Path, bars: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "prices.csv"
    journal = tmp_path / "journal.sqlite"
    write_rows(path, bars, header=True)
    paper(agent, path, journal)
    edited = bars.copy()
    edited.iloc[-3, edited.columns.get_loc("volume")] += 1.0
    path.unlink()
    write_rows(path, edited, header=True)
    before = journal.read_bytes()
    with pytest.raises(JournalIdentityError, match="the data's past was edited") as caught:
        paper(agent, path, journal)
    assert f"volume={bars['volume'].iloc[-3]}" in str(caught.value)
    assert journal.read_bytes() == before


def test_follow_needs_a_file() -> None:
    with pytest.raises(ConfigError, match="--follow needs a CSV or Parquet file"):
        FileFeed.of("sp500", IdlePoller(1.0))


class FakeTime:
    """A clock that only the feed's sleeps move, and a hook run at each sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: list[Callable[[], None]] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def test_the_feed_waits_for_a_whole_line_and_gives_up_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("date,open\n")
    fake = FakeTime()
    feed = FileFeed(path, IdlePoller(1.0, 10.0, clock=lambda: fake.now, sleep=fake.sleep))

    def append(text: str) -> Callable[[], None]:
        def write() -> None:
            with path.open("a") as handle:
                handle.write(text)

        return write

    fake.on_sleep = [append("2020-01-02,1"), lambda: None, append("0\n")]
    assert feed.wait()  # only once the row's newline is written
    assert fake.now == 3.0
    assert not feed.wait()  # nothing more for 10 s
    assert fake.now == 13.0
