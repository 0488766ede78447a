"""What a walk-forward evaluation runs: series, test years, algorithms, seeds, budget, strategies.

The grid is read from the command line (`--algo dqn,ppo --seeds 0-4 --windows yearly`) or from a
TOML file with the same names (`--spec FILE`); the command line wins where both give a value.
Everything a cell's numbers depend on is here, so that the spec (with the data's hash and the
package version) names a cell's stored result exactly (see `orchestrator.evaluation.plan`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveInt, field_validator

from agents import AgentError, TrainConfig, parse_integer_ranges
from envs import canonical_source
from llm import LLMMode
from orchestrator.checks import Settings
from orchestrator.errors import ConfigError
from orchestrator.runs import STRATEGY_NAMES, StrategyName

Algorithm = Literal["dqn", "ppo"]  # the agents' `TrainConfig.algo`
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
YEARLY = "yearly"

DEFAULT_TIMESTEPS = 20_000
"""Small on purpose: a grid multiplies it by series x windows x algorithms x seeds."""

DEFAULT_MIN_TRAIN_YEARS = 4
"""Years of bars before the validation year that a test year needs: the agent holds the last two
of them out of training to calibrate its confidence, so four leave two to learn from."""


class EvaluationSpec(Settings):
    """One evaluation grid. sources: data sources (names or absolute paths), each its own series.
    test_years: the years tested (None: every year with `min_train_years` of history before its
    validation year). timesteps: training steps per cell. training: further `train` options
    (TrainConfig field names) applied to every cell. prior_trials: configurations tried before
    this grid (e.g. by `tune`), added to the trials the deflated Sharpe ratio accounts for.
    max_cost_usd: a hard cap in dollars on the whole evaluation's LLM calls (gateway mode), shared
    equally by its cells (each cell's backtest is capped at its share)."""

    sources: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=1)]
    algos: Annotated[tuple[Algorithm, ...], Field(min_length=1)] = ("dqn",)
    seeds: Annotated[tuple[NonNegativeInt, ...], Field(min_length=1)] = (0,)
    test_years: Annotated[tuple[PositiveInt, ...], Field(min_length=1)] | None = None
    timesteps: PositiveInt = DEFAULT_TIMESTEPS
    llm_mode: LLMMode = "offline"
    start: str | None = None
    end: str | None = None
    date_format: Annotated[str, Field(min_length=1)] | None = None
    periods_per_year: PositiveInt | None = None
    min_train_years: PositiveInt = DEFAULT_MIN_TRAIN_YEARS
    strategies: Annotated[tuple[StrategyName, ...], Field(min_length=1)] = STRATEGY_NAMES
    training: dict[str, Any] = Field(default_factory=dict)
    prior_trials: NonNegativeInt = 0
    max_cost_usd: NonNegativeFloat | None = None

    @field_validator("sources", "algos", "seeds", "test_years", "strategies")
    @classmethod
    def _distinct(cls, values: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("must not repeat a value")
        return values

    @field_validator("strategies")
    @classmethod
    def _with_benchmark(cls, values: tuple[StrategyName, ...]) -> tuple[StrategyName, ...]:
        if "buy_and_hold" not in values:
            raise ValueError("must include buy_and_hold: every result is judged beside it")
        return values

    @field_validator("training")
    @classmethod
    def _train_options(cls, values: dict[str, Any]) -> dict[str, Any]:
        owned = sorted(set(values) & _CELL_FIELDS)
        if owned:
            raise ValueError(f"{owned} are set per cell by the evaluation, not by `training`")
        try:
            TrainConfig.model_validate(values)
        except AgentError as exc:
            raise ValueError(str(exc)) from None
        return values


_CELL_FIELDS = {"algo", "data", "out", "force", "timesteps", "seeds", "start", "end"} | {
    "validation_start",
    "test_start",
    "date_format",
    "periods_per_year",
}


def parse_seeds(text: str) -> tuple[int, ...]:
    """`0-4` or `0,1,2` (or both, `0-2,7`) as seeds; a bad form is a ConfigError."""
    try:
        return parse_integer_ranges(text)
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give seeds as 0-4 or 0,1,2") from None


def parse_windows(text: str) -> tuple[int, ...] | None:
    """`yearly` (every year with enough history: None), or the test years as `2015-2018` or
    `2015,2017`; a bad form is a ConfigError."""
    if text.strip() == YEARLY:
        return None
    try:
        return parse_seeds(text)
    except ConfigError:
        raise ConfigError(
            f"--windows {text!r}: give yearly, or test years such as 2015-2018 or 2015,2017"
        ) from None


def split_list(text: str) -> tuple[str, ...]:
    """`dqn, ppo` as ("dqn", "ppo")."""
    return tuple(part.strip() for part in text.split(","))


def read_spec_file(path: Path) -> dict[str, Any]:
    """The table of a TOML spec (`[evaluate]`, or the top level): the command line's option
    names (`data`, `algo`, `seeds`, `windows`, `llm`, `max_cost`, ..., `-` or `_` alike) or the
    spec's field names. A file that is missing or not TOML, or a name that is neither, is a
    ConfigError naming the file."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--spec {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--spec {path}: not TOML ({exc})") from None
    table = table.get("evaluate", table)
    if not isinstance(table, dict):
        raise ConfigError(f"--spec {path}: [evaluate] must be a table")
    options = {_spec_field(name): value for name, value in table.items()}
    unknown = sorted(set(options) - set(EvaluationSpec.model_fields) - _PARSED_OPTIONS)
    if unknown:
        known = sorted(_PARSED_OPTIONS | set(_FIELD_OF_OPTION) | set(EvaluationSpec.model_fields))
        raise ConfigError(
            f"--spec {path}: unknown setting {', '.join(unknown)} (known: {', '.join(known)})"
        )
    return options


def _spec_field(name: str) -> str:
    """A spec file's `max-cost` as `max_cost_usd`: its field, or the option `build_spec` parses."""
    name = name.replace("-", "_")
    return _FIELD_OF_OPTION.get(name, name)


def build_spec(options: dict[str, Any]) -> EvaluationSpec:
    """The spec from command-line style `options` (`data`, `algo`, `seeds`, `windows` as text or
    lists, the other fields by name); unknown names are refused by the spec itself."""
    fields = dict(options)
    for name, field, parse in (
        ("data", "sources", split_list),
        ("algo", "algos", split_list),
        ("seeds", "seeds", parse_seeds),
        ("windows", "test_years", parse_windows),
    ):
        if name in fields:
            value = fields.pop(name)
            fields[field] = parse(value) if isinstance(value, str) else value
    algos = fields.get("algos", ())
    if any(algo not in ALGORITHMS for algo in algos):
        raise ConfigError(f"--algo {','.join(algos)!r}: choose dqn, ppo, or dqn,ppo")
    for name in ("sources", "algos", "seeds", "test_years", "strategies"):
        if isinstance(fields.get(name), list):
            fields[name] = tuple(fields[name])
    if "sources" not in fields:
        raise ConfigError("--data: name at least one source (or `data` in the --spec file)")
    fields["sources"] = tuple(canonical_source(source) for source in fields["sources"])
    cap = fields.get("max_cost_usd")
    if cap is not None and fields.get("llm_mode", "offline") == "offline":
        raise ConfigError(
            f"--max-cost {cap:g}: only with --llm gateway; the offline analyst costs nothing"
        )
    for name in ("start", "end"):
        if isinstance(fields.get(name), int):
            fields[name] = str(fields[name])  # `start = 2005` in TOML
    try:
        return EvaluationSpec(**fields)
    except ConfigError as exc:
        raise ConfigError(_named_as_options(str(exc))) from None


_PARSED_OPTIONS = {"data", "algo", "seeds", "windows"}
"""Option names that `build_spec` parses from text into a field of another name."""
_FIELD_OF_OPTION = {"llm": "llm_mode", "max_cost": "max_cost_usd"}
"""Option names whose field has another name and needs no parsing."""

_OPTION_OF_FIELD = {
    "sources": "--data",
    "algos": "--algo",
    "test_years": "--windows",
    "llm_mode": "--llm",
    "max_cost_usd": "--max-cost",
    "strategies": "`strategies` (in the --spec file)",
    "training": "`training` (in the --spec file)",
}


def _named_as_options(message: str) -> str:
    """`EvaluationSpec.test_years must ...` as `--windows must ...`: what the user typed (on the
    command line, or as the same name in a --spec file), not the field that checked it."""
    return re.sub(
        r"\bEvaluationSpec\.(\w+)",
        lambda match: _OPTION_OF_FIELD.get(match[1], "--" + match[1].replace("_", "-")),
        message,
    )
