"""`hybrid-trader backtest`: every strategy on a source's test split, metrics and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import (
    AgentOption,
    EndOption,
    LLMChoice,
    LLMOption,
    MaxCostOption,
    SourceOption,
    StartOption,
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
    max_cost: MaxCostOption = None,
) -> None:
    """Backtest buy_and_hold, drl, llm, hybrid_fixed and hybrid_learned on the test split."""
    from orchestrator.jobs import backtest_agent  # heavy: keeps `--help` fast

    output = backtest_agent(
        agent, data, llm.value, out, start=start, end=end, max_cost_usd=max_cost
    )
    for line in output.summary_lines():
        typer.echo(line)
