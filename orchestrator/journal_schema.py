"""The journal's SQLite schema, and how a file is recognised as a journal without writing to it.

A journal carries `PRAGMA application_id` (so no other SQLite file passes for one) and
`PRAGMA user_version` (the schema version). Tables are STRICT, so a value of the wrong type is an
error at write time rather than a surprise in a report. Every per-bar row references `bars`, whose
row is written in the same transaction: a bar is either wholly in the journal or not at all.
"""

from __future__ import annotations

import enum
import functools
import sqlite3
from pathlib import Path

from orchestrator.journal_errors import JournalCorruptError

APPLICATION_ID = 0x48545231  # "HTR1"
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = (
    """CREATE TABLE run (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        run_id TEXT NOT NULL,
        agent_hash TEXT NOT NULL,
        data_source TEXT NOT NULL,
        data_hash TEXT NOT NULL,
        config_json TEXT NOT NULL,
        created_at TEXT NOT NULL
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
        llm_asked_at_bar INTEGER,
        decision_json TEXT NOT NULL,
        drl_json TEXT,
        llm_json TEXT
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
        reasons_json TEXT NOT NULL,
        check_json TEXT NOT NULL
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
        mark_price REAL NOT NULL,
        equity REAL NOT NULL,
        position_fraction REAL,
        portfolio_json TEXT NOT NULL
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
        drl_weight_after REAL NOT NULL
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
    """CREATE TABLE snapshots (
        bar_index INTEGER PRIMARY KEY REFERENCES bars (bar_index),
        weights_json TEXT NOT NULL,
        n_weight_updates INTEGER NOT NULL,
        llm_view_json TEXT,
        loop_state_json TEXT NOT NULL
    ) STRICT""",
)

TABLES = (
    "run",
    "bars",
    "decisions",
    "risk_checks",
    "orders",
    "fills",
    "positions",
    "weight_updates",
    "llm_calls",
    "snapshots",
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


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write to the database file (`mode=ro`)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _inspect_database(path: Path, connection: sqlite3.Connection) -> FileState:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    objects = connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    if application_id == 0 and objects == 0:
        return FileState.EMPTY
    if application_id != APPLICATION_ID:
        raise JournalCorruptError(
            f"{path} is a SQLite file of another program (application id {application_id:#x}),"
            " not a journal; left untouched"
        )
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise JournalCorruptError(
            f"journal {path} has schema version {version}; this program reads version"
            f" {SCHEMA_VERSION}"
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
