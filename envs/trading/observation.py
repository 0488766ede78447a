"""The agent's observation at bar t: the only code that builds it, for the env and the live trader.

(The batched env's compiled step writes the same layout with
`envs.trading.kernels.write_observations`, from this module's padded feature array;
`ObservationBuilder.observe_batch` calls that too.)

Layout (float32, one flat vector, as SB3's MLP policies expect):
`[features of bars t-window+1 .. t, oldest first, row by row] + [position_fraction, drawdown]`.
Both portfolio values are known at close t: `position_fraction` is position value / equity and
`drawdown` is equity / peak equity - 1 (in [-1, 0]). Nothing after bar t is read.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.errors import EnvSetupError
from envs.trading.kernels import write_observations

PORTFOLIO_STATE_NAMES = ("position_fraction", "drawdown")


class ObservationBuilder:
    """Builds observations from a precomputed, clipped float32 copy of the feature matrix.

    The orchestrator builds one from the same `MarketArrays.features`, window and clip as the env
    and calls `observe(bar, position_fraction, drawdown)` with its own portfolio state, so a live
    decision sees exactly what the agent saw in training.
    """

    def __init__(self, features: np.ndarray, window_size: int, clip: float) -> None:
        if features.ndim != 2 or not np.isfinite(features).all():
            bad = np.argwhere(~np.isfinite(np.atleast_2d(features)))[:1].tolist()
            raise EnvSetupError(
                "features must be a finite 2-D array (bars, features);"
                f" first bad [bar, column]: {bad}"
            )
        self.window_size = window_size
        self.n_bars, self.n_features = features.shape
        self.clip = float(clip)
        self.state_index = window_size * self.n_features  # where the portfolio state starts
        self.size = self.state_index + len(PORTFOLIO_STATE_NAMES)
        self.space = spaces.Box(-self.clip, self.clip, shape=(self.size,), dtype=np.float32)
        # The features flat, row by row, padded with window_size - 1 rows of zeros in front (and
        # room for the portfolio state behind), so that bar t's window starts at t * n_features:
        # the layout the compiled `write_observations` reads.
        flat = np.clip(features, -clip, clip).astype(np.float32).ravel()
        lead = np.zeros((window_size - 1) * self.n_features, np.float32)
        tail = np.zeros(len(PORTFOLIO_STATE_NAMES), np.float32)
        self.padded_features = np.concatenate([lead, flat, tail])
        self._features = flat.reshape(self.n_bars, self.n_features)

    def observe(self, bar: int, position_fraction: float, drawdown: float) -> np.ndarray:
        """A fresh observation at `bar` (>= window_size - 1) for the given portfolio state.

        A position fraction beyond the clip (a short near ruin) is clipped to it."""
        if not self.window_size - 1 <= bar < self.n_bars:
            raise EnvSetupError(
                f"bar {bar} has no full feature window: valid bars are"
                f" {self.window_size - 1}..{self.n_bars - 1}"
            )
        observation = np.empty(self.size, np.float32)
        window = self._features[bar - self.window_size + 1 : bar + 1]
        observation[: self.state_index] = window.ravel()
        observation[self.state_index] = min(max(position_fraction, -self.clip), self.clip)
        observation[self.state_index + 1] = drawdown
        return observation

    def observe_batch(
        self, bars: np.ndarray, position_fractions: np.ndarray, drawdowns: np.ndarray
    ) -> np.ndarray:
        """Observations of shape (len(bars), size), one per portfolio; same values as `observe`.

        Bars are not checked here: the batched env only asks for bars of its episodes."""
        out = np.empty((len(bars), self.size), np.float32)
        write_observations(
            self.padded_features,
            self.n_features,
            np.asarray(bars, dtype=np.int64),
            np.asarray(position_fractions, dtype=np.float64),
            np.asarray(drawdowns, dtype=np.float64),
            self.clip,
            out,
        )
        return out
