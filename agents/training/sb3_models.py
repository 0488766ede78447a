"""Build the SB3 model of a `TrainConfig`: the one place that maps our options to SB3's."""

from __future__ import annotations

from pathlib import Path

from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from agents.config import TrainConfig


def build_model(
    config: TrainConfig, env: VecEnv, seed: int, tensorboard_log: Path | None
) -> BaseAlgorithm:
    """A fresh DQN or PPO on `env` with an MLP of `config.net_arch`, on the CPU, seeded."""
    common = {
        "policy": "MlpPolicy",
        "env": env,
        "gamma": config.gamma,
        "policy_kwargs": {"net_arch": list(config.net_arch)},
        "tensorboard_log": None if tensorboard_log is None else str(tensorboard_log),
        "seed": seed,
        "device": "cpu",
        "verbose": 0,
    }
    if config.algo == "dqn":
        p = config.dqn
        return DQN(
            learning_rate=p.learning_rate,
            buffer_size=p.buffer_size,
            learning_starts=p.learning_starts,
            batch_size=p.batch_size,
            train_freq=p.train_freq,
            gradient_steps=p.gradient_steps,
            target_update_interval=p.target_update_interval,
            exploration_fraction=p.exploration_fraction,
            exploration_initial_eps=p.exploration_initial_eps,
            exploration_final_eps=p.exploration_final_eps,
            **common,
        )
    p = config.ppo
    return PPO(
        learning_rate=p.learning_rate,
        n_steps=p.n_steps,
        batch_size=p.batch_size,
        n_epochs=p.n_epochs,
        gae_lambda=p.gae_lambda,
        clip_range=p.clip_range,
        ent_coef=p.ent_coef,
        **common,
    )
