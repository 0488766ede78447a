"""The `train` command, defined once: `python train.py` and `hybrid-trader train` both use it.

Its options are generated from `TrainConfig`: each field marked `OnCommandLine` (in the nested
DQN and PPO params too) becomes an option with the field's description as help and its default,
so an option cannot drift from the config it sets, and the config checks every value. Four
options are not one field each and are written here: `--seed` (the one-seed form of `--seeds`),
`--seeds` (no default, so that `--seed` applies when it is absent), `--learning-rate` (the
chosen algorithm's) and `--progress` (not part of the job).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rich.console import Console
from typer.exceptions import TyperException

from agents.config import (
    TRAINING_PANEL,
    DQNParams,
    OnCommandLine,
    PPOParams,
    TrainConfig,
    option_flag,
)
from agents.errors import AgentError
from envs import EnvSetupError, MarketDataError

if TYPE_CHECKING:
    from agents.training.seed_summary import TrainingRun

USER_ERRORS: tuple[type[Exception], ...] = (AgentError, MarketDataError, EnvSetupError)
USER_ERROR_EXIT_CODE = 2


class Algo(StrEnum):
    """The values of `--algo` (`agents.config.Algorithm`), for other commands that offer it."""

    DQN = "dqn"
    PPO = "ppo"


@dataclass(frozen=True)
class _ConfigOption:
    """One generated option and where its value goes in TrainConfig, e.g. ("dqn", "batch_size")."""

    parameter: inspect.Parameter
    path: tuple[str, ...]


def _config_options(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[_ConfigOption]:
    """An option per `OnCommandLine` field of `model` and of the models nested in it."""
    options = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            options += _config_options(field.annotation, path)
            continue
        mark = next((m for m in field.metadata if isinstance(m, OnCommandLine)), None)
        if mark is not None:
            options.append(_ConfigOption(_option_parameter(path, field, mark.panel), path))
    return options


def _option_parameter(path: tuple[str, ...], field: FieldInfo, panel: str) -> inspect.Parameter:
    """Typer's view of a field: a tuple of ints is typed as "64,64"; a Literal lists its choices."""
    annotation, default = field.annotation, field.default
    if get_origin(annotation) is tuple:
        annotation, default = str, ",".join(str(value) for value in default)
    option = typer.Option(
        option_flag(path[-1], field), help=field.description, rich_help_panel=panel
    )
    return _keyword("_".join(path), Annotated[annotation, option], default)


def _keyword(name: str, annotation: object, default: object) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _written_here() -> dict[str, list[inspect.Parameter]]:
    """The options that are not one config field each, keyed by the field they are listed before."""
    seeds = TrainConfig.model_fields["seeds"]
    dqn, ppo = DQNParams().learning_rate, PPOParams().learning_rate
    rates = f"Default: {_short(dqn)} (DQN), {_short(ppo)} (PPO)."
    return {
        "seeds": [
            _keyword(
                "seed",
                Annotated[int, typer.Option(help="Random seed.", rich_help_panel=TRAINING_PANEL)],
                seeds.default[0],
            ),
            _keyword(
                "seeds",
                Annotated[
                    str | None,
                    typer.Option(help=seeds.description, rich_help_panel=TRAINING_PANEL),
                ],
                None,
            ),
        ],
        "gamma": [
            _keyword(
                "learning_rate",
                Annotated[float | None, typer.Option(help=rates, rich_help_panel=TRAINING_PANEL)],
                None,
            )
        ],
    }


def _short(number: float) -> str:
    """1e-4, not 0.0001."""
    mantissa, exponent = f"{number:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


_CONFIG_OPTIONS = _config_options(TrainConfig)
_PROGRESS = _keyword(
    "progress",
    Annotated[bool, typer.Option(help="Show a progress bar.", rich_help_panel=TRAINING_PANEL)],
    True,
)


def _parameters() -> list[inspect.Parameter]:
    """Every option in the config's field order; --help groups them by panel."""
    written_here = _written_here()
    parameters = []
    for name in TrainConfig.model_fields:
        parameters += written_here.get(name, [])
        parameters += [o.parameter for o in _CONFIG_OPTIONS if o.path[0] == name]
    return [*parameters, _PROGRESS]


