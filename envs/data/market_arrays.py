"""The NumPy view of a market that the environment steps through.

Everything the environment reads inside `step()` lives here as a contiguous array, computed once,
so that no pandas object is touched on the hot path.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from pydantic import PositiveInt, model_validator

from envs.data.bar_size import EXCHANGE_DAYS_PER_YEAR
from envs.errors import EnvSetupError
from envs.validated import validated_dataclass


@validated_dataclass(EnvSetupError, eq=False, arbitrary_types=True)
class MarketArrays:
    """Aligned per-bar arrays: row i of every field describes the same bar.

    `features[i]` is computed from bars `<= i` only and is already normalised; prices are raw.
    `periods_per_year` is the source's bars in a year (`envs.data.bar_size`), with which every
    annualised figure of a run over these bars is computed.
    """

    dates: np.ndarray  # datetime64[ns], strictly increasing
    open: np.ndarray  # float64, price units
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # float64, shares or contracts
    features: np.ndarray  # float32, shape (n_bars, n_features)
    feature_names: tuple[str, ...]
    periods_per_year: PositiveInt = EXCHANGE_DAYS_PER_YEAR

    @model_validator(mode="after")
    def _aligned(self) -> Self:
        n_bars = len(self.dates)
        for name in ("open", "high", "low", "close", "volume"):
            shape = getattr(self, name).shape
            if shape != (n_bars,):
                raise ValueError(f"MarketArrays.{name} must have shape ({n_bars},), got {shape}")
        if self.features.shape != (n_bars, len(self.feature_names)):
            raise ValueError(
                f"MarketArrays.features must have shape ({n_bars}, {len(self.feature_names)}),"
                f" got {self.features.shape}"
            )
        return self

    @property
    def n_bars(self) -> int:
        return len(self.dates)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def slice(self, start: int, stop: int) -> MarketArrays:
        """Rows `[start, stop)`, sharing memory with this instance."""
        return MarketArrays(
            dates=self.dates[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            features=self.features[start:stop],
            feature_names=self.feature_names,
            periods_per_year=self.periods_per_year,
        )
