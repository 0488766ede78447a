"""`hybrid-trader paper`: replay a source's test split as a live feed into a resumable journal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.commands.backtest import LLMChoice
from orchestrator.commands.data import SOURCE_HELP

INTERRUPTED_EXIT_CODE = 130  # the shell's code for a run stopped by Ctrl-C


def register(app: typer.Typer) -> None:
    app.command("paper")(paper)


def paper(
    *,
    agent: Annotated[Path, typer.Option("--agent", help="Agent directory written by train.")],
    data: Annotated[str, typer.Option("--data", help=SOURCE_HELP)],
    journal: Annotated[
        Path,
        typer.Option(
            "--journal",
            help="SQLite journal of the run: created if missing, resumed if it exists.",
        ),
    ],
    llm: Annotated[
        LLMChoice,
        typer.Option(
            "--llm",
            help="offline: the deterministic offline analyst at $0; gateway: the configured"
            " models (needs a key).",
        ),
    ] = LLMChoice.OFFLINE,
    start: Annotated[
        str | None, typer.Option(help="First date of data used, YYYY[-MM[-DD]] (default: all)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date of data used, inclusive (default: all)")
    ] = None,
    pace: Annotated[
        float,
        typer.Option(
            help="Seconds per bar, to replay in real time (default 0: as fast as it goes)"
        ),
    ] = 0.0,
) -> None:
    """Paper trade the hybrid on the test split bar by bar; run it again to resume a crashed run."""
    # Heavy imports here, so that `--help` stays fast.
    from orchestrator.paper import run_paper
    from orchestrator.paper_display import LineDisplay, LiveDisplay

    display = LiveDisplay() if sys.stdout.isatty() else LineDisplay(every=1 if pace >= 1 else None)
    try:
        result = run_paper(
            agent, data, llm.value, journal, start=start, end=end, pace_s=pace, display=display
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
