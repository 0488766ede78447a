"""What a paper run reports while it runs and when it ends, as plain values and lines of text.

Its activity comes from the journal, not from the process (`Activity.of`), so a resumed run shows
the whole run's orders, fills and LLM spend, including what the runs before the crash did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from orchestrator.runs.activity import Activity


@dataclass(frozen=True)
class RunHeader:
    """What is about to run: `resumed` bars are already in the journal, of `total` to trade."""

    journal: Path
    symbol: str
    llm_mode: str
    first_day: dt.date
    last_day: dt.date
    total: int
    resumed: int
    in_sample: bool = False  # the agent trained or was selected on some of these bars

    def describe(self) -> str:
        where = f"paper trading {self.symbol} {self.first_day} to {self.last_day}"
        if self.in_sample:
            where += " (IN-SAMPLE: the agent trained or was selected on some of these bars)"
        done = (
            f"resuming after {self.resumed} of {self.total} bars"
            if self.resumed
            else f"{self.total} bars, new journal"
        )
        return f"{where} (LLM {self.llm_mode}): {done}; journal {self.journal}"


@dataclass(frozen=True)
class BarProgress:
    """The account after one bar. done: bars in the journal, this one included, of `total`.
    position: fraction of equity held; equity at the bar's close."""

    day: dt.date
    done: int
    total: int
    position: float
    equity: float
    drl_weight: float
    activity: Activity

    def describe(self) -> str:
        return (
            f"{self.day} bar {self.done}/{self.total}: position {self.position:+.2f},"
            f" equity {self.equity:,.2f}, weights DRL {self.drl_weight:.3f} /"
            f" LLM {1.0 - self.drl_weight:.3f}, {self.activity.describe()}"
        )


@dataclass(frozen=True)
class PaperResult:
    """A finished paper run. bars_resumed: bars the journal held before this run (all of them
    when it was complete already); buy_and_hold_equity: the same cash held in the asset over
    the same bars, bought at the first fill (`envs.buy_and_hold`, as the backtest's row)."""

    journal: Path
    total: int
    bars_resumed: int
    bars_new: int
    initial_cash: float
    final_equity: float
    buy_and_hold_equity: float
    drl_weight: float
    activity: Activity

    @property
    def was_complete(self) -> bool:
        return self.bars_new == 0

    def summary_lines(self) -> list[str]:
        lines = []
        if self.was_complete:
            lines.append(
                f"journal {self.journal} is complete ({self.total} bars): nothing to do;"
                " its results are:"
            )
        else:
            lines.append(
                f"{self.total} bars: {self.bars_new} traded now, {self.bars_resumed} resumed"
                " from the journal"
            )
        lines += [
            f"final equity {self.final_equity:,.2f} ({self._return(self.final_equity):+.2%});"
            f" buy and hold {self.buy_and_hold_equity:,.2f}"
            f" ({self._return(self.buy_and_hold_equity):+.2%})",
            f"final weights DRL {self.drl_weight:.3f} / LLM {1.0 - self.drl_weight:.3f};"
            f" {self.activity.describe()}",
            self.activity.llm_line(),
            f"journal {self.journal}",
        ]
        return lines

    def _return(self, equity: float) -> float:
        return equity / self.initial_cash - 1.0
