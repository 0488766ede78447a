"""The paper-trade journal: round trip, one transaction per bar, refusals, locks, crash, resume."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agents import DRLDecision
from envs import CostModel
from llm import LedgerEntry
from llm.gateway.ledger import Ledger
from orchestrator.errors import (
    JournalCorruptError,
    JournalError,
    JournalIdentityError,
    JournalLockedError,
)
from orchestrator.execution.broker import (
    OrderAck,
    OrderRequest,
    OrderStatus,
    client_order_id,
    resubmit_pending,
)
from orchestrator.execution.paper_broker import PaperBroker
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.execution.risk import RiskManager
from orchestrator.journal.reader import JournalReader
from orchestrator.journal.writer import Journal
from orchestrator.memory import MemoryRecords, write_memory_file
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate
from tests.journal_helpers import (
    IDENTITY,
    bar,
    decision,
    fill_ids,
    finish,
    llm_view,
    record_plain_bar,
    rows_of_bar,
    unrecorded_fills,
)

ROOT = Path(__file__).resolve().parents[1]
COSTS = CostModel(commission_bps=1.0, slippage_bps=2.0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "paper.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    opened = Journal.open(path, IDENTITY)
    yield opened
    opened.close()


def _order(run_id: str, bar_index: int, quantity: float) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id(run_id, bar_index, "rebalance"),
        symbol="ASSET",
        quantity=quantity,
        decision_bar=bar_index,
        intent="rebalance",
    )


def _ack(order: OrderRequest, status: OrderStatus = OrderStatus.ACCEPTED) -> OrderAck:
    return OrderAck(
        order.client_order_id, f"b-{order.client_order_id}", "ASSET", order.quantity, status
    )


# ---- creation, identity, round trip ----------------------------------------------------------


def test_a_new_journal_keeps_its_run_id_and_identity_across_reopening(path: Path) -> None:
    with Journal.open(path, IDENTITY) as journal:
        run_id = journal.run_id
        assert journal.last_completed_bar() is None and journal.restore_state() is None
    with Journal.open(path, IDENTITY) as journal:
        assert journal.run_id == run_id and len(run_id) == 32
        assert journal.identity.config == IDENTITY.config
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_every_record_round_trips_and_restore_state_continues_exactly(path: Path) -> None:
    weights = HedgeWeights()
    risk = RiskManager(cost_model=COSTS)
    with Journal.open(path, IDENTITY) as journal:
        run_id = journal.run_id
        portfolio = PortfolioState.opening(10_000.0)
        first = bar(0, 100.0, 101.0)
        hybrid = decision(0.5, 1.0, weights.drl_weight)
        check = risk.check(hybrid.target_position, portfolio, first.close, first.timestamp.date())
        order = _order(run_id, 0, check.order_shares)
        with journal.record_bar(first) as writer:
            drl = DRLDecision(3, 0.5, 0.8, q_values=np.array([0.1, 0.2, 0.3, 0.4]))
            writer.record_decision(hybrid, drl=drl, llm=llm_view(0))
            writer.record_risk_check(check)
            writer.record_order(order, _ack(order))
            writer.record_llm_call(LedgerEntry("meta_orchestrator", "m1", "m1", 10, 5, 0.25))
            writer.record_state(
                portfolio=check.portfolio,
                weights=weights,
                llm_view=llm_view(0),
                loop_state={"k": 1},
            )
        assert journal.pending_orders() == (order,)
        second = bar(1, 102.0, 103.0)
        broker = PaperBroker(10_000.0, cost_model=COSTS)
        broker.submit(order)
        broker.on_bar_open(1, second.open)
        (fill,) = broker.fills(order.client_order_id)
        portfolio = check.portfolio.filled(fill.shares, fill.reference_price, COSTS)
        update = weights.update(drl_position=0.5, llm_position=0.6, bar_return=0.01, label="b1")
        with journal.record_bar(second) as writer:
            writer.record_fill(fill)
            writer.record_decision(decision(1.0, 1.0, weights.drl_weight))
            writer.record_weight_update(update, decision_bar=0)
            writer.record_state(
                portfolio=portfolio, weights=weights, llm_view=llm_view(0), loop_state={"k": 2}
            )

    with Journal.open(path, IDENTITY) as journal:
        state = journal.restore_state()
        assert state is not None
        assert state.bar == second and state.portfolio == portfolio
        assert state.weight_history == weights.history == (update,)
        assert state.llm_view == llm_view(0)
        assert state.pending_orders == () and dict(state.loop_state) == {"k": 2}
        assert fill_ids(path) == {fill.fill_id} and journal.llm_spend() == 0.25
        assert len(journal.table("llm_views")) == 1  # asked once, used at two bars
        orders = journal.table("orders")
        assert orders[["status", "quantity"]].to_dict("records") == [
            {"status": "filled", "quantity": check.order_shares}
        ]
        decisions = journal.table("decisions")
        assert decisions["llm_asked_at_bar"].iloc[0] == 0
        assert decisions["llm_asked_at_bar"].isna().iloc[1]  # the second bar had no LLM view
        assert decisions["reasoning"].iloc[1] == decision(1.0, 1.0, weights.drl_weight).reasoning
        assert '"q_values":[0.1,0.2,0.3,0.4]' in decisions["drl_json"].iloc[0]
        positions = journal.table("positions")
        assert positions["equity"].tolist() == pytest.approx(
            [10_000.0, portfolio.equity(second.close)]
        )
        assert journal.table("risk_checks")["status"].tolist() == [check.status.value]


def test_an_account_halted_by_the_kill_switch_resumes_with_its_cooldown_left(path: Path) -> None:
    halted = PortfolioState.opening(7_500.0).copy_with(halted=True, halt_bars=7)
    with Journal.open(path, IDENTITY) as journal, journal.record_bar(bar(0)) as writer:
        writer.record_decision(decision(0.0, 0.0))
        finish(writer, halted, HedgeWeights())
    with Journal.open(path, IDENTITY) as journal:
        state = journal.restore_state()
        assert state is not None
        assert (state.portfolio.halted, state.portfolio.halt_bars) == (True, 7)
        assert state.portfolio == halted


# ---- one transaction per bar ------------------------------------------------------------------


class SimulatedCrashError(Exception):
    pass


def test_a_bar_that_fails_midway_leaves_nothing_and_can_be_recorded_again(path: Path) -> None:
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
        order = _order(journal.run_id, 1, 5.0)
        with pytest.raises(SimulatedCrashError), journal.record_bar(bar(1)) as writer:
            writer.record_decision(decision(1.0, 1.0))
            writer.record_order(order, _ack(order))
            writer.record_llm_call(LedgerEntry("chart_analysis", "m", "m", cost_usd=1.0))
            finish(writer, PortfolioState.opening(1.0), HedgeWeights())
            raise SimulatedCrashError
        with pytest.raises(JournalError, match="closed"):
            writer.record_llm_call(LedgerEntry("chart_analysis", "m", "m"))
    assert set(rows_of_bar(path, 1).values()) == {0}
    with Journal.open(path, IDENTITY) as journal:
        assert journal.last_completed_bar() == 0 and journal.pending_orders() == ()
        record_plain_bar(journal, 1)
        assert journal.last_completed_bar() == 1


def test_a_bar_without_its_state_is_refused_and_rolled_back(journal: Journal, path: Path) -> None:
    with (
        pytest.raises(JournalError, match="record_state was not called"),
        journal.record_bar(bar(0)) as writer,
    ):
        writer.record_decision(decision(1.0, 0.0))
    assert journal.last_completed_bar() is None
    assert set(rows_of_bar(path, 0).values()) == {0}


_KILLED_MID_BAR = """
import sys
from orchestrator.journal.writer import Journal
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate
from tests.journal_helpers import IDENTITY, bar, decision, record_plain_bar
import os, signal
journal = Journal.open(sys.argv[1], IDENTITY)
for index in range(3):
    record_plain_bar(journal, index)
