"""The cost ledger: one SQLite row per attempt (paid call, failed attempt or cache hit).

Spend per UTC day and month comes from these rows, so a restarted process sees the spend of the
day so far. The budget asks for it before every call, so the ledger keeps it as running totals
(`RunningSpend`): read from the rows when the ledger opens and when a new UTC day or month
starts, then added to as rows are committed. Rows that another connection commits (a second
process on the same file) are counted when SQLite's `data_version` says the file changed.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import TracebackType

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
class ModelUsage:
    """Totals for one model (the serving model, or the requested one for failed attempts)."""

    model: str
    calls: int  # answered by the model, cache hits excluded
    errors: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class Ledger:
    """Thread-safe SQLite ledger. `path` may be ":memory:" for a throwaway ledger."""

    def __init__(self, path: Path | str, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each INSERT is its own transaction; reads that need one snapshot open one.
        self._connection = sqlite3.connect(
            str(path), check_same_thread=False, timeout=10.0, isolation_level=None
        )
        self._claimed_alerts: set[str] = set()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
            self._connection.executescript(_SCHEMA)
            self._data_version = self._file_version()
            self._reset_spend(self._clock())

    def now(self) -> datetime:
        return self._clock()

    def record(self, entry: LedgerEntry) -> None:
        if not math.isfinite(entry.cost_usd):
            raise ValueError(
                f"ledger entry for task {entry.task} ({entry.model_requested}) has a cost of "
                f"{entry.cost_usd}: costs must be finite dollars"
            )
        at = _as_text(entry.at or self._clock())
        row = (
            at,
            entry.task,
            entry.model_requested,
            entry.model_served,
            entry.input_tokens,
            entry.output_tokens,
            entry.cost_usd,
            entry.latency_s,
            int(entry.cache_hit),
            entry.error,
        )
        with self._lock:
            cursor = self._connection.execute(
                "INSERT INTO calls (at, task, model_requested, model_served, input_tokens, "
                "output_tokens, cost_usd, latency_s, cache_hit, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            row_id = cursor.lastrowid
            if row_id is None or not self._spend.count((row_id, at, entry.cost_usd)):
                self._catch_up()

    def spend_since(self, start: datetime) -> float:
        """Dollars recorded at or after `start`, summed exactly (as the running totals are)."""
        rows = self._rows("SELECT cost_usd FROM calls WHERE at >= ? AND cost_usd != 0", start)
        return math.fsum(cost for (cost,) in rows)

    def spend_today(self) -> float:
        """Dollars since midnight UTC."""
        return self.spend_totals()[0]

    def spend_this_month(self) -> float:
        """Dollars since the first of the month, UTC."""
        return self.spend_totals()[1]

    def spend_totals(self) -> tuple[float, float]:
        """(dollars since midnight UTC, dollars since the first of the month): no table scan."""
        with self._lock:
            self._update_spend(self._clock())
            return self._spend.totals()

    def usage_by_model(self, since: datetime | None = None) -> list[ModelUsage]:
        """Per-model totals since `since` (all time when None), most expensive first."""
        query = (
            "SELECT COALESCE(model_served, model_requested) AS model, "
            "SUM(error IS NULL AND cache_hit = 0), SUM(error IS NOT NULL), SUM(cache_hit), "
            "SUM(input_tokens), SUM(output_tokens), SUM(cost_usd) "
            "FROM calls WHERE at >= ? GROUP BY model ORDER BY SUM(cost_usd) DESC, model"
        )
        rows = self._rows(query, since)
        return [ModelUsage(str(r[0]), *(int(v) for v in r[1:6]), float(r[6])) for r in rows]

    def cache_hit_rate(self, since: datetime | None = None) -> float | None:
        """Cache hits over answered calls (hits included); None when there were none."""
        query = "SELECT SUM(cache_hit), SUM(error IS NULL) FROM calls WHERE at >= ?"
        hits, answered = self._rows(query, since)[0]
        return None if not answered else int(hits) / int(answered)

    def entries(self) -> list[LedgerEntry]:
        """Every row, oldest first (for reports and tests)."""
        rows = self._rows(
            "SELECT task, model_requested, model_served, input_tokens, output_tokens, cost_usd, "
            "latency_s, cache_hit, error, at FROM calls WHERE at >= ? ORDER BY id",
            None,
        )
        return [
            LedgerEntry(
                task=r[0],
                model_requested=r[1],
                model_served=r[2],
                input_tokens=r[3],
                output_tokens=r[4],
                cost_usd=r[5],
                latency_s=r[6],
                cache_hit=bool(r[7]),
                error=r[8],
                at=datetime.strptime(r[9], _TIME_FORMAT).replace(tzinfo=UTC),
            )
            for r in rows
        ]

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

    def _rows(self, query: str, start: datetime | None) -> list[tuple]:
        """Run `query` with its one parameter, the start time (every row when None)."""
        start_text = "" if start is None else _as_text(start)
        with self._lock:
            return self._connection.execute(query, (start_text,)).fetchall()

    # ---- running spend totals (call with the lock held) ---------------------------------------
    def _file_version(self) -> int:
        """Changes whenever another connection commits to the file (never for our own commits)."""
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def _update_spend(self, now: datetime) -> None:
        """Re-read the totals when `now` is in another day or month; else count what other
        connections committed since the last look (the version is read before the rows, so a
        commit in between is seen now or next time, never lost)."""
        version = self._file_version()
        if day_start(now) != self._spend_day:  # a month starts on a day boundary too
            self._reset_spend(now)
        elif version != self._data_version:
            self._catch_up()
        self._data_version = version

    def _reset_spend(self, now: datetime) -> None:
        """Totals for `now`'s day and month, read from the rows in one snapshot."""
        self._spend_day = day_start(now)
        day, month = _as_text(self._spend_day), _as_text(month_start(now))
        self._connection.execute("BEGIN")
        try:
            (last_id,) = self._connection.execute(
                "SELECT COALESCE(MAX(id), 0) FROM calls"
            ).fetchone()
            rows = self._connection.execute(
                "SELECT id, at, cost_usd FROM calls WHERE at >= ? AND cost_usd != 0", (month,)
            ).fetchall()
        finally:
            self._connection.execute("COMMIT")
        self._spend = RunningSpend(day, month, rows, int(last_id))

    def _catch_up(self) -> None:
        """Count the rows committed after the last one counted (by any connection)."""
        rows = self._connection.execute(
            "SELECT id, at, cost_usd FROM calls WHERE id > ? ORDER BY id", (self._spend.last_id,)
        ).fetchall()
        self._spend.catch_up(rows)


