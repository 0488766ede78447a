"""The `hybrid-trader` command line: one Typer app, one module per command under `commands/`.

Every error a user can cause is raised as one of the packages' own error types and printed here as
one line, with a non-zero exit and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="hybrid-trader",
    help="A deep-RL agent and a team of LLM analysts that trade together.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module defines `register(app)`; add a line here when a command is added.
_COMMAND_MODULES = (
    "orchestrator.commands.data",
    "orchestrator.commands.train",
    "orchestrator.commands.llm",
    "orchestrator.commands.weights",
    "orchestrator.commands.backtest",
    "orchestrator.commands.paper",
    "orchestrator.commands.pipeline",
)

# Error types a user can cause (bad file, bad option, missing key), by import path.
_USER_ERROR_TYPES = (
    "envs.errors:MarketDataError",
    "llm.types:LLMError",
    "agents.errors:AgentError",
    "envs.env_errors:EnvSetupError",
    "orchestrator.errors:OrchestratorError",
)

USER_ERROR_EXIT_CODE = 2


@app.callback()
def _root() -> None:
    """A deep-RL agent and a team of LLM analysts that trade together."""
    # An explicit callback keeps Typer in sub-command mode even if only one command is registered.


def _user_error_types() -> tuple[type[BaseException], ...]:
    found = []
    for path in _USER_ERROR_TYPES:
        module_name, _, attr = path.partition(":")
        found.append(getattr(importlib.import_module(module_name), attr))
    return tuple(found)


def _register_commands() -> None:
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run a command, turning user errors into one clear line."""
    _register_commands()
    user_errors = _user_error_types()
    try:
        app(args=argv, standalone_mode=True)
    except user_errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