with journal.record_bar(bar(3)) as writer:
    writer.record_decision(decision(1.0, 1.0))
    writer.record_state(
        portfolio=PortfolioState.opening(5.0), weights=HedgeWeights(), llm_view=None
    )
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_killed_inside_a_bar_leaves_the_earlier_bars_whole_and_none_of_it(
    path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_BAR, str(path)], cwd=ROOT, timeout=120, check=False
    )
    assert result.returncode == -signal.SIGKILL
    files = [path, path.with_name(path.name + "-wal")]
    before = [file.read_bytes() for file in files]  # bars 0-2 are still in the WAL
    with pytest.raises(JournalIdentityError):
        Journal.open(path, IDENTITY.copy_with(agent_hash="agent-2"))
    assert [file.read_bytes() for file in files] == before
    with Journal.open(path, IDENTITY) as journal:  # the dead process's lock is gone
        assert journal.last_completed_bar() == 2
        assert rows_of_bar(path, 2)["states"] == 1
        assert set(rows_of_bar(path, 3).values()) == {0}
        record_plain_bar(journal, 3)


# ---- rules a bar's records must follow --------------------------------------------------------


def test_bars_are_never_recorded_twice_or_out_of_time_order(journal: Journal) -> None:
    record_plain_bar(journal, 0)
    record_plain_bar(journal, 2)
    with pytest.raises(JournalError, match="never decided twice"):
        record_plain_bar(journal, 2)
    late = bar(3).copy_with(timestamp=bar(1).timestamp)
    with pytest.raises(JournalError, match="does not come after"), journal.record_bar(late):
        pass
    with (
        pytest.raises(JournalError, match="does not come after"),
        journal.record_bar(bar(4).copy_with(timestamp=dt.datetime(2020, 1, 5, tzinfo=dt.UTC))),
    ):
        pass
    assert journal.last_completed_bar() == 2