SpendRow = tuple[int, str, float]
"""(row id, time as ledger text, dollars) of one ledger row."""


class RunningSpend:
    """Dollars recorded at or after `day_start` and at or after `month_start`.

    `last_id` is the highest row id counted: ids grow with every committed row, so a row with a
    higher id is one not counted yet. Not thread-safe on its own: the ledger calls it under its
    lock.
    """

    def __init__(
        self,
        day_start: str,
        month_start: str,
        rows: Iterable[SpendRow] = (),
        last_id: int = 0,
    ) -> None:
        """Totals of `rows` (every row of the ledger up to id `last_id` that may count)."""
        self.day_start = day_start
        self.month_start = month_start
        self._day = Fraction(0)
        self._month = Fraction(0)
        for row in rows:
            self._add(row)
        self.last_id = last_id

    def count(self, row: SpendRow) -> bool:
        """Count a row just committed by the ledger's own connection.

        False (nothing counted) when it is not the next row: another connection committed rows
        in between, and the caller must `catch_up` on every row after `last_id` instead.
        """
        row_id = row[0]
        if row_id <= self.last_id:
            return True  # already counted by a catch-up
        if row_id != self.last_id + 1:
            return False
        self._add(row)
        self.last_id = row_id
        return True

    def catch_up(self, rows: Iterable[SpendRow]) -> None:
        """Count the rows of `rows` (ascending ids) not counted yet."""
        for row in rows:
            if row[0] > self.last_id:
                self._add(row)
                self.last_id = row[0]

    def totals(self) -> tuple[float, float]:
        """(dollars today, dollars this month), each rounded once from the exact sum."""
        return float(self._day), float(self._month)

    def _add(self, row: SpendRow) -> None:
        _, at, cost = row
        if cost == 0 or at < self.month_start:
            return
        amount = Fraction(cost)
        self._month += amount
        if at >= self.day_start:
            self._day += amount
