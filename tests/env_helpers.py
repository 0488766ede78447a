"""Markets built directly as MarketArrays for the environment tests: hand-made or seeded walks."""

from __future__ import annotations

import numpy as np

from envs import MarketArrays


def make_market(
    open_: list[float] | np.ndarray,
    close: list[float] | np.ndarray,
    features: np.ndarray | None = None,
) -> MarketArrays:
    """A market with the given prices (high/low bracket them) and features (default: bar index)."""
    open_ = np.asarray(open_, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    n_bars = len(close)
    if features is None:
        features = np.arange(n_bars, dtype=np.float32).reshape(-1, 1) / n_bars
    return MarketArrays(
        dates=np.datetime64("2020-01-01", "ns") + np.arange(n_bars) * np.timedelta64(1, "D"),
        open=open_,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        close=close,
        volume=np.full(n_bars, 1000.0),
        features=np.asarray(features, dtype=np.float32),
        feature_names=tuple(f"f{i}" for i in range(features.shape[1])),
    )


def random_walk_market(n_bars: int = 400, n_features: int = 3, seed: int = 0) -> MarketArrays:
    """A seeded geometric random walk (1% daily moves, gaps at the open) with random features."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, n_bars))
    features = rng.normal(size=(n_bars, n_features)).astype(np.float32)
    return make_market(open_, close, features)
