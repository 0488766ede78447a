"""The manifest of an agent directory: everything needed to trust, reload and reuse a model.

It records what the model expects (features, their normalisation, the observation shape, the
action map and costs of the env), where it came from (data source and hash, split dates, seed,
training options, library versions), how good it was on validation data, its switch margin, and
how calibrated its confidence was on the calibration hold-out.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, fields
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    ValidationError,
    model_validator,
)

from agents.confidence import ConfidenceCalibration
from agents.config import Algorithm
from agents.errors import AgentError, Loc, field_path, validation_message
from envs import CostModel, EnvConfig, EnvSetupError

MANIFEST_FORMAT_VERSION: Literal[3] = 3
_RETIRED_FORMATS = {  # formats that older versions wrote, and why they no longer load
    1: "its confidence calibration is a single softmax temperature, which cannot express a hit"
    " rate above 1 / n_actions; retrain the agent (python train.py ...) to fit the per-action"
    " calibration map of format 2",
    2: "its confidence is calibrated to the old one-bar 'best action' outcome and its env had no"
    " rebalance band; retrain the agent (python train.py ...) for format 3",
}
_VERSIONED_LIBRARIES = ("torch", "stable-baselines3", "gymnasium", "numpy")


def _relative_files(files: tuple[str, ...]) -> tuple[str, ...]:
    for name in files:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not name.endswith(".zip"):
            raise ValueError(f"must be .zip paths inside the agent directory, got {name!r}")
    if len(set(files)) != len(files):
        raise ValueError("must name each model file once")
    return files


class MarginTrial(BaseModel):
    """One switch margin tried on the validation split (`agents.training.selection`): the margin
    as a multiple of the typical score gap and in score units, and what it did there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    multiple: NonNegativeFloat
    margin: NonNegativeFloat
    validation_sharpe: float | None
    validation_trades_per_year: NonNegativeFloat


class AgentManifest(BaseModel):
    """What `manifest.json` holds. `splits` maps a split name to its [first, last] bar date.

    `seeds` are the training seeds of the agent's models and `model_files` their files, relative
    to the agent directory, in the same order: one of each for a single agent, K for a seed
    ensemble (`agents.storage`). `switch_margin` (score units: Q-value for DQN, log-probability
    for PPO) is added to the held action's score before the argmax (`agents.policy_scores`);
    `switch_margin_search` records the margins tried on validation and what each did.
    `training_sources` are the sources pooled in training; `data_source` and `data_hash` are the
    first's, whose splits validated, calibrated and tested the agent. `normalizer` is the feature
    normalisation fitted on that source's train split, or None for a pooled agent: each of its
    sources was normalised on its own train split, and so is any source it runs on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Algorithm
    feature_names: tuple[str, ...]
    observation_shape: tuple[int, ...]
    n_actions: int
    normalizer: dict[str, Any] | None
    training_sources: Annotated[tuple[str, ...], Field(min_length=1)]
    env_config: dict[str, Any]
    data_source: str
    data_hash: str
    splits: dict[str, tuple[str, str]]
    seeds: Annotated[tuple[NonNegativeInt, ...], Field(min_length=1)]
    model_files: Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_relative_files)]
    switch_margin: NonNegativeFloat
    switch_margin_search: tuple[MarginTrial, ...]
    train_config: dict[str, Any]
    library_versions: dict[str, str]
    validation_metrics: dict[str, float | int | None]  # counts (n_trades) stay integers
    calibration: ConfidenceCalibration
    format_version: Literal[3]  # MANIFEST_FORMAT_VERSION

    @model_validator(mode="after")
    def _one_file_per_seed(self) -> Self:
        if len(self.model_files) != len(self.seeds):
            raise ValueError(
                f"must list one model file per seed, got {len(self.seeds)} seeds and"
                f" {len(self.model_files)} model files"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `manifest.json`."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: object, where: str) -> AgentManifest:
        """Read back `to_dict`; every problem is an AgentError naming `where` (the file)."""
        version = data.get("format_version") if isinstance(data, dict) else None
        if isinstance(version, int) and version in _RETIRED_FORMATS:
            raise AgentError(
                f"{where}: manifest format {version} is no longer supported:"
                f" {_RETIRED_FORMATS[version]}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise AgentError(f"{where}: {validation_message(exc, cls, _manifest_path)}") from None


def _manifest_path(loc: Loc, _field: object) -> str:
    return field_path(loc) or "the manifest"


def env_config_to_dict(config: EnvConfig) -> dict[str, Any]:
    """EnvConfig as JSON values, with the active action -> target-position map spelled out."""
    data = {key: _jsonable(value) for key, value in asdict(config).items()}
    data["target_positions"] = list(config.target_positions)
    return data


def env_config_from_dict(data: dict[str, Any], where: str) -> EnvConfig:
    """Rebuild the EnvConfig a manifest recorded; `where` is named in every error.

    Only constructor fields are passed on: derived values written for readers (the active
    `target_positions`, the cost rates) are recomputed by the constructors.
    """
    try:
        settings = _constructor_arguments(EnvConfig, data)
        return EnvConfig(
            **{
                **settings,
                "cost_model": CostModel(**_constructor_arguments(CostModel, data["cost_model"])),
                "long_only_positions": tuple(settings["long_only_positions"]),
                "long_short_positions": tuple(settings["long_short_positions"]),
            }
        )
    except (KeyError, TypeError, ValueError, EnvSetupError) as exc:
        raise AgentError(f"{where}: env_config is malformed: {exc}") from None


def _constructor_arguments(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    return {f.name: data[f.name] for f in fields(cls) if f.init and f.name in data}


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a saved model depends on."""
    return {name: importlib.metadata.version(name) for name in _VERSIONED_LIBRARIES}


def _jsonable(value: Any) -> Any:
    """JSON-ready values: tuples become lists, anything else not JSON (a path) a string."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
