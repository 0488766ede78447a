"""The live view of a paper run: a rich table redrawn in place on a terminal, plain lines elsewhere.

On a terminal, `LiveDisplay` keeps one table up to date (rich's `Live`, refreshed a few times a
second whatever the bar rate). When the output goes to a file or a pipe, redrawing makes no sense,
so `LineDisplay` writes one line every few bars (about 20 lines a run by default) and at the last.
"""

from __future__ import annotations

import math
import sys
from typing import Protocol, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.runs.progress import BarProgress, RunHeader

LINES_PER_RUN = 20


class PaperDisplay(Protocol):
    """What `run_paper` shows: `start` once, `update` after every bar, `stop` always (even when
    the run fails, so a terminal is left clean)."""

    def start(self, header: RunHeader) -> None: ...

    def update(self, progress: BarProgress) -> None: ...

    def stop(self) -> None: ...


class LineDisplay:
    """One line every `every` bars (None: about `LINES_PER_RUN` lines over the bars to trade)."""

    def __init__(self, every: int | None = None, stream: TextIO | None = None) -> None:
        self.every = every
        self.stream = stream or sys.stdout
        self._every = every or 1

    def start(self, header: RunHeader) -> None:
        remaining = max(1, header.total - header.resumed)
        self._every = self.every or math.ceil(remaining / LINES_PER_RUN)
        self._write(header.describe())

    def update(self, progress: BarProgress) -> None:
        if progress.done % self._every == 0 or progress.done == progress.total:
            self._write(progress.describe())

    def stop(self) -> None:
        self.stream.flush()

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class LiveDisplay:
    """A table of the latest bar, redrawn in place on `console` (default: the terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._live: Live | None = None
        self._title = ""

    def start(self, header: RunHeader) -> None:
        self._title = header.describe()
        self.console.print(self._title)
        self._live = Live(console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def update(self, progress: BarProgress) -> None:
        if self._live is not None:
            self._live.update(progress_table(progress))

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def progress_table(progress: BarProgress) -> Table:
    """The latest bar as a two-column table."""
    activity = progress.activity
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = (
        ("bar", f"{progress.day}  ({progress.done}/{progress.total})"),
        ("position", f"{progress.position:+.2f}"),
        ("equity", f"{progress.equity:,.2f}"),
        ("weights", f"DRL {progress.drl_weight:.3f} / LLM {1.0 - progress.drl_weight:.3f}"),
        ("LLM spend", f"${activity.llm_cost_usd:.4f}"),
        ("orders", f"{activity.orders_sent} sent, {activity.orders_vetoed} vetoed"),
        ("fills", str(activity.fills)),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table
