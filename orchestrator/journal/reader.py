"""How a journal is read back: the queries the writing `Journal` shares, and the read-only
`JournalReader`."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Self

import pandas as pd

from orchestrator.errors import JournalCorruptError, JournalError
from orchestrator.execution import OrderRequest, OrderStatus
from orchestrator.journal.schema import (
    TABLES,
    FileState,
    RunIdentity,
    connect_read_only,
    inspect_file,
)
from orchestrator.trader import BarSeen, ExtraScore, WeightUpdate

_WEIGHT_UPDATE_COLUMNS = (
    "step",
    "label",
    "drl_position",
    "llm_position",
    "bar_return",
    "drl_cost",
    "llm_cost",
    "drl_loss",
    "llm_loss",
    "drl_weight_before",
    "drl_weight_after",
)
_PENDING_ORDERS = f"""
    SELECT client_order_id, symbol, quantity, bar_index, intent FROM orders
    WHERE status IN ('{OrderStatus.ACCEPTED.value}', '{OrderStatus.PARTIALLY_FILLED.value}')
    ORDER BY rowid
"""


_DECISION_LOG = """
SELECT b.bar_index AS bar, b.timestamp AS date, b.close,
    d.drl_signal, d.drl_confidence, d.drl_weight,
    d.llm_signal, d.llm_confidence, d.llm_weight,
    d.action, d.target_position, d.reasoning AS hybrid_reasoning,
    json_extract(v.decision_json, '$.action') AS llm_action,
    json_extract(v.decision_json, '$.size') AS llm_size,
    d.llm_asked_at_bar, json_extract(v.decision_json, '$.reasoning') AS llm_reasoning,
    json_extract(v.decision_json, '$.signals') AS analyst_signals,
    json_array_length(m.recall_json, '$.similar') AS memory_similar,
    json_extract(m.recall_json, '$.win_rate') AS memory_win_rate,
    json_extract(m.recall_json, '$.mean_net_return') AS memory_mean_net_return,
    ml.lessons AS memory_lessons,
    r.status AS risk_check, o.orders, f.fills, p.equity
FROM bars AS b
LEFT JOIN decisions AS d ON d.bar_index = b.bar_index
LEFT JOIN llm_views AS v ON v.asked_at_bar = d.llm_asked_at_bar
LEFT JOIN memory_recalls AS m ON m.bar_index = b.bar_index
LEFT JOIN (
    SELECT recall.bar_index, group_concat(json_extract(l.lesson_json, '$.next_time'), ' | ')
        AS lessons
    FROM memory_recalls AS recall, json_each(recall.recall_json, '$.lessons') AS shown
    JOIN lessons AS l ON l.entry_bar = shown.value
    GROUP BY recall.bar_index
) AS ml ON ml.bar_index = b.bar_index
LEFT JOIN risk_checks AS r ON r.bar_index = b.bar_index
LEFT JOIN (
    SELECT bar_index, group_concat(
        intent || ' ' || printf('%+.4f', quantity) || ' shares ' || status
        || coalesce(' (' || reason || ')', ''), '; ') AS orders
    FROM orders GROUP BY bar_index
) AS o ON o.bar_index = b.bar_index
LEFT JOIN (
    SELECT bar_index, group_concat(
        printf('%+.4f', shares) || ' @ ' || printf('%.4f', price), '; ') AS fills
    FROM fills GROUP BY bar_index
) AS f ON f.bar_index = b.bar_index
LEFT JOIN positions AS p ON p.bar_index = b.bar_index
ORDER BY b.bar_index
"""


class JournalQueries:
    """What a journal holds, for resuming and for reports. Subclasses open the connection."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = connection
        row = connection.execute(
            "SELECT run_id, agent_hash, data_source, data_hash, config_json, created_at"
            " FROM run WHERE id = 1"
        ).fetchone()
        if row is None:
            raise JournalCorruptError(f"journal {path} has no run record; left untouched")
        self.run_id: str = row[0]
        self.identity = RunIdentity(
            agent_hash=row[1], data_source=row[2], data_hash=row[3], config=json.loads(row[4])
        )
        self.created_at: str = row[5]

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise JournalError(f"journal {self.path} is closed")
        return self._connection

    def bars_to_trade(self) -> int | None:
        """The bars the run's data held to trade when it last traded (None before its first bar)."""
        row = self.connection.execute("SELECT bars_to_trade FROM run WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def last_completed_bar(self) -> int | None:
        """Index of the last bar committed whole, or None before the first."""
        return self.connection.execute("SELECT MAX(bar_index) FROM bars").fetchone()[0]

    def bars_seen(self) -> pd.DataFrame:
        """Every bar journaled, indexed by bar index: its timestamp (ISO text) and OHLCV."""
        return pd.read_sql_query(
            "SELECT bar_index, timestamp, open, high, low, close, volume FROM bars"
            " ORDER BY bar_index",
            self.connection,
            index_col="bar_index",
        )

    def bar(self, index: int) -> BarSeen:
        row = self.connection.execute(
            "SELECT timestamp, open, high, low, close, volume FROM bars WHERE bar_index = ?",
            (index,),
        ).fetchone()
        if row is None:
            raise JournalError(f"journal {self.path} has no bar {index}")
        timestamp, open_, high, low, close, volume = row
        return BarSeen(
            index=index,
            timestamp=dt.datetime.fromisoformat(timestamp),
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
        )

    def table(self, name: str) -> pd.DataFrame:
        """A whole table in the order it was written (names: `schema.TABLES`)."""
        if name not in TABLES:
            raise JournalError(f"journal has no table {name!r}; tables: {', '.join(TABLES)}")
        return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY rowid", self.connection)

    def decision_log(self) -> pd.DataFrame:
        """One row per bar, in order: the close; each source's vote (signal, confidence) and
        weight; the hybrid's action, target and reasoning; the LLM view it used (action, size,
        the bar that asked it and the analysts' reasoning); what the trade memory showed the
        analysts when they were asked (similar past trades, their win rate and mean net return,
        the lessons' advice, " | "-separated); the risk check; the orders placed at the bar and
        the fills in it ("; "-separated); the equity at the close."""
        return pd.read_sql_query(_DECISION_LOG, self.connection)

    def weight_history(self) -> tuple[WeightUpdate, ...]:
        """Every Hedge update, oldest first."""
        columns = ", ".join(_WEIGHT_UPDATE_COLUMNS)
        rows = self.connection.execute(
            f"SELECT {columns}, extras_json FROM weight_updates ORDER BY step"
        ).fetchall()
        return tuple(
            WeightUpdate(
                **dict(zip(_WEIGHT_UPDATE_COLUMNS, row[:-1], strict=True)),
                extras={
                    name: ExtraScore.model_validate(score)
                    for name, score in json.loads(row[-1]).items()
                },
            )
            for row in rows
        )

    def pending_orders(self) -> tuple[OrderRequest, ...]:
        """Orders sent and not yet wholly filled (nor refused or canceled), oldest first."""
        rows = self.connection.execute(_PENDING_ORDERS).fetchall()
        return tuple(
            OrderRequest(
                client_order_id=row[0],
                symbol=row[1],
                quantity=row[2],
                decision_bar=row[3],
                intent=row[4],
            )
            for row in rows
        )

    def llm_spend(self) -> float:
        """Dollars spent on LLM calls over the whole run."""
        total = self.connection.execute("SELECT SUM(cost_usd) FROM llm_calls").fetchone()[0]
        return float(total or 0.0)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
