"""`hybrid-trader backtest`: every strategy on a source's test split, metrics and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import (
    DEFAULT_LEARNER,
    AgentOption,
    DateFormatOption,
    EndOption,
    ForceOption,
    LearnerOption,
    LLMChoice,
    LLMOption,
    MaxCostOption,
    PeriodsPerYearOption,
    SourceOption,
    StartOption,
    refuse_offline_cost_cap,
)


def backtest(
    *,
    agent: AgentOption,
    data: SourceOption,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for metrics.json, equity.csv, metrics.md, plots.")
    ],
    llm: LLMOption = LLMChoice.OFFLINE,
    start: StartOption = None,
    end: EndOption = None,
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
    max_cost: MaxCostOption = None,
    learner: LearnerOption = DEFAULT_LEARNER,
    force: ForceOption = False,
) -> None:
    """Backtest every strategy (buy_and_hold, drl, llm and the hybrids) on the test split."""
    from orchestrator.jobs import backtest_agent  # heavy: keeps `--help` fast

    refuse_offline_cost_cap(llm, max_cost)
    output = backtest_agent(
        agent,
        data,
        llm.value,
        out,
        start=start,
        end=end,
        date_format=date_format,
        periods_per_year=periods_per_year,
        max_cost_usd=max_cost,
        learner=learner,
        force=force,
    )
    for line in output.summary_lines():
        typer.echo(line)
