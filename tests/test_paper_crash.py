"""THE crash test: the real `hybrid-trader paper`, killed with SIGKILL at random points and run
again until it completes, ends exactly as a run that was never interrupted.

Kill moments are seeded: once as soon as the journal file appears (the journal being created, or
its first bar), then each time a random number of bars after the last kill, plus a random few
milliseconds, so that the kill lands anywhere inside a bar: while the analysts are asked, after
the order went to the broker, during the commit. The uninterrupted run is `run_paper` in this
process, into another journal.

The two journals must agree bit for bit, not to a tolerance: a resumed run restores every float
from the journal exactly (SQLite REAL and JSON both hold a float64 whole), and then does the same
arithmetic in the same order as the uninterrupted run, so any difference at all is a bug.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from agents import DRLAgent
from envs import execute
from llm import load_settings
from orchestrator.execution.broker import client_order_id
from orchestrator.jobs import trader_choices
from orchestrator.runs.paper import run_paper
from orchestrator.runs.paper_config import PaperConfig
from tests.paper_helpers import (
    CLI,
    END,
    N_BARS,
    clean_environment,
    comparable_tables,
    paper_args,
    tiny_agent,
)

SEED = 7
CASH = 100_000.0
POLL_S = 0.002
TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture(scope="module")
def uninterrupted(agent: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool], Path]:
    """The journal of the run never interrupted, without or with a trade memory (made once)."""
    journals: dict[bool, Path] = {}

    def journal_of(memory: bool) -> Path:
        if memory not in journals:
            journal = tmp_path_factory.mktemp("uninterrupted") / "journal.sqlite"
            config = PaperConfig(trader=trader_choices(memory=memory))
            settings = load_settings({}, None)
            run_paper(
                agent, "synthetic", "offline", journal, end=END, settings=settings, config=config
            )
            journals[memory] = journal
        return journals[memory]

    return journal_of


def committed_bars(journal: Path) -> int:
    """Bars the journal has committed, read as a report would (0 while there is no journal)."""
    try:
        connection = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        return int(connection.execute("SELECT COUNT(*) FROM bars").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        connection.close()


def start_command(
    agent: Path, journal: Path, log: Path, extra: tuple[str, ...]
) -> subprocess.Popen[bytes]:
    assert CLI.is_file(), f"{CLI} is missing: run `pip install -e .` first"
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(CLI), *paper_args(agent, journal, *extra)],
            cwd=journal.parent,
            env=clean_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def kill_when(process: subprocess.Popen[bytes], due: Callable[[], bool], delay_s: float) -> None:
    """SIGKILL `process` `delay_s` after `due()` first holds; it must not finish before."""
    deadline = time.monotonic() + TIMEOUT_S
    while not due():
        assert process.poll() is None, f"the run ended (code {process.returncode}) before the kill"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(POLL_S)
    time.sleep(delay_s)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


def crash_until_complete(agent: Path, journal: Path, kills: int, *extra: str) -> list[int]:
    """Kill the command (with the `extra` options) `kills` times, then let it finish; the bars
    committed at each kill.

    The first kill comes as soon as the journal file appears; the others once the journal holds
    a seeded random number of bars (each launch at least one bar further than the last), plus a
    random delay of up to 30 ms, about a bar. The bars are drawn from the first three quarters of
    the run: on a loaded machine the run can commit bars faster than this process polls, and a
    kill aimed at the last few bars would land after the end."""
    rng = np.random.default_rng(SEED)
    latest = N_BARS * 3 // 4
    targets = sorted(rng.choice(np.arange(1, latest), size=kills - 1, replace=False))
    log = journal.with_name("output.log")
    committed: list[int] = []
    for kill in range(kills):
        done = committed_bars(journal)
        if done >= N_BARS - 1:
            break  # too little left to kill the run before it ends
        process = start_command(agent, journal, log, extra)
        if kill == 0:
            kill_when(process, journal.exists, delay_s=0.0)
        else:
            target = max(int(targets[kill - 1]), done + 1)
            delay_s = float(rng.uniform(0.0, 0.03))
            kill_when(process, lambda target=target: committed_bars(journal) >= target, delay_s)
        committed.append(committed_bars(journal))
    done = committed_bars(journal)
    process = start_command(agent, journal, log, extra)
    assert process.wait(timeout=TIMEOUT_S) == 0, log.read_text()
    assert f"{N_BARS} bars: {N_BARS - done} traded now, {done} resumed" in log.read_text()
    return committed


def assert_consistent(journal: Path, agent: Path) -> None:
    """The invariants on their own: each bar once, each order once, each fill there, cash exact."""
    tables = comparable_tables(journal)
    bars = list(tables["bars"]["bar_index"])
    assert bars == list(range(bars[0], bars[0] + N_BARS))
    assert list(tables["decisions"]["bar_index"]) == bars  # no bar decided twice, none skipped

    with sqlite3.connect(journal) as connection:
        (run_id,) = connection.execute("SELECT run_id FROM run").fetchone()
        orders = connection.execute(
            "SELECT client_order_id, bar_index, intent, quantity, broker_order_id, duplicate"
            " FROM orders ORDER BY rowid"
        ).fetchall()
        fills = connection.execute(
            "SELECT client_order_id, bar_index, shares, reference_price FROM fills ORDER BY rowid"
        ).fetchall()
    checks = tables["risk_checks"]
    assert [row[1] for row in orders] == list(checks.loc[checks["order_shares"] != 0, "bar_index"])
    assert [row[0] for row in orders] == [client_order_id(run_id, b, i) for _, b, i, *_ in orders]
    assert all(row[5] == 0 for row in orders)  # no order id was ever sent twice

    filled = {client_id: (bar, shares) for client_id, bar, shares, _ in fills}
    for client_id, bar, _, quantity, broker_id, _ in orders:
        if broker_id != "not-sent" and bar != bars[-1]:  # the last bar's order never fills
            assert filled.pop(client_id) == (bar + 1, quantity)
    assert filled == {}

    cost_model = DRLAgent.load(agent).env_config.cost_model
    fills_by_bar: dict[int, list[tuple[float, float]]] = {}
    for _, bar, shares, price in fills:
        fills_by_bar.setdefault(bar, []).append((shares, price))
    cash, held = CASH, 0.0
    for bar, journal_cash, journal_shares in tables["positions"][
        ["bar_index", "cash", "shares"]
    ].values:
        for shares, price in fills_by_bar.get(int(bar), []):
            fill = execute(cash, held, shares, price, cost_model)
            cash, held = float(fill.cash), float(fill.shares)
        assert (journal_cash, journal_shares) == (cash, held), f"bar {bar}"


@pytest.mark.parametrize(
    ("kills", "memory"), [(4, True), pytest.param(12, False, marks=pytest.mark.slow)]
)
def test_a_run_killed_at_random_points_ends_exactly_as_an_uninterrupted_one(
    agent: Path, uninterrupted: Callable[[bool], Path], tmp_path: Path, kills: int, memory: bool
) -> None:
    """With a trade memory (the default run: every table written), its closed trades, lessons
    (vectors too) and recalls commit with their bar: the resumed run holds exactly the lessons
    of the uninterrupted one."""
    journal = tmp_path / "journal.sqlite"
    committed = crash_until_complete(agent, journal, kills, *(["--memory"] if memory else []))
    assert committed[-1] < N_BARS and max(committed) > 0  # the kills landed inside the run

    assert_consistent(journal, agent)
    expected = comparable_tables(uninterrupted(memory))
    assert (len(expected["lessons"]) > 0) == memory
    for name, table in comparable_tables(journal).items():
        assert table.equals(expected[name]), name  # the whole equity curve among them
