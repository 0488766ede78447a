"""What a run did besides holding positions: orders sent and vetoed, fills, LLM calls and dollars.

A backtest counts it bar by bar (`recorder.BacktestRecorder`); a paper run reads it from its
journal (`Activity.of`), so a resumed run shows the whole run's, what ran before a crash included.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm import Task, usd
from orchestrator.journal import JournalQueries
from orchestrator.runs.bar_engine import NOT_SENT

_FROM_THE_JOURNAL = """
    SELECT (SELECT COUNT(*) FROM orders WHERE broker_order_id != ?),
           (SELECT COUNT(*) FROM orders WHERE broker_order_id = ?),
           (SELECT COUNT(*) FROM fills),
           (SELECT COUNT(*) FROM llm_calls WHERE error IS NULL),
           (SELECT COALESCE(SUM(cost_usd), 0.0) FROM llm_calls),
           (SELECT COUNT(*) FROM llm_calls WHERE error IS NOT NULL),
           (SELECT COALESCE(SUM(cost_usd), 0.0) FROM llm_calls WHERE task = ?)
"""


@dataclass(frozen=True)
class Activity:
    """orders_sent: to the broker; orders_vetoed: stopped by the execution check, never sent;
    llm_calls: usable answers (paid or from the cache); llm_failed: failed attempts (errors,
    timeouts, unusable answers); llm_cost_usd: what all of them cost, of which
    llm_check_cost_usd the execution checks."""

    orders_sent: int = 0
    orders_vetoed: int = 0
    fills: int = 0
    llm_calls: int = 0
    llm_cost_usd: float = 0.0
    llm_failed: int = 0
    llm_check_cost_usd: float = 0.0

    @classmethod
    def of(cls, journal: JournalQueries) -> Activity:
        """Everything the journal holds, over all of its bars."""
        arguments = (NOT_SENT, NOT_SENT, Task.TRADE_EXECUTION.value)
        row = journal.connection.execute(_FROM_THE_JOURNAL, arguments).fetchone()
        counts, dollars = (int(row[i]) for i in (0, 1, 2, 3, 5)), (float(row[i]) for i in (4, 6))
        orders_sent, orders_vetoed, fills, llm_calls, llm_failed = counts
        llm_cost_usd, llm_check_cost_usd = dollars
        return cls(
            orders_sent,
            orders_vetoed,
            fills,
            llm_calls,
            llm_cost_usd,
            llm_failed,
            llm_check_cost_usd,
        )

    def llm_line(self) -> str:
        """The LLM's part of a run, for its summary: answers apart from failed attempts, and
        dollars apart for the execution checks."""
        return (
            f"LLM: {self.llm_calls} answers, {self.llm_failed} failed attempts;"
            f" {usd(self.llm_cost_usd)}, of which execution checks"
            f" {usd(self.llm_check_cost_usd)}"
        )

    def describe(self) -> str:
        return (
            f"orders {self.orders_sent} (vetoed {self.orders_vetoed}), fills {self.fills},"
            f" LLM {usd(self.llm_cost_usd)}"
            + (f" ({self.llm_failed} failed attempts)" if self.llm_failed else "")
        )
