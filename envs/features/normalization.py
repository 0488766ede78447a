"""Feature scaling fitted on the training split only, and saved with the agent.

A robust z-score: (x - median) / (IQR / 1.349), clipped to +-`clip`. The median and the
interquartile range ignore the crash days that would dominate a mean and a standard deviation;
1.349 makes the scale equal the standard deviation for normal data; the clip keeps one extreme bar
from saturating the network. Fitting on train only keeps validation and test statistics out of
everything the agent learns from.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from envs.errors import MarketDataError
from envs.validated import validated_dataclass

DEFAULT_CLIP = 5.0
_IQR_TO_STD = 1.349  # interquartile range of the standard normal distribution
_KIND = "robust_zscore"
_SOURCE = "feature normalizer"


def _bad_normalizer(message: str) -> MarketDataError:
    return MarketDataError(message, source=_SOURCE, rule="bad normalizer")


@validated_dataclass(_bad_normalizer, eq=False, arbitrary_types=True)
class FeatureNormalizer:
    """Per-feature center and scale; `transform` maps raw features to clipped float32 z-scores."""

    feature_names: tuple[str, ...]
    center: np.ndarray  # float64, one per feature
    scale: np.ndarray  # float64, one per feature, > 0
    clip: Annotated[float, Field(gt=0.0, description="a number > 0")] = DEFAULT_CLIP

    @model_validator(mode="after")
    def _one_finite_value_per_feature(self) -> Self:
        n_features = len(self.feature_names)
        if self.center.shape != (n_features,) or self.scale.shape != (n_features,):
            raise ValueError(
                f"center and scale need {n_features} values each,"
                f" got {self.center.shape} and {self.scale.shape}"
            )
        if not (np.isfinite(self.center).all() and np.isfinite(self.scale).all()):
            raise ValueError("center and scale must be finite")
        if not (self.scale > 0).all():
            raise ValueError("scale must be positive")
        return self

    @classmethod
    def fit(cls, train_features: pd.DataFrame, clip: float = DEFAULT_CLIP) -> FeatureNormalizer:
        """Fit on the training rows only (warm-up rows already dropped: every value finite)."""
        values = train_features.to_numpy(dtype=np.float64)
        if len(values) < 2:
            raise MarketDataError(
                f"{len(values)} training rows after the feature warm-up, need at least 2",
                source=_SOURCE,
                rule="train split too short",
            )
        if not np.isfinite(values).all():
            raise MarketDataError(
                "training features contain NaN or infinite values",
                source=_SOURCE,
                rule="non-finite feature",
            )
        q25, center, q75 = np.percentile(values, [25.0, 50.0, 75.0], axis=0)
        scale = (q75 - q25) / _IQR_TO_STD
        std = values.std(axis=0)
        scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))  # constant features
        names = tuple(str(name) for name in train_features.columns)
        return cls(feature_names=names, center=center, scale=scale, clip=float(clip))

    def transform(self, features: np.ndarray) -> np.ndarray:
        """C-ordered float32 z-scores of `features` (n_rows, n_features), clipped to +-clip."""
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise MarketDataError(
                f"expected (n, {len(self.feature_names)}) features, got {features.shape}",
                source=_SOURCE,
                rule="feature mismatch",
            )
        scaled = (features - self.center) / self.scale
        return np.ascontiguousarray(np.clip(scaled, -self.clip, self.clip), dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values; `from_dict(to_dict())` restores every bit."""
        return {
            "kind": _KIND,
            "feature_names": list(self.feature_names),
            "center": [float(value) for value in self.center],
            "scale": [float(value) for value in self.scale],
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureNormalizer:
        """Rebuild from `to_dict` output (e.g. an agent manifest); refuses anything else."""
        if data.get("kind") != _KIND:
            raise MarketDataError(
                f"kind {data.get('kind')!r}, expected {_KIND!r}",
                source=_SOURCE,
                rule="bad normalizer",
            )
        try:
            names = tuple(str(name) for name in data["feature_names"])
            center = np.asarray(data["center"], dtype=np.float64)
            scale = np.asarray(data["scale"], dtype=np.float64)
            clip = float(data["clip"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MarketDataError(
                f"{type(exc).__name__}: {exc}", source=_SOURCE, rule="bad normalizer"
            ) from None
        return cls(feature_names=names, center=center, scale=scale, clip=clip)
