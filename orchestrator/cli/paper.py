"""`hybrid-trader paper`: replay a source's test split as a live feed into a resumable journal."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import (
    DEFAULT_EXPERTS,
    DEFAULT_LEARNER,
    AgentOption,
    CombinerChoice,
    CombinerOption,
    DateFormatOption,
    EndOption,
    ExpertsOption,
    LearnerOption,
    LLMChoice,
    LLMOption,
    MaxCostOption,
    PeriodsPerYearOption,
    SourceOption,
    StartOption,
    follow_poller,
    refuse_offline_cost_cap,
)

INTERRUPTED_EXIT_CODE = 130


class BrokerChoice(StrEnum):
    PAPER = "paper"
    ALPACA = "alpaca"


# the shell's code for a run stopped by Ctrl-C


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
            min=0.0, help="Seconds per bar, to replay in real time (default 0: as fast as it goes)"
        ),
    ] = 0.0,
    combiner: CombinerOption = CombinerChoice.MIXTURE,
    experts: ExpertsOption = DEFAULT_EXPERTS,
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
    broker: Annotated[
        BrokerChoice,
        typer.Option(
            help="paper: the simulated broker, filling at the next open; alpaca: an Alpaca"
            " paper-trading account, keys in ALPACA_API_KEY and ALPACA_SECRET_KEY."
        ),
    ] = BrokerChoice.PAPER,
    follow: Annotated[
        bool,
        typer.Option(
            help="Treat the data file as a live feed: after its bars, wait for rows appended to"
            " it and trade each as it arrives (stop with Ctrl-C or --max-idle)."
        ),
    ] = False,
    poll: Annotated[
        float | None,
        typer.Option(min=0.001, help="With --follow: seconds between looks at the file (1)."),
    ] = None,
    max_idle: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="With --follow: stop after this many seconds without a change to the file"
            " (default: never).",
        ),
    ] = None,
    max_cost: MaxCostOption = None,
    memory: Annotated[
        bool,
        typer.Option(
            help="Keep a trade memory in the journal: each closed trade with its context and"
            " outcome and the lesson written on it; the analysts see the most similar past trades"
            " and the lessons that apply."
        ),
    ] = False,
    learner: LearnerOption = DEFAULT_LEARNER,
) -> None:
    """Paper trade the hybrid on the test split bar by bar; run it again to resume a crashed run.

    Bars appended to the file since extend the run; a changed past is refused.
    """
    # Heavy imports here, so that `--help` stays fast.
    from orchestrator.jobs import trader_choices
    from orchestrator.runs.display import LineDisplay, LiveDisplay
    from orchestrator.runs.paper import run_paper
    from orchestrator.runs.paper_config import PaperConfig

    refuse_offline_cost_cap(llm, max_cost)
    config = PaperConfig(
        trader=trader_choices(combiner.value, experts, memory=memory, learner=learner),
        broker=broker.value,
    )

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
            date_format=date_format,
            periods_per_year=periods_per_year,
            follow=follow_poller(follow, poll, max_idle, default_poll=1.0),
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
