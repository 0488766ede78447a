"""The journal's file: its SQLite schema, its one-writer lock, and the values it stores.

A file is recognised as a journal without writing to it (`inspect_file`). One writer per journal:
an exclusive `flock` on `<journal>.lock`, held while a run writes; the kernel drops it when the
process dies, even by SIGKILL. Each fact has one place (see `SCHEMA`); what is stored as JSON is
canonical JSON (sorted keys, no NaN), so the same run always writes the same text and a resumed
run can compare its identity byte for byte.
"""

from __future__ import annotations

import enum
import fcntl
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from agents import DRLDecision
from orchestrator.checks import Value
from orchestrator.errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    OrchestratorError,
)
from orchestrator.execution import OrderRequest, PortfolioState
from orchestrator.memory import MEMORY_SCHEMA, MEMORY_TABLES, MemoryRecords
from orchestrator.trader import BarSeen, LLMView, WeightUpdate


def lock_path_for(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class JournalLock:
    """An acquired lock on one journal; `release` gives it back."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, journal: Path) -> JournalLock:
        """Take the lock of `journal` now, or raise `JournalLockedError` naming the holder."""
        path = lock_path_for(journal)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot create the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise JournalLockedError(
                f"journal {journal} is in use by another run{holder}; wait for it to finish, or"
                " give this run another --journal file"
            ) from None
        except OSError as exc:
            os.close(descriptor)
            raise JournalError(f"cannot lock {path}: {exc.strerror}") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(descriptor)

    def release(self) -> None:
        """Give the lock back; releasing twice is harmless."""
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None


def _read_holder(descriptor: int) -> str:
    text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    return f" (process {text})" if text.isdigit() else ""


APPLICATION_ID = 0x48545231  # "HTR1"
SCHEMA_VERSION = 6  # 2: each fact of a bar stored once; 3: the account's stop-loss latch;
# 4: the hybrid's saved state holds the LLM confidence calibrator and the views not yet scored,
# and each weight update the extra experts' scores (`extras_json`, {} without extra experts); the
# run record the bars its data held to trade when it last traded (`bars_to_trade`);
# 5: the trade memory's tables (`orchestrator.memory.MEMORY_SCHEMA`), its state in the hybrid's
# saved state; 6: the kill switch's cooldown in the account (`halt_bars`)
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Each fact is stored once: the account after a bar in `positions`, each LLM view once in
# `llm_views` (decisions and states name it by the bar it was asked at), the weights' updates in
# `weight_updates`, and in `states.loop_state_json` only what no table holds (the loop's held
# target and working orders, the strategy's own state).
SCHEMA = (
    """CREATE TABLE run (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        run_id TEXT NOT NULL,
        agent_hash TEXT NOT NULL,
        data_source TEXT NOT NULL,
        data_hash TEXT NOT NULL,
        config_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        bars_to_trade INTEGER
    ) STRICT""",
    """CREATE TABLE bars (
        bar_index INTEGER PRIMARY KEY,
        timestamp TEXT NOT NULL UNIQUE,
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        recorded_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE llm_views (
        asked_at_bar INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        decision_json TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE decisions (
        bar_index INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        drl_signal REAL NOT NULL,
        drl_confidence REAL NOT NULL,
        llm_signal REAL NOT NULL,
        llm_confidence REAL NOT NULL,
        drl_weight REAL NOT NULL,
        llm_weight REAL NOT NULL,
        score REAL NOT NULL,
        agreed INTEGER NOT NULL,
        action TEXT NOT NULL,
        target_position REAL NOT NULL,
        reasoning TEXT NOT NULL,
        drl_json TEXT,
        llm_asked_at_bar INTEGER REFERENCES llm_views (asked_at_bar)
    ) STRICT""",
    """CREATE TABLE risk_checks (
        bar_index INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        status TEXT NOT NULL,
        current_position REAL NOT NULL,
        proposed_position REAL NOT NULL,
        approved_position REAL NOT NULL,
        order_shares REAL NOT NULL,
        order_notional REAL NOT NULL,
        price REAL NOT NULL,
        equity REAL NOT NULL,
        reasons_json TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        bar_index INTEGER NOT NULL REFERENCES bars (bar_index),
        intent TEXT NOT NULL,
        symbol TEXT NOT NULL,
        requested_quantity REAL NOT NULL,
        quantity REAL NOT NULL,
        broker_order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        duplicate INTEGER NOT NULL,
        reason TEXT
    ) STRICT""",
    """CREATE TABLE fills (
        fill_id TEXT PRIMARY KEY,
        client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
        bar_index INTEGER NOT NULL REFERENCES bars (bar_index),
        shares REAL NOT NULL,
        price REAL NOT NULL,
        commission REAL NOT NULL,
        reference_price REAL,
        slippage_cost REAL
    ) STRICT""",
    "CREATE INDEX fills_by_order ON fills (client_order_id)",
    """CREATE TABLE positions (
        bar_index INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        cash REAL NOT NULL,
        shares REAL NOT NULL,
        entry_price REAL,
        peak_equity REAL NOT NULL,
        start_of_day_equity REAL NOT NULL,
        trades_today INTEGER NOT NULL,
        day TEXT,
        last_equity REAL,
        halted INTEGER NOT NULL,
        halt_bars INTEGER NOT NULL,
        daily_loss_breached INTEGER NOT NULL,
        stop_latch_side INTEGER NOT NULL,
        stop_latch_bars INTEGER NOT NULL,
        equity REAL NOT NULL,
        position_fraction REAL
    ) STRICT""",
    """CREATE TABLE weight_updates (
        step INTEGER PRIMARY KEY,
        bar_index INTEGER NOT NULL REFERENCES bars (bar_index),
        decision_bar INTEGER NOT NULL REFERENCES decisions (bar_index),
        label TEXT,
        drl_position REAL NOT NULL,
        llm_position REAL NOT NULL,
        bar_return REAL NOT NULL,
        drl_cost REAL NOT NULL,
        llm_cost REAL NOT NULL,
        drl_loss REAL NOT NULL,
        llm_loss REAL NOT NULL,
        drl_weight_before REAL NOT NULL,
        drl_weight_after REAL NOT NULL,
        extras_json TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bar_index INTEGER NOT NULL REFERENCES bars (bar_index),
        at TEXT,
        task TEXT NOT NULL,
        model_requested TEXT NOT NULL,
        model_served TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        latency_s REAL NOT NULL,
        cache_hit INTEGER NOT NULL,
        error TEXT
    ) STRICT""",
    """CREATE TABLE states (
        bar_index INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        n_weight_updates INTEGER NOT NULL,
        llm_asked_at_bar INTEGER REFERENCES llm_views (asked_at_bar),
        loop_state_json TEXT NOT NULL
    ) STRICT""",
    *MEMORY_SCHEMA,
)

TABLES = (
    "run",
    "bars",
    "llm_views",
    "decisions",
    "risk_checks",
    "orders",
    "fills",
    "positions",
    "weight_updates",
    "llm_calls",
    "states",
    *MEMORY_TABLES,
)


class FileState(enum.Enum):
    MISSING = "missing"
    EMPTY = "empty"  # no file content or an empty database: safe to make a journal of
    JOURNAL = "journal"


def create_schema(connection: sqlite3.Connection) -> None:
    """Create every table and stamp the file; the caller holds the transaction."""
    for statement in SCHEMA:
        connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def inspect_file(path: Path) -> FileState:
    """Whether `path` is missing, empty, or a sound journal; anything else is `JournalCorruptError`.

    Reads only: the file is opened read-only, so a foreign or damaged file is left byte-identical.
    """
    if not path.exists():
        return FileState.MISSING
    if not path.is_file():
        raise JournalCorruptError(f"journal {path} is not a regular file")
    if path.stat().st_size == 0:
        return FileState.EMPTY
    with path.open("rb") as handle:
        magic = handle.read(len(_SQLITE_MAGIC))
    if magic != _SQLITE_MAGIC:
        raise JournalCorruptError(f"{path} is not a SQLite file, so not a journal; left untouched")
    try:
        connection = connect_read_only(path)
        try:
            return _inspect_database(path, connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise JournalCorruptError(f"journal {path} is damaged ({exc}); left untouched") from None


_OTHER_FILES_OF_OURS = (
    ({"calls", "alerts"}, "an LLM ledger (the gateway's record of calls)"),
    ({"responses"}, "an LLM cache"),
    (set(MEMORY_TABLES), "a backtest's trade memory"),
)
"""SQLite files hybrid-trader writes beside journals, by the tables that mark them."""


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write to the database file (`mode=ro`)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _inspect_database(path: Path, connection: sqlite3.Connection) -> FileState:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    objects = connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    if application_id == 0 and objects == 0:
        return FileState.EMPTY
    if application_id != APPLICATION_ID:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        what = next(
            (name for needs, name in _OTHER_FILES_OF_OURS if needs <= tables),
            f"a SQLite file of another program (application id {application_id:#x})",
        )
        raise JournalCorruptError(f"{path} is {what}, not a journal; left untouched")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        made_by = "an earlier" if version < SCHEMA_VERSION else "a later"
        raise JournalCorruptError(
            f"journal {path} has schema version {version}, written by {made_by} version of"
            f" hybrid-trader; this one reads version {SCHEMA_VERSION} only and does not migrate"
            " journals. Left untouched: give this run another --journal file"
        )
    for table, expected in _expected_columns().items():
        found = tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))
        if found != expected:
            problem = "is missing" if not found else f"has columns {found}, expected {expected}"
            raise JournalCorruptError(f"journal {path}: table {table} {problem}; left untouched")
    verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise JournalCorruptError(f"journal {path} failed SQLite's quick_check: {verdict}")
    return FileState.JOURNAL


@functools.cache
def _expected_columns() -> dict[str, tuple[str, ...]]:
    """Column names per table, read off the schema itself (built in memory, once)."""
    connection = sqlite3.connect(":memory:")
    try:
        create_schema(connection)
        return {
            table: tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))
            for table in TABLES
        }
    finally:
        connection.close()


JsonObject = Mapping[str, object]
_MISSING = "<missing>"


def canonical_json(value: object, what: str) -> str:
    """`value` as compact JSON with sorted keys; NaN, infinities and non-JSON types are refused."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"{what} must be JSON-ready (no NaN, no objects): {exc}") from None


def canonical_hash(value: object, what: str = "value") -> str:
    """sha256 of `canonical_json(value)`: e.g. the hash of an agent manifest's `to_dict()`."""
    return hashlib.sha256(canonical_json(value, what).encode()).hexdigest()


class RunIdentity(Value):
    """What makes two runs the same run: a journal refuses to resume under any other identity.

    agent_hash: hash of the agent's manifest (`canonical_hash(manifest.to_dict())`).
    data_source / data_hash: the source name or path, and the hash of its bars.
    config: every setting that changes the run's results (combiner, weights, risk, costs, LLM
        cadence), as JSON-ready values, kept as their canonical JSON reads back. Leave out what
        does not (e.g. display pacing), or a run could not be resumed with another.
    """

    invalid_error: ClassVar[type[OrchestratorError]] = JournalError

    agent_hash: Annotated[str, Field(min_length=1)]
    data_source: Annotated[str, Field(min_length=1)]
    data_hash: Annotated[str, Field(min_length=1)]
    config: Mapping[str, Any]

    @field_validator("config")
    @classmethod
    def _canonical(cls, config: Mapping[str, Any]) -> Mapping[str, Any]:
        return MappingProxyType(json.loads(canonical_json(dict(config), "RunIdentity.config")))

    @property
    def config_json(self) -> str:
        return canonical_json(dict(self.config), "RunIdentity.config")

    def mismatches(self, other: RunIdentity) -> list[str]:
        """What differs from `other`, one readable line per field (config: per top-level key)."""
        found = [
            f"{name} ({meaning}): journal has {getattr(other, name)!r}, this run has"
            f" {getattr(self, name)!r}"
            for name, meaning in _IDENTITY_MEANINGS.items()
            if getattr(self, name) != getattr(other, name)
        ]
        for key in sorted(set(self.config) | set(other.config)):
            mine = self.config.get(key, _MISSING)
            theirs = other.config.get(key, _MISSING)
            if canonical_json(mine, key) != canonical_json(theirs, key):
                found.append(f"config[{key!r}]: journal has {theirs!r}, this run has {mine!r}")
        return found


_IDENTITY_MEANINGS = {
    "agent_hash": "another agent, or the agent retrained",
    "data_source": "another source",
    "data_hash": "other bars up to the run's first decision: another file, or its past edited",
}


@dataclass(frozen=True)
class RestoredState:
    """Everything a resumed run needs to continue exactly where the last completed bar left off.

    bar: the last completed bar. portfolio: the account after it (as `record_state` saved it).
    weight_history: every weight update so far, oldest first. llm_view: the LLM view held after
    the bar, if any. pending_orders: orders sent and not yet (fully) filled: hand them to
    `resubmit_pending`. loop_state: the loop's own JSON values saved with the bar. memory: the
    trade memory's closed trades, lessons and recalls so far (empty for a run without one).
    """

    bar: BarSeen
    portfolio: PortfolioState
    weight_history: tuple[WeightUpdate, ...]
    llm_view: LLMView | None
    pending_orders: tuple[OrderRequest, ...]
    loop_state: JsonObject
    memory: MemoryRecords = field(default_factory=MemoryRecords)


def drl_record(decision: DRLDecision) -> dict[str, object]:
    """The DRL agent's raw outputs as JSON-ready values: its action and the Q-values or action
    probabilities behind it (its target and confidence are the decision's DRL vote)."""
    return {
        "action": decision.action,
        "q_values": None if decision.q_values is None else decision.q_values.tolist(),
        "action_probs": None if decision.action_probs is None else decision.action_probs.tolist(),
    }
