"""Calibrated confidence: Platt scaling of the chosen action's log-odds, one intercept per action.

Raw Q-values (DQN) or action logits (PPO) are scores, not probabilities one can trust. The score
of a decision is the log-odds that softmax(scores) gives the chosen action, log(p / (1 - p)): for
PPO, p is the policy's own probability of the chosen action; for DQN the log-odds rise with every
gap between the chosen action's Q-value and the others' (for two actions it is the gap itself).
Platt scaling (Platt, 1999) maps it to the probability that the decision is right:

    confidence = sigmoid(slope * log_odds + intercepts[chosen action]),   slope >= 0

fitted on the calibration hold-out (the last bars of the train split, which training never saw
and model selection never read) by maximum likelihood of "the chosen action was right" (see
`agents.outcomes`). The slope is constrained non-negative, so confidence never falls as the gap
grows. The intercepts carry the base rate, which the temperature scaling used before could not:
softmax(scores / T) flattens towards 1 / n_actions as T grows, whatever the hit rate. There is one
intercept per action (the per-class bias of vector scaling in Guo et al., 2017) because the hit
rate depends on which action was chosen: flat is right when the market falls, a long target when
it rises, and markets rise more often than they fall. At slope 1 and zero intercepts the map is
the uncalibrated softmax, PPO's policy probability.

A few hundred hold-out bars must be enough, so the fit is kept robust. The loss is convex in
(slope, intercepts): no local minima and no search grid. Platt's smoothed targets keep the slope
finite when the scores separate the outcomes. A Gaussian prior ties each intercept to their mean,
so an action chosen a handful of times borrows strength from the others and one never chosen gets
their mean; with a hundred choices the data outweigh it.

The calibration error (ECE) and the reliability table are the standard equal-width-bin ones. They
are a few lines of NumPy: no maintained library installed here provides them for plain arrays.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError
from scipy.optimize import minimize
from scipy.special import expit, logsumexp
from scipy.stats import rankdata

from agents.errors import AgentError, field_path, validation_message

DEFAULT_N_BINS = 10
INTERCEPT_PRIOR_SD = 1.0
"""Prior spread of an action's intercept around the mean intercept, in log-odds."""
_PROBABILITY_FLOOR = 1e-12
_TIE_SPREAD = 1e-12


class _Record(BaseModel):
    """A frozen record of the manifest: exactly its fields, each checked on the way in."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ReliabilityBin(_Record):
    """Decisions whose confidence fell in `[lower, upper)`: how sure they were and how often right.

    `mean_confidence` and `hit_rate` are None for an empty bin.
    """

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    hit_rate: float | None


class PlattMap(_Record):
    """confidence = sigmoid(slope * chosen_log_odds + intercepts[chosen]).

    `slope` is per unit of log-odds and never negative; `intercepts` has one entry per action.
    """

    slope: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    intercepts: Annotated[tuple[FiniteFloat, ...], Field(min_length=2)]

    @classmethod
    def uncalibrated(cls, n_actions: int) -> PlattMap:
        """The identity map: softmax(scores) of the chosen action, as if nothing were fitted."""
        return cls(slope=1.0, intercepts=(0.0,) * n_actions)

    def confidence(self, scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Calibrated probability that each row's chosen action is right."""
        scores, chosen = _checked_scores(scores, chosen)
        if scores.shape[-1] != len(self.intercepts):
            raise AgentError(
                f"scores have {scores.shape[-1]} actions, the calibration has"
                f" {len(self.intercepts)}"
            )
        intercepts = np.asarray(self.intercepts)[chosen]
        return expit(self.slope * chosen_log_odds(scores, chosen) + intercepts)