def config_from_options(options: dict[str, Any]) -> TrainConfig:
    """The checked TrainConfig of the command's option values, keyed by parameter name."""
    values: dict[str, Any] = {}
    for option in _CONFIG_OPTIONS:
        target = values
        for key in option.path[:-1]:
            target = target.setdefault(key, {})
        target[option.path[-1]] = options[option.parameter.name]
    values["seeds"] = options["seeds"] if options["seeds"] is not None else (options["seed"],)
    if options["learning_rate"] is not None:  # TrainConfig.dqn or .ppo: named as the algorithm
        values.setdefault(values["algo"], {})["learning_rate"] = options["learning_rate"]
    return TrainConfig.model_validate(values)


def _train(options: dict[str, Any]) -> None:
    """Train DQN or PPO agents, keep the best on validation, and evaluate them on the test split."""
    progress = options["progress"]
    config = config_from_options(options)
    from agents.training.trainer import train_agents  # torch and SB3 load only when training runs

    print_results(train_agents(config, progress_bar=progress), Console())


class GeneratedCommand:
    """A function for Typer whose keyword parameters are given, not written in a `def`.

    Typer reads a command's options from `inspect.signature`, which honours `__signature__`.
    """

    def __init__(
        self, name: str, run: Callable[[dict[str, Any]], None], parameters: list[inspect.Parameter]
    ) -> None:
        self.__name__ = name
        self.__doc__ = run.__doc__
        self.__signature__ = inspect.Signature(parameters)
        self.__annotations__: dict[str, Any] = {}
        self._run = run

    def __call__(self, **options: Any) -> None:
        self._run(options)


train_command = GeneratedCommand("train_command", _train, _parameters())


def print_results(run: TrainingRun, console: Console) -> None:
    """Each agent's test table, its confidence's reliability and where it went (every seed, then
    the ensemble), then the summary over seeds if several."""
    from agents.training.evaluation import evaluation_table, reliability_report
    from agents.training.seed_summary import summarize_seeds, summary_table

    for result in [*run.members, *([run.ensemble] if run.ensemble else [])]:
        console.print(evaluation_table(result.test, label=f"{result.label}: "))
        console.print(reliability_report(result.test, label=f"{result.label}: "))
        console.print(f"agent written to {result.directory}", soft_wrap=True)
    if run.ensemble is not None:
        console.print(summary_table(summarize_seeds(run.members, run.ensemble)))


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python train.py`, handling errors as `hybrid-trader` does."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(train_command)
    run_command_line(app, argv, lambda: USER_ERRORS)


def run_command_line(
    app: typer.Typer,
    argv: list[str] | None,
    user_errors: Callable[[], tuple[type[BaseException], ...]],
) -> None:
    """Run `app` as a console script: a user error (of the types `user_errors` returns, asked
    only once something failed, so `--help` imports none of them) or one of Typer's own usage
    errors (an unknown or missing option, a bad choice) prints one `error: ...` line and exits
    with USER_ERROR_EXIT_CODE, without a traceback or Typer's boxed usage message."""
    try:
        status = app(args=argv, standalone_mode=False)
    except user_errors() as exc:
        message = str(exc)
    except TyperException as exc:
        message = _with_value_typed(exc, sys.argv[1:] if argv is None else argv)
    else:
        raise SystemExit(status if isinstance(status, int) else 0)
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR_EXIT_CODE)


def _with_value_typed(error: TyperException, argv: list[str]) -> str:
    """Typer's message, followed by the value the user typed when Typer refused an option's value
    without saying it (its range checks say only "Input should be greater than or equal to 1")."""
    message = error.format_message()
    param = getattr(error, "param", None)
    if not isinstance(error, typer.BadParameter) or param is None:
        return message
    typed = None
    for index, arg in enumerate(argv):
        for option in param.opts:
            if arg == option and index + 1 < len(argv):
                typed = argv[index + 1]
            elif arg.startswith(f"{option}="):
                typed = arg.removeprefix(f"{option}=")
    if typed is None or f"'{typed}'" in message:
        return message
    return f"{message}, got {typed}"