def test_weight_updates_score_an_earlier_decision_in_unbroken_steps(journal: Journal) -> None:
    record_plain_bar(journal, 0)
    weights = HedgeWeights()
    update = weights.update(drl_position=1.0, llm_position=0.0, bar_return=0.01)
    with (
        pytest.raises(JournalError, match="earlier bar's decision"),
        journal.record_bar(bar(1)) as writer,
    ):
        writer.record_weight_update(update, decision_bar=1)  # its own outcome is not known
    skipped = weights.update(drl_position=1.0, llm_position=0.0, bar_return=0.01)
    with (
        pytest.raises(JournalError, match="step 2 does not follow"),
        journal.record_bar(bar(1)) as writer,
    ):
        writer.record_weight_update(skipped, decision_bar=0)
    with (
        pytest.raises(JournalError, match="the weights have 2 updates but the journal recorded 1"),
        journal.record_bar(bar(1)) as writer,
    ):
        writer.record_weight_update(update, decision_bar=0)
        finish(writer, PortfolioState.opening(1.0), weights)


class _HistoryWalkForbidden(HedgeWeights):
    """Hedge weights whose whole history fails to be read: a bar's state must not need it."""

    @property
    def history(self) -> tuple[WeightUpdate, ...]:
        raise AssertionError("record_state walked the weights' history")


def test_a_bar_state_keeps_one_size_and_the_history_restores_from_its_rows(path: Path) -> None:
    n_bars = 40
    returns = 0.01 * np.sin(np.arange(n_bars))  # deterministic, both signs
    weights, twin = _HistoryWalkForbidden(), HedgeWeights()  # updated alike; twin for checks
    with Journal.open(path, IDENTITY) as journal:
        for index in range(n_bars):
            with journal.record_bar(bar(index)) as writer:
                writer.record_decision(decision(0.5, -0.5, weights.drl_weight))
                if index > 0:
                    move = {"drl_position": 0.5, "llm_position": -0.5, "label": f"bar {index}"}
                    update = weights.update(bar_return=float(returns[index]), drl_cost=1e-4, **move)
                    assert (
                        twin.update(bar_return=float(returns[index]), drl_cost=1e-4, **move)
                        == update
                    )
                    writer.record_weight_update(update, decision_bar=index - 1)
                writer.record_state(
                    portfolio=PortfolioState.opening(1_000.0),
                    weights=weights,
                    llm_view=None,
                    loop_state={"weights": weights.state_dict()},
                )
        states = journal.table("states")
        state = journal.restore_state()
    assert states["n_weight_updates"].tolist() == list(range(n_bars))
    assert state is not None and state.weight_history == twin.history
    restored = HedgeWeights()
    restored.load_state_dict(state.loop_state["weights"], state.weight_history)  # type: ignore[arg-type]
    assert restored.drl_weight == twin.drl_weight != 0.5