class ConfidenceCalibration(_Record):
    """The fitted map and the evidence that it works, as measured on the bars it was fitted on.

    `ece`, `log_loss` and `reliability` describe the calibrated confidences; `ece_uncalibrated` is
    the ECE of the plain softmax, so the gain of calibrating is on record. `hit_rate` is the
    fraction of the `n_decisions` decisions that were right; `action_counts[k]` and
    `action_hit_rates[k]` the same per chosen action (None for an action never chosen).
    """

    map: PlattMap
    ece: float
    ece_uncalibrated: float
    log_loss: float
    hit_rate: float
    n_decisions: int
    action_counts: tuple[int, ...]
    action_hit_rates: tuple[float | None, ...]
    reliability: tuple[ReliabilityBin, ...]

    def confidence(self, scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Calibrated confidence of each row's chosen action (see `PlattMap`)."""
        return self.map.confidence(scores, chosen)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `calibration` entry (JSON values)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceCalibration:
        """Read back `to_dict`; a record that does not fit is an AgentError saying what is wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            message = validation_message(exc, cls, lambda loc, _field: field_path(loc))
            raise AgentError(f"confidence calibration record is malformed: {message}") from None


def chosen_log_odds(scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p = softmax(scores)[chosen]: the chosen score minus the
    log-sum-exp of the others, which stays finite for scores of any size.

    `scores` of a seed ensemble, (n_models, n, n_actions), give the mean over its members of each
    member's log-odds of the ensemble's choice: members that prefer another action pull it down,
    so their disagreement lowers the confidence.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 3:
        return np.mean([chosen_log_odds(member, chosen) for member in scores], axis=0)
    rows = np.arange(len(scores))
    others = scores.copy()
    others[rows, chosen] = -np.inf
    return scores[rows, chosen] - logsumexp(others, axis=1)


def fit_platt_map(
    scores: np.ndarray,
    chosen: np.ndarray,
    correct: np.ndarray,
    intercept_prior_sd: float = INTERCEPT_PRIOR_SD,
) -> PlattMap:
    """The map maximising the likelihood of `correct`, under the prior on the intercepts.

    The log-odds are standardised for the optimiser (Q-values of daily returns are ~1e-3 apart)
    and the result is stated back in raw units.
    """
    scores, chosen, correct = _checked(scores, chosen, correct)
    n_actions = scores.shape[-1]
    log_odds = chosen_log_odds(scores, chosen)
    centre, spread = float(log_odds.mean()), float(log_odds.std())
    if spread <= _TIE_SPREAD * max(1.0, abs(centre)):
        spread = 0.0  # every row ties up to rounding: the log-odds carry nothing to fit
    x = (log_odds - centre) / spread if spread > 0.0 else np.zeros_like(log_odds)
    targets = _platt_targets(correct)
    precision = 1.0 / intercept_prior_sd**2

    def loss_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        slope, intercepts = params[0], params[1:]
        logits = slope * x + intercepts[chosen]
        deviation = intercepts - intercepts.mean()
        loss = np.sum(np.logaddexp(0.0, logits) - targets * logits)
        loss += 0.5 * precision * np.sum(deviation**2)
        residual = expit(logits) - targets
        gradient = np.concatenate(
            [[residual @ x], np.bincount(chosen, residual, n_actions) + precision * deviation]
        )
        return float(loss), gradient

    start = np.concatenate([[0.0], np.full(n_actions, _logit(float(targets.mean())))])
    slope_bound = (0.0, None) if spread > 0.0 else (0.0, 0.0)  # constant scores: no slope
    result = minimize(
        loss_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[slope_bound] + [(None, None)] * n_actions,
    )
    slope = float(result.x[0] / spread) if spread > 0.0 else 0.0
    intercepts = result.x[1:] - slope * centre
    return PlattMap(slope=slope, intercepts=tuple(float(b) for b in intercepts))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_N_BINS
) -> float:
    """Count-weighted mean of |hit rate - mean confidence| over equal-width confidence bins."""
    bins = reliability_table(confidence, correct, n_bins)
    total = sum(b.count for b in bins)
    return float(
        sum(
            b.count * abs(b.hit_rate - b.mean_confidence)
            for b in bins
            if b.hit_rate is not None and b.mean_confidence is not None  # not an empty bin
        )
        / total
    )


def log_loss(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean binary negative log-likelihood (nats) of `correct` under `confidence`.

    Unlike the ECE, which a constant at the base rate already drives to zero, it also rewards
    confidences that tell right decisions from wrong ones (a proper scoring rule).
    """
    confidence = np.clip(
        np.asarray(confidence, dtype=np.float64), _PROBABILITY_FLOOR, 1.0 - _PROBABILITY_FLOOR
    )
    correct = np.asarray(correct, dtype=bool)
    return float(-np.mean(np.where(correct, np.log(confidence), np.log1p(-confidence))))


def auc(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    """Area under the ROC curve: the probability that a right decision got a higher confidence
    than a wrong one (ties count half), the Mann-Whitney statistic over average ranks. 0.5 is no
    better than chance; None when every decision was right or every one wrong."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n_right = int(correct.sum())
    n_wrong = len(correct) - n_right
    if n_right == 0 or n_wrong == 0:
        return None
    ranks = rankdata(confidence)
    return float((ranks[correct].sum() - n_right * (n_right + 1) / 2.0) / (n_right * n_wrong))


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
    """Fit the map and record how calibrated the confidences are, before and after."""
    scores, chosen, correct = _checked(scores, chosen, correct)
    n_actions = scores.shape[-1]
    fitted = fit_platt_map(scores, chosen, correct)
    confidence = fitted.confidence(scores, chosen)
    raw_confidence = PlattMap.uncalibrated(n_actions).confidence(scores, chosen)
    counts = np.bincount(chosen, minlength=n_actions)
    hits = np.bincount(chosen, correct, minlength=n_actions)
    return ConfidenceCalibration(
        map=fitted,
        ece=expected_calibration_error(confidence, correct, n_bins),
        ece_uncalibrated=expected_calibration_error(raw_confidence, correct, n_bins),
        log_loss=log_loss(confidence, correct),
        hit_rate=float(correct.mean()),
        n_decisions=len(correct),
        action_counts=tuple(int(n) for n in counts),
        action_hit_rates=tuple(
            float(h / n) if n else None for h, n in zip(hits, counts, strict=True)
        ),
        reliability=reliability_table(confidence, correct, n_bins),
    )


def _platt_targets(correct: np.ndarray) -> np.ndarray:
    """Platt's smoothed labels: (N+ + 1) / (N+ + 2) for a hit and 1 / (N- + 2) for a miss."""
    hits = float(correct.sum())
    misses = len(correct) - hits
    return np.where(correct, (hits + 1.0) / (hits + 2.0), 1.0 / (misses + 2.0))


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def _checked_scores(scores: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of one model (n, n_actions) or of an ensemble's members (n_models, n, n_actions)."""
    scores = np.asarray(scores, dtype=np.float64)
    chosen = np.asarray(chosen, dtype=np.int64)
    if scores.ndim not in {2, 3} or 0 in scores.shape or scores.shape[-1] < 2:
        raise AgentError(
            f"scores must be a non-empty ([n_models,] n, n_actions >= 2) array, got {scores.shape}"
        )
    if chosen.shape != (scores.shape[-2],):
        raise AgentError("chosen must hold one action per row of scores")
    if not np.all(np.isfinite(scores)):
        raise AgentError("scores must be finite to calibrate a confidence")
    if np.any(chosen < 0) or np.any(chosen >= scores.shape[-1]):
        raise AgentError(f"chosen actions must be in [0, {scores.shape[-1]})")
    return scores, chosen


def _checked(
    scores: np.ndarray, chosen: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores, chosen = _checked_scores(scores, chosen)
    correct = np.asarray(correct, dtype=bool)
    if correct.shape != chosen.shape:
        raise AgentError("correct must hold one value per row of scores")
    return scores, chosen, correct
