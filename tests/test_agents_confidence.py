"""Calibrated confidence: the per-action Platt map, its fit, ECE, log loss and reliability table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from agents import AgentError
from agents.confidence import (
    ConfidenceCalibration,
    PlattMap,
    calibrate,
    chosen_log_odds,
    expected_calibration_error,
    fit_platt_map,
    log_loss,
    reliability_table,
)

LOG_2 = float(np.log(2.0))  # the log-odds of a three-way tie: softmax gives 1/3, odds 1:2


def _true_hit_rate(
    scores: np.ndarray, chosen: np.ndarray, slope: float, offsets: tuple[float, ...]
) -> np.ndarray:
    """sigmoid(slope * (log-odds + log 2) + offsets[chosen]): offsets are the log-odds of being
    right at a three-way tie."""
    return expit(slope * (chosen_log_odds(scores, chosen) + LOG_2) + np.asarray(offsets)[chosen])


def _sample_outcomes(
    rng: np.random.Generator,
    n: int,
    score_scale: float,
    slope: float,
    offsets: tuple[float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three-action scores, greedy choices, and outcomes drawn with a known hit rate."""
    scores = rng.normal(0.0, score_scale, size=(n, 3))
    chosen = scores.argmax(axis=1)
    correct = rng.random(n) < _true_hit_rate(scores, chosen, slope, offsets)
    return scores, chosen, correct


@pytest.mark.parametrize(
    ("score_scale", "slope", "offsets"),
    [
        (
            0.01,
            100.0,
            (0.2, -3.0, 0.4),
        ),  # daily-return Q-values; half position rarely right
        (1.0, 1.0, (0.5, 0.5, 0.5)),  # logits, one base rate for every action
        (1.0, 0.0, (0.0, 0.0, 0.0)),  # scores that say nothing, right half of the time
    ],
)
def test_the_fit_recovers_a_known_hit_rate_above_one_over_n_actions(
    score_scale: float, slope: float, offsets: tuple[float, float, float]
) -> None:
    rng = np.random.default_rng(0)
    scores, chosen, correct = _sample_outcomes(rng, 30_000, score_scale, slope, offsets)
    assert correct.mean() > 0.45  # well above the 1/3 a flattened softmax tends to

    calibration = calibrate(scores, chosen, correct)

    fitted = calibration.map
    assert fitted.slope == pytest.approx(slope, rel=0.1, abs=0.05)
    np.testing.assert_allclose(
        np.asarray(fitted.intercepts) - fitted.slope * LOG_2, offsets, atol=0.15
    )
    truth = _true_hit_rate(scores, chosen, slope, offsets)
    assert np.mean(np.abs(calibration.confidence(scores, chosen) - truth)) < 0.01
    assert calibration.ece < 0.02
    assert calibration.hit_rate == pytest.approx(correct.mean())
    assert calibration.n_decisions == 30_000
    assert calibration.action_counts == tuple(np.bincount(chosen, minlength=3))


def test_uninformative_scores_give_the_base_rate_not_one_third() -> None:
    """The failure of temperature scaling: with a hit rate of 0.5 and scores that carry nothing,
    softmax(q / T) can only fall to 1/3; the fitted map says 0.5."""
    rng = np.random.default_rng(1)
    scores = rng.normal(0.0, 0.001, size=(2_000, 3))
    chosen = scores.argmax(axis=1)
    correct = rng.random(2_000) < 0.5

    confidence = calibrate(scores, chosen, correct).confidence(scores, chosen)

    assert np.all(np.abs(confidence - correct.mean()) < 0.03)
    assert abs(confidence.mean() - 0.5) < 0.03


def test_calibration_fixes_overconfident_raw_scores() -> None:
    rng = np.random.default_rng(2)
    scores, chosen, correct = _sample_outcomes(rng, 10_000, 3.0, 0.2, (0.0, 0.0, 0.0))

    calibration = calibrate(scores, chosen, correct)

    assert calibration.ece_uncalibrated > 0.15  # softmax(scores) at T = 1 claims far too much
    assert calibration.ece < 0.03
    assert calibration.log_loss < log_loss(
        PlattMap.uncalibrated(3).confidence(scores, chosen), correct
    )


def test_confidence_is_a_probability_and_rises_with_the_q_value_gap() -> None:
    gaps = np.linspace(0.0, 0.05, 11)
    two_actions = np.stack([np.zeros_like(gaps), gaps], axis=1)  # action 1 leads by `gap`
    three_actions = np.stack([np.zeros_like(gaps), np.full_like(gaps, -0.01), gaps], axis=1)
    platt = PlattMap(slope=100.0, intercepts=(0.3, -0.5))

    confidence = platt.confidence(two_actions, np.ones(len(gaps), dtype=int))

    assert np.all(np.diff(confidence) > 0.0)
    assert np.all((confidence >= 0.0) & (confidence <= 1.0))
    # Hand-computed: two actions with gap g have log-odds g, so confidence = sigmoid(100 g - 0.5).
    assert confidence[0] == pytest.approx(1.0 / (1.0 + np.exp(0.5)))
    assert confidence[-1] == pytest.approx(1.0 / (1.0 + np.exp(-4.5)))
    rising = PlattMap(slope=50.0, intercepts=(0.0, 0.0, 0.2)).confidence(
        three_actions, np.full(len(gaps), 2)
    )
    assert np.all(np.diff(rising) > 0.0)
    flat = PlattMap(slope=0.0, intercepts=(0.0, 0.0, 0.2)).confidence(
        three_actions, np.full(len(gaps), 2)
    )
    np.testing.assert_allclose(flat, expit(0.2))  # slope 0: the base rate at any gap


