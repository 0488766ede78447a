"""The `hybrid-trader` command line: one Typer app built from one module per command.

Every error a user can cause is raised as one of the packages' own error types, or is one of
Typer's usage errors, and is printed here as one `error: ...` line, with exit status 2 and no
traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from agents import USER_ERROR_EXIT_CODE
from orchestrator.cli import (
    backtest,
    data,
    evaluate,
    feed,
    journal,
    llm,
    paper,
    pipeline,
    train,
    weights,
)

PACKAGE = "hybrid-trader"
__all__ = ["USER_ERROR_EXIT_CODE", "build_app", "main"]


def build_app() -> typer.Typer:
    """The `hybrid-trader` app with every command; add a line here when a command is added."""
    app = _group("hybrid-trader", "A deep-RL agent and a team of LLM analysts that trade together.")
    app.callback(invoke_without_command=True)(_root)
    app.command("data")(data.data)
    app.command("train")(train.train_command)
    llm_app = _group("llm", "The LLM gateway: routing table, spend against budget, cache.")
    llm_app.command("status")(llm.status)
    cache_app = _group("cache", "The LLM response cache.")
    cache_app.command("clear")(llm.cache_clear)
    llm_app.add_typer(cache_app, name="cache")
    app.add_typer(llm_app, name="llm")
    app.command("weights")(weights.weights)
    app.command("backtest")(backtest.backtest)
    app.command("paper")(paper.paper)
    app.command("feed")(feed.feed)
    app.command("pipeline")(pipeline.pipeline)
    app.command("evaluate")(evaluate.evaluate)
    app.command("tune")(evaluate.tune)
    journal_app = _group("journal", "A paper run's decisions, without SQL.")
    journal_app.command("show")(journal.show)
    journal_app.command("export")(journal.export)
    app.add_typer(journal_app, name="journal")
    return app


def _group(name: str, help: str) -> typer.Typer:
    """A command group that prints its help when given no command (Typer's `no_args_is_help`
    raises a usage error, which `main` would print as an error line)."""
    group = typer.Typer(name=name, help=help, pretty_exceptions_enable=False, add_completion=False)
    if name != "hybrid-trader":
        group.callback(invoke_without_command=True)(_help_when_bare)
    return group


def _help_when_bare(context: typer.Context) -> None:
    if context.invoked_subcommand is None:
        typer.echo(context.get_help())


def _root(
    context: typer.Context,
    show_version: Annotated[
        bool, typer.Option("--version", help="Print the installed version and exit.")
    ] = False,
) -> None:
    if show_version:
        from importlib.metadata import version

        typer.echo(f"{PACKAGE} {version(PACKAGE)}")
        raise typer.Exit()
    _help_when_bare(context)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """The error types a user can cause (bad file, bad option, missing key)."""
    from agents import AgentError
    from envs import EnvSetupError, MarketDataError
    from llm import LLMError
    from orchestrator.errors import OrchestratorError

    return (MarketDataError, LLMError, AgentError, EnvSetupError, OrchestratorError)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run a command, turning user errors into one clear line."""
    from agents import run_command_line

    run_command_line(build_app(), argv, _user_error_types)
