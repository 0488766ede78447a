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
from numpy.lib.stride_tricks import sliding_window_view

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
        # Features row by row, padded so that row t of `_rows` (a strided view, no copy) starts
        # at bar t - window_size + 1 and is a whole observation of bar t once its last entries
        # are set. Rows before window_size - 1 are padding, never handed out.
        flat = np.clip(features, -clip, clip).astype(np.float32).ravel()
        lead = np.zeros((window_size - 1) * self.n_features, np.float32)
        tail = np.zeros(len(PORTFOLIO_STATE_NAMES), np.float32)
        # Flat and padded: bar t's window starts at t * n_features (what the kernels read).
        self.padded_features = np.concatenate([lead, flat, tail])
        self._rows = sliding_window_view(self.padded_features, self.size)[:: self.n_features]

    def observe(self, bar: int, position_fraction: float, drawdown: float) -> np.ndarray:
        """A fresh observation at `bar` (>= window_size - 1) for the given portfolio state."""
        if not self.window_size - 1 <= bar < self.n_bars:
            raise EnvSetupError(
                f"bar {bar} has no full feature window: valid bars are"
                f" {self.window_size - 1}..{self.n_bars - 1}"
            )
        stream = ObservationStream(self, block_size=1)
        stream.start(bar, bar)
        return stream.observe(bar, position_fraction, drawdown)

    def window_block(self, first_bar: int, stop_bar: int) -> np.ndarray:
        """A fresh (stop_bar - first_bar, size) array: row i is the observation of bar first_bar+i
        with its portfolio entries zero until `ObservationStream.observe` sets them."""
        block = self._rows[first_bar:stop_bar].copy()
        block[:, self.state_index :] = 0.0  # the padding there holds the next bar's features
        return block

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


class ObservationStream:
    """Observations of one episode's consecutive bars, copied a block of bars at a time.

    Copying a window costs far more in NumPy call overhead than in bytes, so the env copies
    `block_size` windows at once and hands out one row per step. Every observation is its own
    row of a freshly allocated block: no two observations share memory. The rows are split off
    the block once, and the two portfolio entries are written through a flat memoryview of it:
    both cost a fraction of NumPy indexing per step (with the same float64 -> float32 rounding).
    """

    def __init__(self, builder: ObservationBuilder, block_size: int = 256) -> None:
        self._window_block = builder.window_block
        self._clip = builder.clip
        self._size = builder.size
        self._state_index = builder.state_index
        self._block_size = block_size
        self._last = builder.window_size - 1
        self._start_block(self._last)

    def start(self, first_bar: int, last_bar: int) -> None:
        """Begin an episode over bars `first_bar..last_bar`."""
        self._last = last_bar
        self._start_block(first_bar)

    def observe(self, bar: int, position_fraction: float, drawdown: float) -> np.ndarray:
        """The observation at `bar`; bars must be those of the started episode, in order."""
        row = bar - self._first
        if row >= self._n_rows:
            self._start_block(bar)
            row = 0
        clip = self._clip
        if not -clip <= position_fraction <= clip:  # only a short near ruin gets here
            position_fraction = min(max(position_fraction, -clip), clip)
        index = row * self._size + self._state_index
        values = self._values
        values[index] = position_fraction
        values[index + 1] = drawdown
        return self._rows[row]

    def _start_block(self, first_bar: int) -> None:
        stop_bar = min(first_bar + self._block_size, self._last + 1)
        self._first, self._n_rows = first_bar, stop_bar - first_bar
        self._split(self._window_block(first_bar, stop_bar))

    def _split(self, block: np.ndarray) -> None:
        self._block = block
        self._rows = list(block)  # one view per row, made in one pass
        self._values = memoryview(block.reshape(-1))  # flat float32, writes into the block

    def __getstate__(self) -> dict[str, object]:
        """Pickle the block only: views and the memoryview are rebuilt from it."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_rows", "_values")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._split(self._block)
