"""The LLM calls made during one bar, as the gateway's ledger records them.

The journal keeps one row per LLM attempt of a bar (`BarWriter.record_llm_call`), and the backtest
counts calls and dollars per strategy. The gateway already writes exactly those rows, paid, failed
or cache hits, to its ledger; a tap in front of the ledger passes every row on unchanged and keeps
a copy until the bar drains it, so nothing is counted twice and no call is missed, including the
failed attempts inside the gateway's retry loop that no caller ever sees.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from llm import Gateway
from llm import Ledger, LedgerEntry


class LedgerTap:
    """Stands in for a gateway's `Ledger`: records through to it and keeps the rows since `drain`.

    Thread-safe (the analyst graph calls the gateway from parallel threads). Every other ledger
    method (spend, usage) is the wrapped ledger's.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._pending: list[LedgerEntry] = []

    @classmethod
    def install(cls, gateway: Gateway) -> LedgerTap:
        """Put a tap in front of `gateway`'s ledger (once; a second call returns the same tap)."""
        if isinstance(gateway.ledger, LedgerTap):
            return gateway.ledger
        tap = cls(gateway.ledger)
        gateway.ledger = tap  # type: ignore[assignment]  # same interface, see the class docstring
        return tap

    def record(self, entry: LedgerEntry) -> None:
        stamped = entry if entry.at is not None else replace(entry, at=self._ledger.now())
        self._ledger.record(stamped)
        with self._lock:
            self._pending.append(stamped)

    def drain(self) -> tuple[LedgerEntry, ...]:
        """The rows recorded since the last drain, oldest first; the tap starts empty again."""
        with self._lock:
            drained, self._pending = tuple(self._pending), []
        return drained

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)