def test_an_llm_view_is_stored_once_by_the_bar_that_asked_it(journal: Journal) -> None:
    with journal.record_bar(bar(0)) as writer:
        writer.record_decision(decision(0.5, 0.5), llm=llm_view(0))
        writer.record_state(
            portfolio=PortfolioState.opening(1.0), weights=HedgeWeights(), llm_view=llm_view(0)
        )
    with (
        pytest.raises(JournalError, match="asked at bar 1 was never recorded"),
        journal.record_bar(bar(2)) as writer,
    ):
        writer.record_decision(decision(0.5, 0.5), llm=llm_view(1))
    with (
        pytest.raises(JournalError, match="asked at a later bar"),
        journal.record_bar(bar(2)) as writer,
    ):
        writer.record_decision(decision(0.5, 0.5), llm=llm_view(3))
    with journal.record_bar(bar(2)) as writer:
        writer.record_decision(decision(0.5, 0.5), llm=llm_view(0))
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.table("llm_views")["asked_at_bar"].tolist() == [0]
    assert journal.table("decisions")["llm_asked_at_bar"].tolist() == [0, 0]


def test_a_weight_update_after_the_state_is_refused(journal: Journal) -> None:
    record_plain_bar(journal, 0)
    weights = HedgeWeights()
    update = weights.update(drl_position=1.0, llm_position=0.0, bar_return=0.01)
    with (
        pytest.raises(JournalError, match="before record_state"),
        journal.record_bar(bar(1)) as writer,
    ):
        writer.record_decision(decision(0.5, 0.5))
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
        writer.record_weight_update(update, decision_bar=0)
    assert journal.last_completed_bar() == 0


def test_weight_update_rows_that_do_not_match_the_saved_weights_are_corrupt(path: Path) -> None:
    weights = HedgeWeights()
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
        update = weights.update(drl_position=1.0, llm_position=0.0, bar_return=0.01)
        with journal.record_bar(bar(1)) as writer:
            writer.record_decision(decision(0.5, 0.5))
            writer.record_weight_update(update, decision_bar=0)
            finish(writer, PortfolioState.opening(1.0), weights)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("DELETE FROM weight_updates")
    connection.close()
    with (
        Journal.open(path, IDENTITY) as journal,
        pytest.raises(JournalCorruptError, match="saved after 1 weight updates, but it holds 0"),
    ):
        journal.restore_state()


def test_fills_must_match_a_recorded_order_and_close_it_when_they_add_up(journal: Journal) -> None:
    order = _order(journal.run_id, 0, 10.0)
    with journal.record_bar(bar(0)) as writer:
        writer.record_order(
            order, _ack(order, OrderStatus.FILLED)
        )  # ack says filled: still pending
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.pending_orders() == (order,)
    broker = PaperBroker(1_000.0, cost_model=COSTS)
    broker.submit(order.copy_with(quantity=4.0))
    broker.on_bar_open(1, 100.0)
    (part,) = broker.fills(order.client_order_id)
    with journal.record_bar(bar(1)) as writer:
        writer.record_fill(part)
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.pending_orders() == (order,)
    assert journal.table("orders")["status"].tolist() == ["partially_filled"]
    too_much = replace(part, fill_id="f2", bar_index=2, shares=7.0)
    wrong_side = replace(part, fill_id="f3", bar_index=2, shares=-1.0)
    stranger = replace(part, fill_id="f4", bar_index=2, client_order_id="unknown")
    for fill, message in (
        (too_much, "does not fit"),
        (wrong_side, "does not fit"),
        (stranger, "never recorded"),
    ):
        with pytest.raises(JournalError, match=message), journal.record_bar(bar(2)) as writer:
            writer.record_fill(fill)
    with (
        pytest.raises(JournalError, match="recorded with that bar"),
        journal.record_bar(bar(2)) as writer,
    ):
        writer.record_fill(replace(part, fill_id="f5", shares=6.0))  # stamped bar 1
    with journal.record_bar(bar(2)) as writer:
        writer.record_fill(replace(part, fill_id="f6", bar_index=2, shares=6.0))
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.pending_orders() == ()
    assert journal.table("orders")["status"].tolist() == ["filled"]


def test_rejected_and_canceled_orders_are_not_pending(journal: Journal) -> None:
    rejected = _order(journal.run_id, 0, 1.0)
    canceled = rejected.copy_with(client_order_id="c2", intent="second")
    with journal.record_bar(bar(0)) as writer:
        writer.record_order(rejected, replace(_ack(rejected, OrderStatus.REJECTED), reason="no"))
        writer.record_order(canceled, _ack(canceled))
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.pending_orders() == (canceled,)
    with journal.record_bar(bar(1)) as writer:
        with pytest.raises(JournalError, match="only a canceled or rejected"):
            writer.record_order_closed(_ack(canceled, OrderStatus.FILLED))
        writer.record_order_closed(replace(_ack(canceled, OrderStatus.CANCELED), reason="expired"))
        finish(writer, PortfolioState.opening(1.0), HedgeWeights())
    assert journal.pending_orders() == ()
    assert journal.table("orders")["reason"].tolist() == ["no", "expired"]


