"""The online calibration of the LLM's stated confidence: it learns the hit rate the LLM realizes,
counts an outcome only once the interval its position was held has ended, and saves its state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm import Action, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.errors import InvalidInputError
from orchestrator.trader.votes import (
    LLMConfidenceCalibrator,
    SourceVote,
    llm_direction,
    vote_from_llm,
)


def decision(action: Action, confidence: float, size: float = 0.5) -> TradingDecision:
    return TradingDecision(
        action=action,
        size=size if action is not Action.HOLD else 0.0,
        confidence=confidence,
        risk_level=RiskLevel.MEDIUM,
        reasoning="synthetic",
        cost_usd=0.0,
    )


def test_an_llm_right_70_percent_of_the_time_at_stated_0_1_is_calibrated_to_0_7() -> None:
    rng = np.random.default_rng(1)
    calibrator = LLMConfidenceCalibrator()
    assert calibrator.calibrated(0.1) == 0.5  # nothing known yet: the Beta(1, 1) mean
    for _ in range(2000):
        direction = rng.choice([-1.0, 1.0])
        right = rng.random() < 0.7
        move = abs(rng.normal(0.0, 0.01)) + 1e-4
        assert calibrator.update(0.1, direction, direction * move if right else -direction * move)
    assert calibrator.calibrated(0.1) == pytest.approx(0.7, abs=0.03)
    assert calibrator.calibrated(0.05) == calibrator.calibrated(0.1)  # the same bin, [0, 0.2)
    # Every other bin is empty: it takes the pooled rate, here the same outcomes.
    assert calibrator.calibrated(0.9) == calibrator.calibrated(0.1)
    rows = calibrator.reliability()
    assert [(row.lower, row.upper, row.n) for row in rows] == [
        (0.0, 0.2, 2000),
        (0.2, 0.4, 0),
        (0.4, 0.6, 0),
        (0.6, 0.8, 0),
        (0.8, 1.0, 0),
    ]
    assert rows[0].mean_stated == pytest.approx(0.1)
    assert rows[0].hit_rate == pytest.approx(0.7, abs=0.03)
    assert rows[1].mean_stated is None and rows[1].hit_rate is None
    assert rows[1].calibrated == rows[0].calibrated


def test_each_bin_learns_its_own_rate_smoothed_by_a_beta_1_1_prior() -> None:
    calibrator = LLMConfidenceCalibrator()
    for hit in (True, True, True, False):  # stated 0.9: 3 hits in 4
        calibrator.update(0.9, 1.0, 0.01 if hit else -0.01)
    calibrator.update(0.3, -1.0, 0.02)  # stated 0.3, SELL, the price rose: a miss
    assert calibrator.calibrated(0.9) == pytest.approx((3 + 1) / (4 + 2))
    assert calibrator.calibrated(1.0) == calibrator.calibrated(0.9)  # the last bin is closed
    assert calibrator.calibrated(0.3) == pytest.approx((0 + 1) / (1 + 2))
    assert calibrator.calibrated(0.5) == pytest.approx((3 + 1) / (5 + 2))  # empty: pooled


def test_holds_are_not_scored_and_a_move_that_does_not_pay_its_cost_is_a_miss() -> None:
    calibrator = LLMConfidenceCalibrator()
    assert not calibrator.update(0.8, 0.0, 0.05)  # HOLD bets on nothing
    assert calibrator.n_outcomes == 0
    calibrator.update(0.8, 1.0, 0.0005, cost=0.001)  # up, but by less than the entry cost
    calibrator.update(0.8, -1.0, -0.002, cost=0.001)  # down by more than the cost: a hit
    assert calibrator.reliability()[4].hit_rate == 0.5


def test_the_calibrated_vote_replaces_the_stated_confidence() -> None:
    calibrator = LLMConfidenceCalibrator()
    for _ in range(8):
        calibrator.update(0.08, 1.0, 0.01)
    stated = decision(Action.BUY, 0.08, size=0.6)
    assert vote_from_llm(stated) == SourceVote(signal=0.6, confidence=0.08)
    assert vote_from_llm(stated, calibrator) == SourceVote(signal=0.6, confidence=0.9)


def replay(returns: list[float], views: list[tuple[int, TradingDecision]]) -> list[float]:
    """The calibrated confidence (at stated 0.1) the hybrid would use at each decision, feeding
    the calibrator as the learning step does: interval i is held under the view of decision i,
    and is fed before decision i + 1 is made."""
    calibrator = LLMConfidenceCalibrator()
    used = []
    for i in range(len(views)):
        if i > 0:
            asked_at, view = views[i - 1]
            calibrator.record_held(asked_at, view.confidence, llm_direction(view), returns[i - 1])
        used.append(calibrator.calibrated(0.1))
    return used


def test_no_outcome_is_used_before_its_interval_has_ended() -> None:
    rng = np.random.default_rng(4)
    n = 120
    views: list[tuple[int, TradingDecision]] = []
    for bar in range(n):  # a new view every 3 bars, BUY or SELL at stated 0.1
        if bar % 3 == 0:
            action = Action.BUY if rng.random() < 0.5 else Action.SELL
            views.append((bar, decision(action, 0.1)))
        else:
            views.append(views[-1])
    returns = list(rng.normal(0.0, 0.01, n))
    used = replay(returns, views)
    assert len(set(used)) > 10  # it learns as it goes
    for t in (10, 31, 62, 100):
        changed = returns[:t] + list(-np.asarray(returns[t:]) * 3.0)  # every outcome from t on
        assert replay(changed, views)[: t + 1] == used[: t + 1]
        # The view of decision t was asked at t - 1 (t = 31, 100: 3k + 1): its first interval
        # has been fed by t, but the view is still held, so that interval is not used either.
        if views[t][0] == t - 1:
            changed[t - 1] = -3.0 * returns[t - 1]
            assert replay(changed, views)[: t + 1] == used[: t + 1]
            assert replay(changed, views) != used


def test_a_view_counts_once_its_last_interval_is_held_and_its_intervals_compound() -> None:
    calibrator = LLMConfidenceCalibrator()
    # Held three intervals: +2%, -1%, -1.5%: the view lost 0.54% in all, a miss.
    assert not calibrator.record_held(0, 0.1, 1.0, 0.02)
    assert not calibrator.record_held(0, 0.1, 1.0, -0.01)
    assert not calibrator.record_held(0, 0.1, 1.0, -0.015)
    assert calibrator.n_outcomes == 0  # still held: its outcome is not known yet
    assert calibrator.record_held(3, 0.9, -1.0, -0.01)  # the next view
    assert calibrator.n_outcomes == 1 and calibrator.reliability()[0].hit_rate == 0.0
    with pytest.raises(InvalidInputError, match="comes before"):
        calibrator.record_held(2, 0.1, 1.0, 0.01)


def test_the_state_round_trips_through_json_with_the_view_held() -> None:
    rng = np.random.default_rng(9)
    original = LLMConfidenceCalibrator()
    for bar in range(40):
        confidence = float(rng.uniform(0.0, 1.0))
        direction = 1.0 if rng.random() < 0.5 else -1.0
        original.record_held(bar // 4 * 4, confidence, direction, float(rng.normal(0, 0.01)))
    state = json.loads(json.dumps(original.state_dict()))
    copy = LLMConfidenceCalibrator()
    copy.load_state_dict(state)
    assert copy.reliability() == original.reliability()
    assert copy.state_dict() == original.state_dict()
    # The view held goes on compounding in both, and closes the same way.
    for calibrator in (original, copy):
        calibrator.record_held(36, 0.5, 0.0, 0.01)
        calibrator.record_held(40, 0.5, 1.0, 0.01)
    assert copy.state_dict() == original.state_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hits": [5, 0, 0, 0, 0]}, "CalibratorState"),
        ({"outcomes": [1, 2]}, "CalibratorState"),
        ({"n_bins": 0}, r"CalibratorState\.n_bins"),
        ({"held": {"asked_at_bar": 0}}, r"CalibratorState\.held"),
    ],
)
def test_a_bad_state_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    calibrator = LLMConfidenceCalibrator()
    with pytest.raises(InvalidInputError, match=field):
        calibrator.load_state_dict({**calibrator.state_dict(), **change})


def test_bad_arguments_are_refused() -> None:
    calibrator = LLMConfidenceCalibrator()
    with pytest.raises(InvalidInputError, match="stated_confidence"):
        calibrator.update(1.2, 1.0, 0.01)
    with pytest.raises(InvalidInputError, match="realized_return"):
        calibrator.update(0.5, 1.0, float("nan"))
    with pytest.raises(InvalidInputError, match="n_bins"):
        LLMConfidenceCalibrator(0)
