"""`hybrid-trader paper --broker alpaca` against the fake Alpaca on 127.0.0.1: every order placed
once under its client id (a dropped connection included), fills journaled, a resume that sends
nothing twice, keys that appear in no file and no output, and missing keys refused up front."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.cli import app as cli
from tests.alpaca_fake_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.paper_helpers import clean_environment, paper_args, tiny_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture
def alpaca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    """The fake account, the keys in the environment as a user sets them, a clean folder."""
    monkeypatch.chdir(tmp_path)
    for name in os.environ.keys() - clean_environment().keys():
        monkeypatch.delenv(name)
    with FakeAlpaca(cash=1_000_000.0) as server:
        monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
        monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("ALPACA_BASE_URL", server.base_url)
        yield server


def run_cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`hybrid-trader ARGS` in this process: (exit code, everything it printed)."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capfd.readouterr()
    return code, captured.out + captured.err


def journal_orders(journal: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(journal) as connection:
        return connection.execute(
            "SELECT client_order_id, broker_order_id, duplicate FROM orders ORDER BY rowid"
        ).fetchall()


def test_a_paper_run_on_alpaca_places_each_order_once_and_never_shows_the_keys(
    agent: Path, alpaca: FakeAlpaca, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    alpaca.fill_at = 100.0  # each order fills whole as it is placed
    alpaca.drop_after_accept = True  # the first order's answer is lost on the way back
    journal = tmp_path / "journal.sqlite"
    code, output = run_cli(capfd, *paper_args(agent, journal, "--broker", "alpaca"))
    assert code == 0, output

    orders = journal_orders(journal)
    sent = [(client, broker) for client, broker, _ in orders if broker != "not-sent"]
    assert sent and all(duplicate == 0 for *_, duplicate in orders)
    assert {client: alpaca.orders[client].id for client, _ in sent} == dict(sent)
    assert alpaca.posts == len(alpaca.orders) == len(sent)  # nothing placed twice
    with sqlite3.connect(journal) as connection:
        (fills,) = connection.execute("SELECT COUNT(*) FROM fills").fetchone()
        (last_bar,) = connection.execute("SELECT MAX(bar_index) FROM bars").fetchone()
    unread = sent[-1][0].endswith(f"-{last_bar}-rebalance")  # its fill would be read next bar
    assert fills == len(sent) - unread

    code, again = run_cli(capfd, *paper_args(agent, journal, "--broker", "alpaca"))
    assert code == 0 and "complete" in again and alpaca.posts == len(sent)
    assert all(headers["APCA-API-SECRET-KEY"] == SECRET_KEY for headers in alpaca.headers_seen)
    code, report = run_cli(capfd, "weights", "--journal", str(journal), "--out", "report")
    assert code == 0, report
    for path in tmp_path.rglob("*"):  # the journal, its ledger, cache and lock, the report
        if path.is_file():
            assert SECRET_KEY.encode() not in path.read_bytes(), path
            assert API_KEY.encode() not in path.read_bytes(), path
    printed = output + again + report
    assert SECRET_KEY not in printed and API_KEY not in printed


def test_the_journal_remembers_the_broker(
    agent: Path, alpaca: FakeAlpaca, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    alpaca.fill_at = 100.0
    journal = tmp_path / "journal.sqlite"
    assert run_cli(capfd, *paper_args(agent, journal, "--broker", "alpaca"))[0] == 0
    code, output = run_cli(capfd, *paper_args(agent, journal))  # the simulated broker now
    assert code == 2 and "was made by another run" in output and "broker" in output


def test_missing_keys_are_one_error_line_and_leave_no_journal(
    agent: Path, alpaca: FakeAlpaca, tmp_path: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("ALPACA_SECRET_KEY")
    journal = tmp_path / "journal.sqlite"
    code, output = run_cli(capfd, *paper_args(agent, journal, "--broker", "alpaca"))
    assert code == 2
    assert output.splitlines() == [
        "error: Alpaca needs ALPACA_SECRET_KEY in the environment: the keys of an Alpaca"
        " paper-trading account"
    ]
    assert not journal.exists() and alpaca.posts == 0
