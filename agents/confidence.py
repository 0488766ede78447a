"""Calibrated confidence: a temperature-scaled softmax whose output means a hit rate.

Raw Q-values (DQN) or action log-probabilities (PPO) are scores, not probabilities one can trust.
Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks") divides the
scores by one scalar T before the softmax; T is fitted on the validation split by minimising the
binary negative log-likelihood of "the chosen action was right", so that among decisions made with
confidence c, about a fraction c turn out right. One parameter cannot overfit a few hundred
validation bars and never changes which action is chosen. For PPO, softmax(log p / T) is p itself
at T = 1, so the same code sharpens or flattens the policy's own probabilities.

The calibration error (ECE) and the reliability table are the standard equal-width-bin ones. They
are a few lines of NumPy: no maintained library installed here provides them for plain arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from agents.errors import AgentError

DEFAULT_N_BINS = 10
_LOG_T_HALF_WIDTH = 12.0  # search T within e^-12 .. e^12 times the scale of the score gaps
_GRID_POINTS = 97
_PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class ReliabilityBin:
    """Decisions whose confidence fell in `[lower, upper)`: how sure they were and how often right.

    `mean_confidence` and `hit_rate` are None for an empty bin.
    """

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    hit_rate: float | None


@dataclass(frozen=True)
class ConfidenceCalibration:
    """A fitted temperature and the evidence that it works, as measured on the validation split.

    `ece` and `reliability` describe the calibrated confidences; `ece_uncalibrated` is the same
    error at T = 1, so the gain of calibrating is on record. `hit_rate` is the fraction of the
    `n_decisions` decisions that were right.
    """

    temperature: float
    ece: float
    ece_uncalibrated: float
    hit_rate: float
    n_decisions: int
    reliability: tuple[ReliabilityBin, ...]

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probability of every action, along the last axis of `scores`."""
        return softmax_with_temperature(scores, self.temperature)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reliability"] = [asdict(b) for b in self.reliability]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceCalibration:
        try:
            reliability = tuple(ReliabilityBin(**b) for b in data["reliability"])
            calibration = cls(**{**data, "reliability": reliability})
        except (KeyError, TypeError) as exc:
            raise AgentError(f"confidence calibration record is malformed: {exc}") from None
        if not (np.isfinite(calibration.temperature) and calibration.temperature > 0.0):
            raise AgentError(
                f"confidence calibration temperature must be positive, got"
                f" {calibration.temperature}"
            )
        return calibration


def softmax_with_temperature(scores: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(scores / temperature) along the last axis, computed stably in float64."""
    return np.exp(log_softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=-1))


def chosen_confidence(scores: np.ndarray, chosen: np.ndarray, temperature: float) -> np.ndarray:
    """Probability that softmax(scores / T) gives to the chosen action of each row."""
    probabilities = softmax_with_temperature(scores, temperature)
    return np.take_along_axis(probabilities, np.asarray(chosen)[:, None], axis=1)[:, 0]


def fit_temperature(scores: np.ndarray, chosen: np.ndarray, correct: np.ndarray) -> float:
    """Temperature minimising the binary NLL of `correct` under the chosen action's confidence.

    A coarse grid over log T finds the right basin (the loss need not be convex in T), then a
    bounded scalar search refines it. The grid is centred on the typical gap between scores, so
    tiny Q-values (daily log returns) and log-probabilities are both handled.
    """
    scores, chosen, correct = _checked(scores, chosen, correct)
    scale = float(np.median(np.ptp(scores, axis=1)))
    if scale == 0.0:
        return 1.0  # every row is a tie: confidence is 1/k whatever T is

    def loss(log_t: float) -> float:
        confidence = chosen_confidence(scores, chosen, float(np.exp(log_t)))
        confidence = np.clip(confidence, _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR)
        return float(-np.mean(np.where(correct, np.log(confidence), np.log1p(-confidence))))

    centre = np.log(scale)
    grid = np.linspace(centre - _LOG_T_HALF_WIDTH, centre + _LOG_T_HALF_WIDTH, _GRID_POINTS)
    best = int(np.argmin([loss(g) for g in grid]))
    step = grid[1] - grid[0]
    result = minimize_scalar(loss, bounds=(grid[best] - step, grid[best] + step), method="bounded")
    best_log_t = result.x if result.fun <= loss(grid[best]) else grid[best]
    return float(np.exp(best_log_t))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_N_BINS
) -> float:
    """Count-weighted mean of |hit rate - mean confidence| over equal-width confidence bins."""
    bins = reliability_table(confidence, correct, n_bins)
    total = sum(b.count for b in bins)
    return float(
        sum(b.count * abs(b.hit_rate - b.mean_confidence) for b in bins if b.count) / total
    )


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_N_BINS
) -> tuple[ReliabilityBin, ...]:
    """Equal-width bins over [0, 1] (the last one closed): count, mean confidence, hit rate."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or len(confidence) == 0:
        raise AgentError("confidence and correct must be equal-length, non-empty 1-D arrays")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    table = []
    for i in range(n_bins):
        members = index == i
        count = int(members.sum())
        table.append(
            ReliabilityBin(
                lower=round(float(edges[i]), 6),
                upper=round(float(edges[i + 1]), 6),
                count=count,
                mean_confidence=float(confidence[members].mean()) if count else None,
                hit_rate=float(correct[members].mean()) if count else None,
            )
        )
    return tuple(table)


def calibrate(
    scores: np.ndarray, chosen: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_N_BINS
) -> ConfidenceCalibration:
    """Fit the temperature and record how calibrated the confidences are, before and after."""
    scores, chosen, correct = _checked(scores, chosen, correct)
    temperature = fit_temperature(scores, chosen, correct)
    confidence = chosen_confidence(scores, chosen, temperature)
    raw_confidence = chosen_confidence(scores, chosen, 1.0)
    return ConfidenceCalibration(
        temperature=temperature,
        ece=expected_calibration_error(confidence, correct, n_bins),
        ece_uncalibrated=expected_calibration_error(raw_confidence, correct, n_bins),
        hit_rate=float(correct.mean()),
        n_decisions=len(correct),
        reliability=reliability_table(confidence, correct, n_bins),
    )


def _checked(
    scores: np.ndarray, chosen: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    chosen = np.asarray(chosen, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    if scores.ndim != 2 or len(scores) == 0:
        raise AgentError(f"scores must be a non-empty (n, n_actions) array, got {scores.shape}")
    if chosen.shape != (len(scores),) or correct.shape != (len(scores),):
        raise AgentError("chosen and correct must hold one value per row of scores")
    if not np.all(np.isfinite(scores)):
        raise AgentError("scores must be finite to calibrate a confidence")
    if np.any(chosen < 0) or np.any(chosen >= scores.shape[1]):
        raise AgentError(f"chosen actions must be in [0, {scores.shape[1]})")
    return scores, chosen, correct
