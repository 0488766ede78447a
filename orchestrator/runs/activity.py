"""What a run did besides holding positions: orders sent and vetoed, fills, LLM calls and dollars.

A backtest counts it bar by bar (`recorder.BacktestRecorder`); a paper run reads it from its
journal (`Activity.of`), so a resumed run shows the whole run's, what ran before a crash included.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.journal import JournalQueries
from orchestrator.runs.bar_engine import NOT_SENT

_FROM_THE_JOURNAL = """
    SELECT (SELECT COUNT(*) FROM orders WHERE broker_order_id != ?),
           (SELECT COUNT(*) FROM orders WHERE broker_order_id = ?),
           (SELECT COUNT(*) FROM fills),
           (SELECT COUNT(*) FROM llm_calls),
           (SELECT COALESCE(SUM(cost_usd), 0.0) FROM llm_calls)
"""


@dataclass(frozen=True)
class Activity:
    """orders_sent: to the broker; orders_vetoed: stopped by the execution check, never sent;
    llm_calls: every attempt (paid, failed or a cache hit); llm_cost_usd: what they cost."""

    orders_sent: int = 0
    orders_vetoed: int = 0
    fills: int = 0
    llm_calls: int = 0
    llm_cost_usd: float = 0.0

    @classmethod
    def of(cls, journal: JournalQueries) -> Activity:
        """Everything the journal holds, over all of its bars."""
        row = journal.connection.execute(_FROM_THE_JOURNAL, (NOT_SENT, NOT_SENT)).fetchone()
        return cls(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]))

    def describe(self) -> str:
        return (
            f"orders {self.orders_sent} (vetoed {self.orders_vetoed}), fills {self.fills},"
            f" LLM ${self.llm_cost_usd:.4f}"
        )
