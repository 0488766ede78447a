"""The cost ledger: one SQLite row per attempt (paid call, failed attempt or cache hit).

Spend per UTC day and month is summed from these rows, so a restarted process, or a second one
on the same file, sees the spend of the day so far. The budget asks before every call; a partial
index holding only the paid rows (`calls_paid`, cost and time) makes that one indexed SUM over
the period's paid rows: free calls (the offline analyst, cache hits, failures) never enter it, so
a long offline backtest's ledger costs the budget check nothing.

One connection guarded by a lock serves every thread (the analyst graph calls in parallel). It
commits every row as it is written, so a crash loses no charged call; in WAL mode with
synchronous=NORMAL a commit is an append to the log with no fsync (about 20-40 us). WAL and a
busy timeout let a second process (`hybrid-trader llm status`) read while a run writes. Error
texts are stored as given: the gateway scrubs secrets before recording.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from llm.gateway.types import LLMConfigError

Clock = Callable[[], datetime]

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    task TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_served TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    cache_hit INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS calls_at ON calls (at);
CREATE INDEX IF NOT EXISTS calls_paid ON calls (at, cost_usd) WHERE cost_usd != 0;
CREATE TABLE IF NOT EXISTS alerts (period_key TEXT PRIMARY KEY, at TEXT NOT NULL);
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in SQL."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(_TIME_FORMAT)


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of `moment`'s day."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first of `moment`'s month."""
    return day_start(moment).replace(day=1)


@dataclass(frozen=True)
class LedgerEntry:
    """One attempt. `model_served` is None when nothing answered; `error` says why."""

    task: str
    model_requested: str
    model_served: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    cache_hit: bool = False
    error: str | None = None
    at: datetime | None = None  # filled in from the ledger's clock when recorded


@dataclass(frozen=True)
class Usage:
    """Totals for one model (the serving model, or the requested one for failed attempts) or one
    task: `name` is which."""

    name: str
    calls: int  # answered and usable, cache hits excluded
    errors: int  # failed attempts: HTTP errors, timeouts, unusable answers (paid or not)
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def _not_a_ledger(path: Path | str, exc: sqlite3.DatabaseError) -> LLMConfigError:
    return LLMConfigError(
        f"LLM ledger {path}: cannot be opened as a SQLite ledger ({exc}); point LLM_LEDGER_PATH"
        " at a ledger file, or at a file that does not exist yet"
    )


class Ledger:
    """Thread-safe SQLite ledger. `path` may be ":memory:" for a throwaway ledger."""

    def __init__(self, path: Path | str, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._claimed_alerts: set[str] = set()
        try:
            # Autocommit: each INSERT is its own transaction.
            self._connection = sqlite3.connect(
                str(path), check_same_thread=False, timeout=10.0, isolation_level=None
            )
        except sqlite3.DatabaseError as exc:  # e.g. a folder
            raise _not_a_ledger(path, exc) from None
        try:
            with self._lock:
                self._connection.execute("PRAGMA journal_mode=WAL")
                # safe with WAL, far fewer fsyncs
                self._connection.execute("PRAGMA synchronous=NORMAL")
                self._connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # a file that is not SQLite
            self._connection.close()
            raise _not_a_ledger(path, exc) from None

    def now(self) -> datetime:
        return self._clock()

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Store `entry` (stamped with the ledger's clock unless it has a time); return the row
        as stored."""
        if not math.isfinite(entry.cost_usd):
            raise ValueError(
                f"ledger entry for task {entry.task} ({entry.model_requested}) has a cost of "
                f"{entry.cost_usd}: costs must be finite dollars"
            )
        at = entry.at or self._clock()
        stored = entry if entry.at is not None else replace(entry, at=at)
        row = (
            _as_text(at),
            stored.task,
            stored.model_requested,
            stored.model_served,
            stored.input_tokens,
            stored.output_tokens,
            stored.cost_usd,
            stored.latency_s,
            int(stored.cache_hit),
            stored.error,
        )
        with self._lock:
            self._connection.execute(
                "INSERT INTO calls (at, task, model_requested, model_served, input_tokens, "
                "output_tokens, cost_usd, latency_s, cache_hit, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return stored

    def spend_since(self, start: datetime) -> float:
        """Dollars recorded at or after `start` (one indexed sum over the paid rows)."""
        query = "SELECT TOTAL(cost_usd) FROM calls WHERE at >= ? AND cost_usd != 0"
        return float(self._rows(query, start)[0][0])  # TOTAL: a SUM that is 0.0 over no rows

    def usage_by_model(self, since: datetime | None = None) -> list[Usage]:
        """Per-model totals since `since` (all time when None), most expensive first."""
        return self._usage("COALESCE(model_served, model_requested)", since)

    def usage_by_task(self, since: datetime | None = None) -> list[Usage]:
        """Per-task totals since `since` (all time when None), most expensive first."""
        return self._usage("task", since)

    def _usage(self, group: str, since: datetime | None) -> list[Usage]:
        """Totals grouped by the SQL expression `group` (one of the two above, never user text)."""
        query = (
            f"SELECT {group} AS name, "
            "SUM(error IS NULL AND cache_hit = 0), SUM(error IS NOT NULL), SUM(cache_hit), "
            "SUM(input_tokens), SUM(output_tokens), SUM(cost_usd) "
            "FROM calls WHERE at >= ? GROUP BY name ORDER BY SUM(cost_usd) DESC, name"
        )
        return [
            Usage(
                name=str(name),
                calls=int(calls),
                errors=int(errors),
                cache_hits=int(hits),
                input_tokens=int(tokens_in),
                output_tokens=int(tokens_out),
                cost_usd=float(cost),
            )
            for name, calls, errors, hits, tokens_in, tokens_out, cost in self._rows(query, since)
        ]

    def cache_hit_rate(self, since: datetime | None = None) -> float | None:
        """Cache hits over answered calls (hits included); None when there were none."""
        query = "SELECT SUM(cache_hit), SUM(error IS NULL) FROM calls WHERE at >= ?"
        hits, answered = self._rows(query, since)[0]
        return None if not answered else int(hits) / int(answered)

    def claim_alert(self, period_key: str) -> bool:
        """True the first time `period_key` is claimed, ever (it survives restarts)."""
        with self._lock:
            if period_key in self._claimed_alerts:
                return False  # claims are permanent: no need to ask the file again
            cursor = self._connection.execute(
                "INSERT OR IGNORE INTO alerts (period_key, at) VALUES (?, ?)",
                (period_key, _as_text(self._clock())),
            )
            self._claimed_alerts.add(period_key)
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _rows(self, query: str, start: datetime | None) -> list[tuple[Any, ...]]:
        """Run `query` with its one parameter, the start time (every row when None)."""
        start_text = "" if start is None else _as_text(start)
        with self._lock:
            return self._connection.execute(query, (start_text,)).fetchall()
