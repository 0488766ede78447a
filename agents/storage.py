"""The agent directory on disk: where each file lives, and reading it back with clear errors.

    DIR/model.zip          the SB3 model (the best on validation)
    DIR/manifest.json      `AgentManifest`: features, normalisation, env, data, seeds, the model
                           files, calibration
    DIR/evaluation.json    out-of-sample test evaluation beside buy-and-hold
    DIR/best/              EvalCallback's best model during training
    DIR/checkpoints/       periodic checkpoints
    DIR/eval/              EvalCallback's evaluations.npz
    DIR/tensorboard/       TensorBoard logs

Training several seeds writes one such directory per seed, `DIR/seed_<n>/`, and makes `DIR`
itself the seed ensemble of their models: `DIR/models/seed_<n>.zip` in place of `DIR/model.zip`,
its manifest listing them, its own calibration and `evaluation.json`; `DIR/seeds_summary.json`
holds the members' mean and std of their metrics beside the ensemble's.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.errors import AgentError
from agents.manifest import AgentManifest

MODEL_FILE = "model.zip"
MANIFEST_FILE = "manifest.json"
EVALUATION_FILE = "evaluation.json"
SEEDS_SUMMARY_FILE = "seeds_summary.json"
SEED_DIR_PREFIX = "seed_"
_ALGORITHM_CLASSES: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO}


@dataclass(frozen=True)
class AgentPaths:
    """Every path inside one agent directory."""

    root: Path

    @property
    def model(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def evaluation(self) -> Path:
        return self.root / EVALUATION_FILE

    @property
    def best_model_dir(self) -> Path:
        return self.root / "best"

    @property
    def best_model(self) -> Path:
        return self.best_model_dir / "best_model.zip"  # the name EvalCallback writes

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def eval_log(self) -> Path:
        return self.root / "eval"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def models(self) -> Path:
        return self.root / "models"  # an ensemble's members (`model_files`)

    def written(self) -> list[Path]:
        """What training may have written here (an ensemble's seed folders included), present
        now: the files an overwrite replaces, so no earlier agent's file is left beside the new
        one. Nothing else in the folder is touched."""
        names = [self.model, self.manifest, self.evaluation, self.root / SEEDS_SUMMARY_FILE]
        names += [self.best_model_dir, self.checkpoints, self.eval_log, self.tensorboard]
        names += [self.models, *self.root.glob(f"{SEED_DIR_PREFIX}*")]
        return [path for path in names if path.exists()]


def check_output_directory(path: Path, option: str, *, force: bool) -> None:
    """Refuse, before any work, an output folder that is a file, or that already holds files and
    `force` was not given: earlier results are never overwritten silently. `option` names the
    flag the user typed (`--out`)."""
    if path.exists() and not path.is_dir():
        raise AgentError(f"{option} {path}: a file, not a folder; give a folder to write into")
    if not force and path.is_dir() and any(path.iterdir()):
        raise AgentError(
            f"{option} {path}: the folder already holds files; give a new folder, or pass"
            " --force to overwrite them"
        )


def seed_dir(root: Path, seed: int) -> Path:
    return root / f"{SEED_DIR_PREFIX}{seed}"


def model_files(seeds: tuple[int, ...]) -> tuple[str, ...]:
    """The manifest's `model_files`: `model.zip` for one seed, `models/seed_<n>.zip` for each
    member of an ensemble."""
    if len(seeds) == 1:
        return (MODEL_FILE,)
    return tuple(f"models/{SEED_DIR_PREFIX}{seed}.zip" for seed in seeds)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write strict JSON atomically (a crash never leaves half a file behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, allow_nan=False)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text + "\n")
    os.replace(tmp.name, path)


def write_manifest(root: Path, manifest: AgentManifest) -> None:
    """Write the manifest of agent directory `root`, which `read_manifest` reads back."""
    write_json(AgentPaths(root).manifest, manifest.to_dict())


def read_manifest(root: Path) -> AgentManifest:
    """The manifest of agent directory `root`, checked; every problem is an AgentError."""
    paths = AgentPaths(root)
    if not root.is_dir():
        raise AgentError(f"{root}: agent directory not found")
    if not paths.manifest.is_file():
        seeds = sorted(p.name for p in root.glob(f"{SEED_DIR_PREFIX}*") if p.is_dir())
        hint = f"; it holds several seeds, pick one of {', '.join(seeds)}" if seeds else ""
        raise AgentError(f"{paths.manifest}: manifest not found{hint}")
    try:
        data = json.loads(paths.manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AgentError(f"{paths.manifest}: cannot read the manifest: {exc}") from None
    return AgentManifest.from_dict(data, where=str(paths.manifest))


def load_model(path: Path, algorithm: str) -> BaseAlgorithm:
    """Load an SB3 model for inference on the CPU; a missing or corrupted file is an AgentError."""
    if not path.is_file():
        raise AgentError(f"{path}: model file not found")
    try:
        return _ALGORITHM_CLASSES[algorithm].load(path, device="cpu")
    except Exception as exc:  # any failure to unpickle/unzip means the same thing to the user
        raise AgentError(
            f"{path}: cannot load the {algorithm.upper()} model ({type(exc).__name__}: {exc})"
        ) from None
