"""Calibrated confidence: temperature scaling, ECE and the reliability table."""

from __future__ import annotations

import numpy as np
import pytest

from agents.confidence import (
    ConfidenceCalibration,
    calibrate,
    chosen_confidence,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    softmax_with_temperature,
)
from agents.errors import AgentError


def _sample_outcomes(
    rng: np.random.Generator, n: int, n_actions: int, true_temperature: float, score_scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, greedy choices, and outcomes drawn so that P(right) = softmax(q / T*)[chosen]."""
    scores = rng.normal(0.0, score_scale, size=(n, n_actions))
    chosen = scores.argmax(axis=1)
    true_confidence = chosen_confidence(scores, chosen, true_temperature)
    correct = rng.random(n) < true_confidence
    return scores, chosen, correct


@pytest.mark.parametrize(
    ("true_temperature", "score_scale"),
    [(0.004, 0.01), (1.0, 1.0), (3.0, 1.0)],  # Q-values of daily returns, logits, flat logits
)
def test_fitted_temperature_recovers_the_true_hit_rate(
    true_temperature: float, score_scale: float
) -> None:
    rng = np.random.default_rng(0)
    scores, chosen, correct = _sample_outcomes(rng, 20_000, 3, true_temperature, score_scale)

    calibration = calibrate(scores, chosen, correct)

    assert calibration.temperature == pytest.approx(true_temperature, rel=0.1)
    assert calibration.ece < 0.02
    assert calibration.hit_rate == pytest.approx(correct.mean())
    assert calibration.n_decisions == 20_000


def test_calibration_fixes_overconfident_raw_scores() -> None:
    rng = np.random.default_rng(1)
    scores, chosen, correct = _sample_outcomes(rng, 10_000, 3, 5.0, 1.0)  # raw T=1 overconfident

    calibration = calibrate(scores, chosen, correct)

    assert calibration.ece_uncalibrated > 0.15
    assert calibration.ece < 0.03


def test_confidence_is_a_probability_and_rises_with_the_q_value_gap() -> None:
    gaps = np.linspace(0.0, 0.05, 11)
    scores = np.stack([np.zeros_like(gaps), gaps], axis=1)  # action 1 leads by `gap`
    chosen = np.ones(len(gaps), dtype=int)

    confidence = chosen_confidence(scores, chosen, temperature=0.01)

    assert confidence[0] == pytest.approx(0.5)
    assert np.all(np.diff(confidence) > 0.0)
    assert np.all((confidence >= 0.0) & (confidence <= 1.0))
    # Hand-computed: two actions with gap g give 1 / (1 + exp(-g / T)).
    assert confidence[-1] == pytest.approx(1.0 / (1.0 + np.exp(-5.0)))


def test_softmax_with_temperature_handles_huge_scores() -> None:
    probabilities = softmax_with_temperature(np.array([[1e6, 0.0, -1e6]]), 1e-3)
    np.testing.assert_allclose(probabilities, [[1.0, 0.0, 0.0]])


def test_ties_everywhere_give_temperature_one() -> None:
    scores = np.zeros((5, 3))
    assert fit_temperature(scores, np.zeros(5, dtype=int), np.ones(5, dtype=bool)) == 1.0


def test_reliability_table_and_ece_on_hand_computed_bins() -> None:
    confidence = np.array([0.15, 0.15, 0.55, 0.55, 0.55, 0.55, 1.0])
    correct = np.array([False, False, True, True, False, False, True])

    table = reliability_table(confidence, correct, n_bins=10)

    assert [b.count for b in table] == [0, 2, 0, 0, 0, 4, 0, 0, 0, 1]
    assert table[1].hit_rate == 0.0 and table[1].mean_confidence == pytest.approx(0.15)
    assert table[5].hit_rate == 0.5
    assert table[9].hit_rate == 1.0  # 1.0 falls in the last, closed bin
    assert table[0].mean_confidence is None
    # ECE = (2 * 0.15 + 4 * 0.05 + 1 * 0.0) / 7
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.5 / 7)


def test_calibration_round_trips_through_a_dict() -> None:
    rng = np.random.default_rng(2)
    calibration = calibrate(*_sample_outcomes(rng, 500, 3, 1.0, 1.0))

    assert ConfidenceCalibration.from_dict(calibration.to_dict()) == calibration


@pytest.mark.parametrize(
    ("change", "message"),
    [({"temperature": -1.0}, "temperature must be positive"), ({"reliability": 3}, "malformed")],
)
def test_a_bad_calibration_record_is_an_agent_error(change: dict, message: str) -> None:
    rng = np.random.default_rng(3)
    data = calibrate(*_sample_outcomes(rng, 100, 3, 1.0, 1.0)).to_dict() | change
    with pytest.raises(AgentError, match=message):
        ConfidenceCalibration.from_dict(data)


def test_bad_inputs_are_agent_errors() -> None:
    with pytest.raises(AgentError, match="non-empty"):
        calibrate(np.zeros((0, 3)), np.zeros(0, dtype=int), np.zeros(0, dtype=bool))
    with pytest.raises(AgentError, match="finite"):
        calibrate(np.array([[np.nan, 0.0]]), np.array([0]), np.array([True]))
    with pytest.raises(AgentError, match=r"in \[0, 2\)"):
        calibrate(np.zeros((1, 2)), np.array([2]), np.array([True]))
