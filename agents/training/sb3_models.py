"""Build the SB3 model of a `TrainConfig`: the one place that maps our options to SB3's.

`DQNParams` and `PPOParams` fields are named as SB3's keyword arguments, so they pass as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from agents.config import TrainConfig


class _CommonArguments(TypedDict):
    """What DQN and PPO are given alike."""

    policy: str
    env: VecEnv
    gamma: float
    policy_kwargs: dict[str, Any]
    tensorboard_log: str | None
    seed: int
    device: str
    verbose: int


def build_model(
    config: TrainConfig, env: VecEnv, seed: int, tensorboard_log: Path | None
) -> BaseAlgorithm:
    """A fresh DQN or PPO on `env` with an MLP of `config.net_arch`, on the CPU, seeded."""
    common = _CommonArguments(
        policy="MlpPolicy",
        env=env,
        gamma=config.gamma,
        policy_kwargs={"net_arch": list(config.net_arch)},
        tensorboard_log=None if tensorboard_log is None else str(tensorboard_log),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    if config.algo == "dqn":
        return DQN(**config.dqn.model_dump(), **common)
    return PPO(**config.ppo.model_dump(), **common)
