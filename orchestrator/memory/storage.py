"""The memory's SQLite tables, shared by the paper run's journal and the backtest's memory file.

The journal creates them with its own tables and writes each bar's records in the bar's
transaction (`insert_records`), so a closed trade, its lesson and the bar that closed it commit
together or not at all; `read_records` takes them back for a resumed run. A backtest, which keeps
no journal, writes them to `memory.sqlite` beside its output (`write_memory_file`). Lesson vectors
are float32 blobs: the rows the in-memory index is rebuilt from, exactly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from orchestrator.memory.records import (
    ClosedTrade,
    LessonRecord,
    MemoryRecords,
    Recall,
    TradeContext,
)

MEMORY_SCHEMA = (
    """CREATE TABLE memory_trades (
        entry_bar INTEGER PRIMARY KEY,
        exit_bar INTEGER NOT NULL,
        bar_index INTEGER NOT NULL,
        known_at TEXT NOT NULL,
        side TEXT NOT NULL,
        regime TEXT NOT NULL,
        net_return REAL NOT NULL,
        bars_held INTEGER NOT NULL,
        worst_excursion REAL NOT NULL,
        best_excursion REAL NOT NULL,
        context_json TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE lessons (
        entry_bar INTEGER PRIMARY KEY REFERENCES memory_trades (entry_bar),
        bar_index INTEGER NOT NULL,
        written_at TEXT NOT NULL,
        lesson_json TEXT NOT NULL,
        embedding_model TEXT NOT NULL,
        vector BLOB NOT NULL
    ) STRICT""",
    """CREATE TABLE memory_recalls (
        bar_index INTEGER PRIMARY KEY,
        recall_json TEXT NOT NULL
    ) STRICT""",
)
MEMORY_TABLES = ("memory_trades", "lessons", "memory_recalls")
MEMORY_FILE = "memory.sqlite"


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def insert_records(connection: sqlite3.Connection, records: MemoryRecords) -> None:
    """Insert `records` through `connection`; the caller holds the transaction."""
    for trade in records.trades:
        context = trade.context.model_dump(mode="json", exclude={"entry_bar", "side", "regime"})
        connection.execute(
            "INSERT INTO memory_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                trade.context.entry_bar,
                trade.exit_bar,
                trade.known_at_bar,
                trade.known_at,
                trade.context.side,
                trade.context.regime,
                trade.net_return,
                trade.bars_held,
                trade.worst_excursion,
                trade.best_excursion,
                _json(context),
            ),
        )
    for lesson in records.lessons:
        connection.execute(
            "INSERT INTO lessons VALUES (?, ?, ?, ?, ?, ?)",
            (
                lesson.entry_bar,
                lesson.written_at_bar,
                lesson.written_at,
                _json(lesson.lesson.model_dump(mode="json")),
                lesson.embedding_model,
                np.asarray(lesson.vector, dtype=np.float32).tobytes(),
            ),
        )
    for recall in records.recalls:
        values = recall.model_dump(mode="json", exclude={"bar"})
        connection.execute("INSERT INTO memory_recalls VALUES (?, ?)", (recall.bar, _json(values)))


def read_records(connection: sqlite3.Connection) -> MemoryRecords:
    """Every closed trade, lesson and recall `connection`'s database holds, in bar order."""
    trades = tuple(
        ClosedTrade(
            context=TradeContext.from_mapping(
                {**json.loads(context), "entry_bar": entry, "side": side, "regime": regime}
            ),
            exit_bar=exit_bar,
            known_at_bar=known_bar,
            known_at=known_at,
            net_return=net,
            bars_held=held,
            worst_excursion=worst,
            best_excursion=best,
        )
        for entry, exit_bar, known_bar, known_at, side, regime, net, held, worst, best, context in (
            connection.execute("SELECT * FROM memory_trades ORDER BY bar_index, entry_bar")
        )
    )
    lessons = tuple(
        LessonRecord.from_mapping(
            {
                "entry_bar": entry,
                "written_at_bar": bar,
                "written_at": written_at,
                "lesson": json.loads(lesson),
                "embedding_model": model,
                "vector": np.frombuffer(vector, dtype=np.float32).tolist(),
            }
        )
        for entry, bar, written_at, lesson, model, vector in connection.execute(
            "SELECT * FROM lessons ORDER BY bar_index, entry_bar"
        )
    )
    recalls = tuple(
        Recall.from_mapping({**json.loads(values), "bar": bar})
        for bar, values in connection.execute("SELECT * FROM memory_recalls ORDER BY bar_index")
    )
    return MemoryRecords(trades=trades, lessons=lessons, recalls=recalls)


def write_memory_file(path: Path, records: MemoryRecords) -> None:
    """A new SQLite file at `path` holding `records` (a backtest's memory, beside its output)."""
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        with connection:
            for statement in MEMORY_SCHEMA:
                connection.execute(statement)
            insert_records(connection, records)
    finally:
        connection.close()
