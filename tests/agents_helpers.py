"""Small markets and training configs for the agents tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from agents import TrainConfig
from agents.config import DQNParams, PPOParams
from envs import MarketArrays


def hand_market(open_: list[float], close: list[float], n_features: int = 2) -> MarketArrays:
    """A market with the given opens and closes and zero features."""
    n_bars = len(close)
    open_arr = np.asarray(open_, dtype=np.float64)
    close_arr = np.asarray(close, dtype=np.float64)
    return MarketArrays(
        dates=np.arange("2020-01-01", n_bars, dtype="datetime64[D]").astype("datetime64[ns]"),
        open=open_arr,
        high=np.maximum(open_arr, close_arr) * 1.01,
        low=np.minimum(open_arr, close_arr) * 0.99,
        close=close_arr,
        volume=np.full(n_bars, 1e6),
        features=np.zeros((n_bars, n_features), dtype=np.float32),
        feature_names=tuple(f"f{i}" for i in range(n_features)),
    )


def random_market(seed: int, n_bars: int, n_features: int = 3) -> MarketArrays:
    """A random-walk market with random features."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n_bars))
    market = hand_market(list(open_), list(close), n_features)
    return replace(market, features=rng.normal(size=(n_bars, n_features)).astype(np.float32))


def tiny_config(out: Path, algo: str, **changes: object) -> TrainConfig:
    """A training run of a few hundred steps on synthetic data: seconds, not minutes."""
    settings: dict[str, object] = {
        "algo": algo,
        "data": "synthetic",
        "out": out,
        "timesteps": 512,
        "n_envs": 4,
        "episode_length": 64,
        "net_arch": (16,),
        "eval_freq": 256,
        "checkpoint_freq": 256,
        "calibration_bars": 120,  # short test markets (synthetic up to 2007) keep bars to train
        "dqn": DQNParams(
            learning_starts=64, buffer_size=2_000, batch_size=32, target_update_interval=64
        ),
        "ppo": PPOParams(n_steps=64, batch_size=64, n_epochs=2),
    }
    return TrainConfig.model_validate(settings | changes)
