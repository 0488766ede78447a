"""The `hybrid-trader` command line: one Typer app built from one module per command.

Every error a user can cause is raised as one of the packages' own error types and printed here as
one line, with a non-zero exit and no traceback.
"""

from __future__ import annotations

import sys

import typer

from orchestrator.cli import backtest, data, feed, llm, paper, pipeline, train, weights

USER_ERROR_EXIT_CODE = 2


def build_app() -> typer.Typer:
    """The `hybrid-trader` app with every command; add a line here when a command is added."""
    app = typer.Typer(
        name="hybrid-trader",
        help="A deep-RL agent and a team of LLM analysts that trade together.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.command("data")(data.data)
    app.command("train")(train.train_command)
    llm_app = typer.Typer(
        name="llm",
        help="The LLM gateway: routing table, spend against budget, cache.",
        no_args_is_help=True,
    )
    llm_app.command("status")(llm.status)
    cache_app = typer.Typer(name="cache", help="The LLM response cache.", no_args_is_help=True)
    cache_app.command("clear")(llm.cache_clear)
    llm_app.add_typer(cache_app, name="cache")
    app.add_typer(llm_app, name="llm")
    app.command("weights")(weights.weights)
    app.command("backtest")(backtest.backtest)
    app.command("paper")(paper.paper)
    app.command("feed")(feed.feed)
    app.command("pipeline")(pipeline.pipeline)
    return app


def _user_error_types() -> tuple[type[BaseException], ...]:
    """The error types a user can cause (bad file, bad option, missing key)."""
    from agents import AgentError
    from envs import EnvSetupError, MarketDataError
    from llm import LLMError
    from orchestrator.errors import OrchestratorError

    return (MarketDataError, LLMError, AgentError, EnvSetupError, OrchestratorError)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run a command, turning user errors into one clear line."""
    try:
        build_app()(args=argv, standalone_mode=True)
    except Exception as exc:
        if not isinstance(exc, _user_error_types()):
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
