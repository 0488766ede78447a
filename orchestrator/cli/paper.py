"""`hybrid-trader paper`: replay a source's test split as a live feed into a resumable journal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import (
    DEFAULT_EXPERTS,
    AgentOption,
    CombinerChoice,
    CombinerOption,
    EndOption,
    ExpertsOption,
    LLMChoice,
    LLMOption,
    MaxCostOption,
    SourceOption,
    StartOption,
)

INTERRUPTED_EXIT_CODE = 130  # the shell's code for a run stopped by Ctrl-C


def paper(
    *,
    agent: AgentOption,
    data: SourceOption,
    journal: Annotated[
        Path,
        typer.Option(
            "--journal",
            help="SQLite journal of the run: created if missing, resumed if it exists.",
        ),
    ],
    llm: LLMOption = LLMChoice.OFFLINE,
    start: StartOption = None,
    end: EndOption = None,
    pace: Annotated[
        float,
        typer.Option(
            help="Seconds per bar, to replay in real time (default 0: as fast as it goes)"
        ),
    ] = 0.0,
    combiner: CombinerOption = CombinerChoice.MIXTURE,
    experts: ExpertsOption = DEFAULT_EXPERTS,
    max_cost: MaxCostOption = None,
) -> None:
    """Paper trade the hybrid on the test split bar by bar; run it again to resume a crashed run."""
    # Heavy imports here, so that `--help` stays fast.
    from orchestrator.jobs import trader_choices
    from orchestrator.runs.display import LineDisplay, LiveDisplay
    from orchestrator.runs.paper import run_paper
    from orchestrator.runs.paper_config import PaperConfig

    config = PaperConfig(trader=trader_choices(combiner.value, experts))

    display = LiveDisplay() if sys.stdout.isatty() else LineDisplay(every=1 if pace >= 1 else None)
    try:
        result = run_paper(
            agent,
            data,
            llm.value,
            journal,
            start=start,
            end=end,
            pace_s=pace,
            display=display,
            config=config,
            max_cost_usd=max_cost,
        )
    except KeyboardInterrupt:
        typer.echo(
            f"interrupted: journal {journal} holds every bar completed; run the same command"
            " again to resume",
            err=True,
        )
        raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
    for line in result.summary_lines():
        typer.echo(line)
