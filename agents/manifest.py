"""The manifest of an agent directory: everything needed to trust, reload and reuse a model.

It records what the model expects (features, their normalisation, the observation shape, the
action map and costs of the env), where it came from (data source and hash, split dates, seed,
training options, library versions) and how good and how calibrated it was on validation data.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

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


class AgentManifest(BaseModel):
    """What `manifest.json` holds. `splits` maps a split name to its [first, last] bar date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Algorithm
    feature_names: tuple[str, ...]
    observation_shape: tuple[int, ...]
    n_actions: int
    normalizer: dict[str, Any]
    env_config: dict[str, Any]
    data_source: str
    data_hash: str
    splits: dict[str, tuple[str, str]]
    seed: int
    train_config: dict[str, Any]
    library_versions: dict[str, str]
    validation_metrics: dict[str, float | int | None]  # counts (n_trades) stay integers
    calibration: ConfidenceCalibration
    format_version: Literal[3]  # MANIFEST_FORMAT_VERSION

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
