"""`hybrid-trader backtest`: the five strategies on a source's test split, metrics and plots."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.commands.data import SOURCE_HELP


class LLMChoice(StrEnum):
    OFFLINE = "offline"
    GATEWAY = "gateway"


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)


def backtest(
    *,
    agent: Annotated[Path, typer.Option("--agent", help="Agent directory written by train.")],
    data: Annotated[str, typer.Option("--data", help=SOURCE_HELP)],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for metrics.json, equity.csv, metrics.md, plots.")
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
) -> None:
    """Backtest buy_and_hold, drl, llm, hybrid_fixed and hybrid_learned on the test split."""
    from orchestrator.backtest_job import backtest_agent  # heavy: keeps `--help` fast

    output = backtest_agent(agent, data, llm.value, out, start=start, end=end)
    for line in output.summary_lines():
        typer.echo(line)
