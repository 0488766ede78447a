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
    # Heavy imports here, so that `--help` stays fast.
    from agents.drl_agent import DRLAgent
    from llm.factory import build_analyst_team
    from orchestrator.backtest import run_backtest
    from orchestrator.backtest_report import write_backtest_report
    from orchestrator.offline_execution_rule import OFFLINE_EXECUTION_RULES
    from orchestrator.trading_market import load_trading_market

    # The LLM side first: a missing key is reported before any data is loaded.
    with build_analyst_team(llm.value, offline_rules=OFFLINE_EXECUTION_RULES) as team:
        trained = DRLAgent.load(agent)
        market = load_trading_market(trained, data, start, end)
        result = run_backtest(trained, market, team)
    files = write_backtest_report(result, out)
    for name, run in result.strategies.items():
        equity = run.frame["equity"]
        typer.echo(f"{name:>15}: {equity.iloc[-1] / equity.iloc[0] - 1.0:+.2%} total return")
    for path in files.values():
        typer.echo(f"wrote {path}")
