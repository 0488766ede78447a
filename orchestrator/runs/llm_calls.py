"""The LLM calls made during one bar, as the gateway reports them.

The journal keeps one row per LLM attempt of a bar (`BarWriter.record_llm_call`), and the backtest
counts calls and dollars per strategy. The gateway hands every row it writes to its ledger, paid,
failed or cache hit, to its listeners; an `LLMCallLog` listens and keeps the rows until the bar
drains them, so nothing is counted twice and no call is missed, including the failed attempts
inside the gateway's retry loop that no caller ever sees.
"""

from __future__ import annotations

import threading

from llm import CompletionGateway, Gateway, LedgerEntry


class LLMCallLog:
    """The gateway's ledger rows since the last `drain`. Thread-safe: the analyst graph calls the
    gateway, and so this log, from parallel threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[LedgerEntry] = []

    @classmethod
    def listen_to(cls, gateway: CompletionGateway) -> LLMCallLog | None:
        """A log of `gateway`'s calls from now on, for as long as the gateway lives; None for a
        stand-in gateway (tests), which reports no calls."""
        if not isinstance(gateway, Gateway):
            return None
        log = cls()
        gateway.add_listener(log.record)
        return log

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._pending.append(entry)

    def drain(self) -> tuple[LedgerEntry, ...]:
        """The rows recorded since the last drain, oldest first; the log starts empty again."""
        with self._lock:
            drained, self._pending = tuple(self._pending), []
        return drained
