"""Loading an agent directory: every broken or mismatched input is one clear AgentError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents import AgentError, DRLAgent, train_agents
from agents.storage import AgentPaths
from envs import FEATURE_NAMES
from tests.agents_helpers import tiny_config


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loading") / "agent"
    train_agents(tiny_config(out, "dqn", timesteps=128), progress_bar=False)
    return out


@pytest.fixture
def agent_copy(trained_dir: Path, tmp_path: Path) -> AgentPaths:
    """A private copy of the trained directory that a test may break."""
    return AgentPaths(Path(shutil.copytree(trained_dir, tmp_path / "copy")))


def _edit_manifest(paths: AgentPaths, **changes: object) -> None:
    data = json.loads(paths.manifest.read_text())
    data.update(changes)
    paths.manifest.write_text(json.dumps(data))


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="agent directory not found"):
        DRLAgent.load(tmp_path / "nowhere")


def test_a_missing_manifest(agent_copy: AgentPaths) -> None:
    agent_copy.manifest.unlink()
    with pytest.raises(AgentError, match=r"manifest.json: manifest not found"):
        DRLAgent.load(agent_copy.root)


def test_a_manifest_that_is_not_json(agent_copy: AgentPaths) -> None:
    agent_copy.manifest.write_text("{not json")
    with pytest.raises(AgentError, match="cannot read the manifest"):
        DRLAgent.load(agent_copy.root)


def test_a_manifest_without_a_field(agent_copy: AgentPaths) -> None:
    data = json.loads(agent_copy.manifest.read_text())
    del data["calibration"], data["seeds"]
    agent_copy.manifest.write_text(json.dumps(data))
    with pytest.raises(AgentError, match="seeds is missing; calibration is missing"):
        DRLAgent.load(agent_copy.root)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"algorithm": "a2c"}, "algorithm must be 'dqn' or 'ppo', got 'a2c'"),
        ({"format_version": 99}, "format_version must be 3, got 99"),
        ({"observation_shape": [7]}, r"model.zip expects observations of shape \(77,\)"),
        (
            {"seeds": [0, 1], "model_files": ["model.zip"]},
            "must list one model file per seed, got 2 seeds and 1 model files",
        ),
        ({"model_files": ["../elsewhere.zip"]}, "model_files must be .zip paths inside"),
        ({"n_actions": 5}, "manifest has 5 actions but its env config maps 3"),
        ({"env_config": {"window_size": 0}}, "env_config is malformed"),
        ({"splits": 3}, "splits is malformed"),
    ],
)
def test_a_manifest_with_a_bad_value(
    agent_copy: AgentPaths, changes: dict[str, object], message: str
) -> None:
    _edit_manifest(agent_copy, **changes)
    with pytest.raises(AgentError, match=message):
        DRLAgent.load(agent_copy.root)


def test_an_agent_written_before_calibration_maps_is_refused_with_the_reason(
    agent_copy: AgentPaths,
) -> None:
    """Format 1 stored one softmax temperature; it is not converted, because the confidence it
    gives is the 1 / n_actions floor this format replaced."""
    old_calibration = {
        "temperature": 4650.0,
        "ece": 0.01,
        "ece_uncalibrated": 0.04,
        "hit_rate": 0.3,
        "n_decisions": 504,
        "reliability": [],
    }
    _edit_manifest(agent_copy, format_version=1, calibration=old_calibration)
    with pytest.raises(
        AgentError,
        match=r"manifest.json: manifest format 1 is no longer supported: its confidence"
        r" calibration is a single softmax temperature.*retrain the agent",
    ):
        DRLAgent.load(agent_copy.root)


@pytest.mark.parametrize(
    ("calibration_map", "message"),
    [
        ({"slope": 1.0, "intercepts": [0.0, 0.0]}, "confidence calibration has 2 intercepts"),
        (
            {"slope": -0.5, "intercepts": [0.0, 0.0, 0.0]},
            "map.slope must be finite and non-negative",
        ),
        ({"slope": 1.0}, "calibration.map.intercepts is missing"),
    ],
)
def test_a_bad_calibration_map_is_refused(
    agent_copy: AgentPaths, calibration_map: dict[str, object], message: str
) -> None:
    calibration = json.loads(agent_copy.manifest.read_text())["calibration"]
    _edit_manifest(agent_copy, calibration=calibration | {"map": calibration_map})
    with pytest.raises(AgentError, match=message):
        DRLAgent.load(agent_copy.root)


def test_a_missing_model_file(agent_copy: AgentPaths) -> None:
    agent_copy.model.unlink()
    with pytest.raises(AgentError, match=r"model.zip: model file not found"):
        DRLAgent.load(agent_copy.root)


def test_an_ensemble_whose_listed_model_is_missing(agent_copy: AgentPaths) -> None:
    _edit_manifest(agent_copy, seeds=[0, 1], model_files=["model.zip", "models/seed_1.zip"])
    with pytest.raises(AgentError, match=r"models/seed_1.zip: model file not found"):
        DRLAgent.load(agent_copy.root)


def test_models_that_do_not_match_the_manifest_count(agent_copy: AgentPaths) -> None:
    agent = DRLAgent.load(agent_copy.root)
    with pytest.raises(AgentError, match=r"the manifest lists 1 model\(s\) \(model.zip\), 2 were"):
        DRLAgent([*agent.models, *agent.models], agent.manifest, source="here")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupted_model_file(agent_copy: AgentPaths, damage: str) -> None:
    if damage == "garbage":
        agent_copy.model.write_bytes(b"this is not a zip file" * 10)
    else:
        data = agent_copy.model.read_bytes()
        agent_copy.model.write_bytes(data[: len(data) // 2])
    with pytest.raises(AgentError, match=r"model.zip: cannot load the DQN model"):
        DRLAgent.load(agent_copy.root)


def test_matching_features_are_accepted(trained_dir: Path) -> None:
    agent = DRLAgent.load(trained_dir)
    agent.check_compatible(FEATURE_NAMES, agent.observation_shape)
    agent.check_compatible(list(FEATURE_NAMES))


def test_a_feature_mismatch_names_the_difference(trained_dir: Path) -> None:
    agent = DRLAgent.load(trained_dir)
    given = [name for name in FEATURE_NAMES if name != "rsi_14"] + ["sentiment"]
    with pytest.raises(AgentError, match="missing rsi_14; unexpected sentiment"):
        agent.check_compatible(given)


def test_features_in_another_order_are_refused(trained_dir: Path) -> None:
    agent = DRLAgent.load(trained_dir)
    with pytest.raises(AgentError, match="same features in another order"):
        agent.check_compatible(tuple(reversed(FEATURE_NAMES)))


def test_an_observation_shape_mismatch_is_refused(trained_dir: Path) -> None:
    agent = DRLAgent.load(trained_dir)
    with pytest.raises(AgentError, match=r"expects observations of shape \(77,\), got \(75,\)"):
        agent.check_compatible(FEATURE_NAMES, (75,))
    with pytest.raises(AgentError, match=r"observation has shape \(3,\)"):
        agent.decide(np.zeros(3, dtype=np.float32))


def test_an_observation_that_is_not_finite_is_refused_naming_where(trained_dir: Path) -> None:
    agent = DRLAgent.load(trained_dir)
    observations = np.zeros((3, 77), dtype=np.float32)
    observations[2, 40] = np.nan
    with pytest.raises(AgentError, match="observation 2 holds nan at index 40"):
        agent.decide_many(observations)
    with pytest.raises(AgentError, match="observation 0 holds inf at index 0"):
        agent.decide(np.full(77, np.inf))