def test_an_order_belongs_to_the_bar_that_decided_it(journal: Journal) -> None:
    order = _order(journal.run_id, 5, 1.0)
    with pytest.raises(JournalError, match="decided at bar 5"), journal.record_bar(bar(0)) as w:
        w.record_order(order, _ack(order))
    with pytest.raises(JournalError, match="ids are unique"), journal.record_bar(bar(5)) as w:
        w.record_order(order, _ack(order))
        w.record_order(order, _ack(order))


# ---- refusals: identity, lock, corruption -----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"agent_hash": "agent-2"}, "agent_hash (another agent, or the agent retrained)"),
        ({"data_hash": "data-2"}, "data_hash (other bars up to the run's first decision"),
        ({"data_source": "sp500"}, "data_source (another source)"),
        ({"config": {**IDENTITY.config, "cash": 1.0}}, "config['cash']"),
    ],
)
def test_a_journal_of_another_run_is_refused_and_left_as_it_was(
    path: Path, change: dict[str, object], named: str
) -> None:
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
    before = path.read_bytes()
    other = IDENTITY.copy_with(**change)
    with pytest.raises(JournalIdentityError, match=re.escape(named)):
        Journal.open(path, other)
    assert path.read_bytes() == before
    with Journal.open(path, IDENTITY) as journal:  # the refused open gave the lock back
        assert journal.last_completed_bar() == 0


def test_a_second_writer_in_the_same_process_is_refused(path: Path) -> None:
    with Journal.open(path, IDENTITY):
        with pytest.raises(
            JournalLockedError, match=f"in use by another run \\(process {os.getpid()}"
        ):
            Journal.open(path, IDENTITY)
        with JournalReader.open(path) as reader:  # readers need no lock
            assert reader.last_completed_bar() is None
    Journal.open(path, IDENTITY).close()


