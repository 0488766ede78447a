"""The paper-trade journal: one SQLite file per run that a crashed run resumes from exactly.

Crash safety rests on three things:
- one transaction per bar (`record_bar`): the bar row and all of its records commit together, so
  after a crash the journal holds every bar up to some bar t, whole, and nothing of t+1;
- `synchronous=FULL` with WAL: every commit fsyncs the WAL before it returns. (NORMAL would
  survive a killed process but may lose the last commits on a power cut or OS crash, since WAL
  is then synced only at checkpoints.) The commit that matters is the bar's, which records the
  order the broker has already accepted: losing it would make the resumed run decide that bar
  again, against an order that exists. One fsync per bar costs nothing at bar frequencies;
- idempotent client order ids (`broker.client_order_id`): an order sent before a crash and not
  journaled is sent again with the same id on resume, and the broker returns the original; an
  order journaled whose fill was not is still pending (`restore_state().pending_orders`), and
  its fills are found by client id (`broker.resubmit_pending`, `broker.unrecorded_fills`).

One run writes a journal at a time (`journal_lock`); reports read it with `JournalReader`, which
never writes and needs no lock (WAL lets it read while a run writes).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.journal_errors import JournalCorruptError, JournalError, JournalIdentityError
from orchestrator.journal_lock import JournalLock
from orchestrator.journal_queries import JournalQueries
from orchestrator.journal_records import (
    BarSeen,
    LLMView,
    RestoredState,
    RunIdentity,
    decision_from_record,
    portfolio_from_record,
    weights_from_records,
)
from orchestrator.journal_schema import FileState, connect_read_only, create_schema, inspect_file
from orchestrator.journal_writer import BarWriter

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JournalReader(JournalQueries):
    """A journal opened read-only, for reports: never writes, takes no lock."""

    @classmethod
    def open(cls, path: Path | str) -> JournalReader:
        path = Path(path)
        state = inspect_file(path)
        if state is FileState.MISSING:
            raise JournalError(f"no journal at {path}")
        if state is FileState.EMPTY:
            raise JournalError(f"{path} is empty: no run has been journaled in it")
        connection = connect_read_only(path)
        try:
            return cls(path, connection)
        except BaseException:
            connection.close()
            raise


class Journal(JournalQueries):
    """The journal a run writes: created or resumed by `open`, one `record_bar` block per bar."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, lock: JournalLock, clock: Clock
    ) -> None:
        super().__init__(path, connection)
        self._lock = lock
        self._clock = clock

    @classmethod
    def open(cls, path: Path | str, identity: RunIdentity, *, clock: Clock = utc_now) -> Journal:
        """Create the journal at `path`, or resume it if it was made by this same run.

        Raises `JournalIdentityError` for a journal of another agent, data or configuration,
        `JournalLockedError` while another run writes it, and `JournalCorruptError` for a file
        that is not a sound journal. In every refused case the file is left as it was.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the folder of journal {path}: {exc}") from None
        lock = JournalLock.acquire(path)
        connection: sqlite3.Connection | None = None
        try:
            state = inspect_file(path)
            if state is FileState.JOURNAL:
                with JournalReader.open(path) as existing:  # refuse before opening to write
                    _check_identity(path, identity, existing.identity)
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            if state is not FileState.JOURNAL:
                _create(connection, identity, clock())
            return cls(path, connection, lock, clock)
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            lock.release()
            raise JournalError(f"journal {path} cannot be opened: {exc}") from None
        except BaseException:
            if connection is not None:
                connection.close()
            lock.release()
            raise

    @contextmanager
    def record_bar(self, bar: BarSeen) -> Iterator[BarWriter]:
        """One bar's transaction: everything recorded in the block commits together, or nothing.

        The bar must come after the last completed one (a bar is never decided twice), and the
        block must call `record_state`. Leaving the block by an exception rolls the bar back.
        """
        self._check_next(bar)
        connection = self.connection
        writer = BarWriter(connection, bar, self._clock().isoformat())
        connection.execute("BEGIN IMMEDIATE")
        try:
            writer.start()
            yield writer
            writer.complete()
            connection.execute("COMMIT")
        except BaseException:
            writer.abandon()
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def restore_state(self) -> RestoredState | None:
        """The state after the last completed bar, or None if no bar was completed yet."""
        last = self.last_completed_bar()
        if last is None:
            return None
        connection = self.connection
        row = connection.execute(
            "SELECT p.portfolio_json, s.weights_json, s.n_weight_updates, s.llm_view_json,"
            " s.loop_state_json FROM positions AS p JOIN snapshots AS s USING (bar_index)"
            " WHERE bar_index = ?",
            (last,),
        ).fetchone()
        portfolio_json, weights_json, n_weight_updates, llm_view_json, loop_state_json = row
        history = self.weight_history()
        if len(history) != n_weight_updates:
            raise JournalCorruptError(
                f"journal {self.path}: bar {last}'s weights were saved after {n_weight_updates}"
                f" updates, but it holds {len(history)} weight-update rows"
            )
        decision_row = connection.execute(
            "SELECT decision_json FROM decisions ORDER BY bar_index DESC LIMIT 1"
        ).fetchone()
        return RestoredState(
            bar=self.bar(last),
            portfolio=portfolio_from_record(json.loads(portfolio_json)),
            weights=weights_from_records(json.loads(weights_json), history),
            llm_view=None
            if llm_view_json is None
            else LLMView.from_record(json.loads(llm_view_json)),
            last_decision=None
            if decision_row is None
            else decision_from_record(json.loads(decision_row[0])),
            pending_orders=self.pending_orders(),
            loop_state=json.loads(loop_state_json),
        )

    def close(self) -> None:
        """Close the file and give the lock back (another run may then open it)."""
        super().close()
        self._lock.release()

    def _check_next(self, bar: BarSeen) -> None:
        last = self.last_completed_bar()
        if last is None:
            return
        if bar.index <= last:
            raise JournalError(
                f"bar {bar.index} is not after bar {last}, the last one journal {self.path}"
                " completed: a bar is never decided twice"
            )
        previous = self.bar(last).timestamp
        try:
            in_order = bar.timestamp > previous
        except TypeError:
            in_order = False  # one timestamp has a time zone and the other not
        if not in_order:
            raise JournalError(
                f"bar {bar.index} at {bar.timestamp.isoformat()} does not come after bar {last}"
                f" at {previous.isoformat()}"
            )


def _check_identity(path: Path, identity: RunIdentity, journaled: RunIdentity) -> None:
    mismatches = identity.mismatches(journaled)
    if mismatches:
        raise JournalIdentityError(
            f"journal {path} was made by another run, so it is not resumed: "
            + "; ".join(mismatches)
            + ". Give this run another --journal file."
        )


def _create(connection: sqlite3.Connection, identity: RunIdentity, now: dt.datetime) -> None:
    """Schema and run record in one transaction: a crash leaves an empty file, made again later."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        create_schema(connection)
        connection.execute(
            "INSERT INTO run (id, run_id, agent_hash, data_source, data_hash, config_json,"
            " created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                identity.agent_hash,
                identity.data_source,
                identity.data_hash,
                identity.config_json,
                now.isoformat(),
            ),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