def test_a_fitted_map_never_falls_as_the_gap_grows() -> None:
    """Outcomes that get worse as the gap grows would want a negative slope; it stops at 0."""
    rng = np.random.default_rng(3)
    scores = rng.normal(0.0, 1.0, size=(5_000, 3))
    chosen = scores.argmax(axis=1)
    correct = rng.random(5_000) < expit(-2.0 * chosen_log_odds(scores, chosen))

    fitted = fit_platt_map(scores, chosen, correct)

    assert fitted.slope == 0.0
    confidence = fitted.confidence(scores, chosen)
    for action in range(3):
        mine = chosen == action
        assert np.ptp(confidence[mine]) == pytest.approx(0.0, abs=1e-12)
        assert confidence[mine][0] == pytest.approx(correct[mine].mean(), abs=0.03)


def test_a_rare_action_borrows_from_the_others_and_an_unseen_one_gets_their_mean() -> None:
    scores = np.zeros((402, 3))
    chosen = np.array([0] * 200 + [2] * 200 + [1] * 2)
    correct = np.array([True] * 60 + [False] * 140 + [True] * 100 + [False] * 100 + [True] * 2)

    rare = fit_platt_map(scores, chosen, correct)
    unseen = fit_platt_map(scores[:400], chosen[:400], correct[:400])

    # Two hits in two tries: the raw rate is 1, the prior keeps it far from certainty.
    assert expit(rare.intercepts[1]) < 0.85
    assert expit(rare.intercepts[0]) == pytest.approx(0.3, abs=0.01)
    assert unseen.intercepts[1] == pytest.approx(np.mean(unseen.intercepts[::2]), abs=1e-4)


def test_ties_everywhere_fit_no_slope() -> None:
    scores = np.zeros((6, 3))
    chosen = np.array([0, 0, 0, 2, 2, 2])
    correct = np.array([True, True, True, False, False, True])

    fitted = fit_platt_map(scores, chosen, correct)

    assert fitted.slope == 0.0
    assert expit(fitted.intercepts[0]) > expit(fitted.intercepts[2])


def test_huge_scores_stay_finite() -> None:
    scores = np.array([[1e6, 0.0, -1e6], [1e6, 0.0, -1e6]])
    chosen = np.array([0, 2])

    np.testing.assert_allclose(chosen_log_odds(scores, chosen), [1e6, -2e6])
    np.testing.assert_allclose(PlattMap.uncalibrated(3).confidence(scores, chosen), [1.0, 0.0])


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


def test_log_loss_by_hand() -> None:
    confidence = np.array([0.8, 0.25, 1.0])
    correct = np.array([True, False, True])
    assert log_loss(confidence, correct) == pytest.approx(-(np.log(0.8) + np.log(0.75)) / 3)


def test_calibration_round_trips_through_json() -> None:
    rng = np.random.default_rng(4)
    calibration = calibrate(*_sample_outcomes(rng, 500, 1.0, 1.0, (0.5, -2.0, 0.5)))

    text = json.dumps(calibration.to_dict(), allow_nan=False)

    assert ConfidenceCalibration.from_dict(json.loads(text)) == calibration


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"map": {"slope": -1.0, "intercepts": [0.0, 0.0, 0.0]}},
            "map.slope must be finite and non-negative",
        ),
        ({"map": {"slope": 1.0, "intercepts": [0.0]}}, "map.intercepts must hold at least 2"),
        (
            {"map": {"slope": 1.0, "intercepts": [0.0, float("nan")]}},
            r"map.intercepts\[1\] must be finite, got nan",
        ),
        ({"reliability": 3}, "malformed"),
        ({"map": 3}, "malformed"),
    ],
)
def test_a_bad_calibration_record_is_an_agent_error(change: dict, message: str) -> None:
    rng = np.random.default_rng(5)
    data = calibrate(*_sample_outcomes(rng, 100, 1.0, 1.0, (0.0, 0.0, 0.0))).to_dict() | change
    with pytest.raises(AgentError, match=message):
        ConfidenceCalibration.from_dict(data)


def test_a_temperature_only_record_is_refused() -> None:
    old = {"temperature": 4650.0, "ece": 0.01, "ece_uncalibrated": 0.05, "hit_rate": 0.33}
    with pytest.raises(AgentError, match="calibration record is malformed"):
        ConfidenceCalibration.from_dict(old | {"n_decisions": 504, "reliability": []})


def test_bad_inputs_are_agent_errors() -> None:
    with pytest.raises(AgentError, match="non-empty"):
        calibrate(np.zeros((0, 3)), np.zeros(0, dtype=int), np.zeros(0, dtype=bool))
    with pytest.raises(AgentError, match="n_actions >= 2"):
        calibrate(np.zeros((2, 1)), np.zeros(2, dtype=int), np.ones(2, dtype=bool))
    with pytest.raises(AgentError, match="finite"):
        calibrate(np.array([[np.nan, 0.0]]), np.array([0]), np.array([True]))
    with pytest.raises(AgentError, match=r"in \[0, 2\)"):
        calibrate(np.zeros((1, 2)), np.array([2]), np.array([True]))
    with pytest.raises(AgentError, match="one value per row"):
        calibrate(np.zeros((2, 2)), np.array([0, 1]), np.array([True]))
    with pytest.raises(AgentError, match="scores have 3 actions, the calibration has 2"):
        PlattMap(slope=1.0, intercepts=(0.0, 0.0)).confidence(np.zeros((1, 3)), np.array([0]))