_HOLD_THE_JOURNAL = """
import sys
from orchestrator.journal.writer import Journal
from tests.journal_helpers import IDENTITY
with Journal.open(sys.argv[1], IDENTITY):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_writer_in_another_process_is_refused(path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_JOURNAL, str(path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        before = path.read_bytes()
        with pytest.raises(JournalLockedError, match=f"process {holder.pid}"):
            Journal.open(path, IDENTITY)
        assert path.read_bytes() == before
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0
    Journal.open(path, IDENTITY).close()


def _foreign_sqlite(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.commit()
    connection.close()


def _ledger(path: Path) -> None:
    Ledger(path).close()


def _trade_memory(path: Path) -> None:
    write_memory_file(path, MemoryRecords())


def _journal_without_fills(path: Path) -> None:
    Journal.open(path, IDENTITY).close()
    connection = sqlite3.connect(path)
    connection.execute("DROP TABLE fills")
    connection.commit()
    connection.close()


def _damaged_journal(path: Path) -> None:
    with Journal.open(path, IDENTITY) as journal:
        for index in range(30):
            record_plain_bar(journal, index)
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)  # every page after the first (the schema) is junk
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"date,open,close\n2020-01-02,1,2\n"), "not a SQLite file"),
        (_foreign_sqlite, "another program"),
        (_ledger, r"is an LLM ledger \(the gateway's record of calls\), not a journal"),
        (_trade_memory, "is a backtest's trade memory, not a journal"),
        (_journal_without_fills, "table fills is missing"),
        (_damaged_journal, "damaged|quick_check"),
    ],
    ids=["csv", "foreign-sqlite", "ledger", "memory", "missing-table", "damaged-pages"],
)
def test_a_corrupted_file_is_refused_and_left_byte_identical(
    path: Path, make: object, message: str
) -> None:
    path.parent.mkdir(parents=True)
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(JournalCorruptError, match=message):
        Journal.open(path, IDENTITY)
    with pytest.raises(JournalCorruptError, match=message):
        JournalReader.open(path)
    assert path.read_bytes() == before
    wal = path.with_name(path.name + "-wal")  # a WAL file opened read-only gets an empty one
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_journal_of_an_earlier_schema_version_is_refused_by_name(path: Path) -> None:
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 1")
    connection.close()
    before = path.read_bytes()
    with pytest.raises(JournalCorruptError, match="schema version 1, written by an earlier"):
        Journal.open(path, IDENTITY)
    with pytest.raises(JournalCorruptError, match="another --journal file"):
        JournalReader.open(path)
    assert path.read_bytes() == before


def test_a_folder_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalCorruptError, match="not a regular file"):
        Journal.open(tmp_path, IDENTITY)


def test_an_empty_file_becomes_a_journal(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.touch()
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
    with JournalReader.open(path) as reader:
        assert reader.last_completed_bar() == 0


def test_the_reader_refuses_a_missing_or_empty_file_and_an_unknown_table(path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        JournalReader.open(path)
    path.parent.mkdir(parents=True)
    path.touch()
    with pytest.raises(JournalError, match="is empty"):
        JournalReader.open(path)
    path.unlink()
    Journal.open(path, IDENTITY).close()
    with JournalReader.open(path) as reader, pytest.raises(JournalError, match="no table"):
        reader.table("sqlite_master")


# ---- resume with the paper broker -------------------------------------------------------------

PRICES = [
    (100.0, 101.0),
    (102.0, 100.0),
    (99.0, 98.0),
    (97.0, 99.0),
    (100.0, 103.0),
    (104.0, 102.0),
]
TARGETS = [0.5, 1.0, 0.2, -0.4, 0.8, 0.0]


def _paper_loop(path: Path, crash_at: tuple[int, str] | None = None) -> None:
    """The per-bar protocol on the journal's API; `crash_at` (bar, stage) dies like a SIGKILL.

    A crash raises inside the bar's block, so the bar rolls back, and drops the broker (a new
    process starts with a fresh one), exactly what a killed process leaves behind.
    """
    risk = RiskManager(cost_model=COSTS)
    with Journal.open(path, IDENTITY) as journal:
        state = journal.restore_state()
        portfolio = PortfolioState.opening(10_000.0) if state is None else state.portfolio
        broker = PaperBroker(portfolio.cash, shares=portfolio.shares, cost_model=COSTS)
        resubmit_pending(broker, () if state is None else state.pending_orders)
        start = 0 if state is None else state.bar.index + 1
        for index in range(start, len(PRICES)):
            seen = bar(index, *PRICES[index])
            with journal.record_bar(seen) as writer:
                broker.on_bar_open(index, seen.open)
                pending = [order.client_order_id for order in journal.pending_orders()]
                for fill in unrecorded_fills(broker, pending, fill_ids(path)):
                    writer.record_fill(fill)
                    portfolio = portfolio.filled(fill.shares, fill.reference_price, COSTS)
                if crash_at == (index, "after fills"):
                    raise SimulatedCrashError
                hybrid = decision(TARGETS[index], TARGETS[index])
                check = risk.check(
                    hybrid.target_position, portfolio, seen.close, seen.timestamp.date()
                )
                writer.record_decision(hybrid)
                writer.record_risk_check(check)
                portfolio = check.portfolio
                if check.order_shares != 0.0:
                    order = _order(journal.run_id, index, check.order_shares)
                    writer.record_order(order, broker.submit(order))
                if crash_at == (index, "after submit"):
                    raise SimulatedCrashError
                writer.record_state(portfolio=portfolio, weights=HedgeWeights(), llm_view=None)
        assert portfolio.cash == pytest.approx(broker.cash(), abs=1e-9)


def _outcome(path: Path) -> tuple[list[dict[str, object]], list[float]]:
    with JournalReader.open(path) as reader:
        fills = reader.table("fills").drop(columns=["fill_id", "client_order_id"])
        return fills.to_dict("records"), reader.table("positions")["equity"].tolist()


@pytest.mark.parametrize(
    "crashes",
    [
        [(1, "after submit")],
        [(2, "after fills")],
        [(1, "after fills"), (1, "after submit"), (4, "after submit")],
    ],
)
def test_crashes_anywhere_resume_to_exactly_the_uninterrupted_run(
    tmp_path: Path, crashes: list[tuple[int, str]]
) -> None:
    _paper_loop(tmp_path / "straight.sqlite")
    resumed = tmp_path / "resumed.sqlite"
    for crash in crashes:
        with pytest.raises(SimulatedCrashError):
            _paper_loop(resumed, crash)
    _paper_loop(resumed)
    straight_fills, straight_equity = _outcome(tmp_path / "straight.sqlite")
    resumed_fills, resumed_equity = _outcome(resumed)
    assert len(straight_fills) == 5  # every target change traded
    assert resumed_fills == straight_fills
    assert resumed_equity == straight_equity
