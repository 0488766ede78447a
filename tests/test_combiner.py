"""The combination rules on hand-computed cases: the mixture; the seed rule's boost, dead zone,
caps and long-only."""

from __future__ import annotations

import math

import pytest

from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.trader.combiner import CombinerConfig, HybridAction, combine
from orchestrator.trader.votes import SourceVote

# The seed rule with the agreement threshold these hand computations were made for.
SEED = CombinerConfig(rule="seed", agree_threshold=0.7)


def _vote(signal: float, confidence: float) -> SourceVote:
    return SourceVote(signal=signal, confidence=confidence)


def test_agreeing_confident_sources_get_a_boosted_position() -> None:
    # score = 0.5*0.8*0.5 + 0.5*0.75*0.4 = 0.2 + 0.15 = 0.35; boosted x1.5 = 0.525.
    decision = combine(_vote(0.5, 0.8), _vote(0.4, 0.75), drl_weight=0.5, config=SEED)
    assert decision.agreed
    assert decision.action is HybridAction.BUY
    assert decision.score == pytest.approx(0.35)
    assert decision.target_position == pytest.approx(0.525)
    assert "boosted x1.5" in decision.reasoning


def test_the_boost_is_capped_at_the_max_position() -> None:
    # score = 0.5*0.8*1 + 0.5*0.9*0.6 = 0.67; x1.5 = 1.005 -> capped at 1.0.
    decision = combine(_vote(1.0, 0.8), _vote(0.6, 0.9), drl_weight=0.5, config=SEED)
    assert decision.agreed
    assert decision.target_position == 1.0


def test_agreement_needs_both_confidences_at_the_threshold() -> None:
    at_threshold = combine(_vote(0.5, 0.7), _vote(0.5, 0.7), drl_weight=0.5, config=SEED)
    below = combine(_vote(0.5, 0.7), _vote(0.5, 0.69), drl_weight=0.5, config=SEED)
    assert at_threshold.agreed
    assert not below.agreed
    # below: score = 0.175 + 0.1725 = 0.3475 >= 0.15, so a plain BUY of the score.
    assert below.action is HybridAction.BUY
    assert below.target_position == pytest.approx(0.3475)


def test_a_neutral_source_does_not_agree() -> None:
    # LLM HOLD (signal 0): score = 0.5*0.9*1 = 0.45, a plain BUY, no boost.
    decision = combine(_vote(1.0, 0.9), _vote(0.0, 0.9), drl_weight=0.5, config=SEED)
    assert not decision.agreed
    assert decision.action is HybridAction.BUY
    assert decision.target_position == pytest.approx(0.45)


def test_agreeing_shorts_are_boosted_downward() -> None:
    # score = 0.5*0.8*(-0.5) + 0.5*0.8*(-0.5) = -0.4; x1.5 = -0.6.
    decision = combine(_vote(-0.5, 0.8), _vote(-0.5, 0.8), drl_weight=0.5, config=SEED)
    assert decision.action is HybridAction.SELL
    assert decision.target_position == pytest.approx(-0.6)


def test_disagreement_inside_the_dead_zone_holds_flat() -> None:
    # score = 0.5*0.6*1 + 0.5*0.8*(-0.5) = 0.3 - 0.2 = 0.1, inside (-0.15, 0.15).
    decision = combine(_vote(1.0, 0.6), _vote(-0.5, 0.8), drl_weight=0.5, config=SEED)
    assert decision.action is HybridAction.HOLD
    assert decision.target_position == 0.0
    assert decision.score == pytest.approx(0.1)
    assert "dead zone" in decision.reasoning


def test_sell_below_the_sell_threshold() -> None:
    # score = 0.5*0.6*(-1) + 0.5*0.5*(-0.5) = -0.3 - 0.125 = -0.425.
    decision = combine(_vote(-1.0, 0.6), _vote(-0.5, 0.5), drl_weight=0.5, config=SEED)
    assert decision.action is HybridAction.SELL
    assert decision.target_position == pytest.approx(-0.425)


def test_long_only_clips_shorts_to_flat() -> None:
    config = SEED.copy_with(long_only=True)
    decision = combine(_vote(-1.0, 0.6), _vote(-0.5, 0.5), drl_weight=0.5, config=config)
    assert decision.action is HybridAction.SELL
    assert decision.target_position == 0.0
    assert "long-only" in decision.reasoning
    boosted_short = combine(_vote(-1.0, 0.9), _vote(-1.0, 0.9), drl_weight=0.5, config=config)
    assert boosted_short.target_position == 0.0


def test_weights_tilt_the_score() -> None:
    # score = 0.8*0.5*1 + 0.2*0.5*(-1) = 0.4 - 0.1 = 0.3.
    decision = combine(_vote(1.0, 0.5), _vote(-1.0, 0.5), drl_weight=0.8, config=SEED)
    assert decision.drl_weight == 0.8
    assert decision.llm_weight == pytest.approx(0.2)
    assert decision.target_position == pytest.approx(0.3)
    mirrored = combine(_vote(1.0, 0.5), _vote(-1.0, 0.5), drl_weight=0.2, config=SEED)
    assert mirrored.target_position == pytest.approx(-0.3)


def test_a_score_on_the_threshold_acts() -> None:
    config = SEED.copy_with(buy_threshold=0.25, sell_threshold=-0.25)
    buy = combine(_vote(1.0, 0.5), _vote(0.0, 0.0), drl_weight=0.5, config=config)
    sell = combine(_vote(-1.0, 0.5), _vote(0.0, 0.0), drl_weight=0.5, config=config)
    assert (buy.action, buy.target_position) == (HybridAction.BUY, 0.25)
    assert (sell.action, sell.target_position) == (HybridAction.SELL, -0.25)


def test_the_target_is_the_score_capped_at_the_max_position() -> None:
    config = SEED.copy_with(max_position=0.25)
    # score 0.3 -> capped at 0.25.
    decision = combine(_vote(1.0, 0.6), _vote(0.0, 0.0), drl_weight=0.5, config=config)
    assert decision.target_position == 0.25
    smaller = combine(_vote(1.0, 0.4), _vote(0.0, 0.0), drl_weight=0.5, config=config)
    assert smaller.target_position == pytest.approx(0.2)


def test_the_decision_keeps_both_votes_and_weights() -> None:
    decision = combine(_vote(0.5, 0.8), _vote(0.4, 0.75), drl_weight=0.6, config=SEED)
    assert decision.action is HybridAction.BUY
    assert (decision.drl, decision.llm) == (_vote(0.5, 0.8), _vote(0.4, 0.75))
    assert (decision.drl_weight, decision.llm_weight) == (0.6, pytest.approx(0.4))
    assert decision.agreed is True


def test_the_mixture_is_the_weighted_sum_of_the_account_positions() -> None:
    # 0.7 * 1.0 + 0.3 * (-0.5) = 0.55; confidence plays no part, nothing is boosted or zeroed.
    decision = combine(_vote(1.0, 0.2), _vote(-0.5, 0.9), drl_weight=0.7)
    assert (decision.action, decision.target_position) == (HybridAction.BUY, pytest.approx(0.55))
    assert not decision.agreed and "mixture" in decision.reasoning
    # Long-only: the LLM's short counts as flat before mixing: 0.3 * 1.0 + 0.7 * 0 = 0.3.
    config = CombinerConfig(long_only=True)
    decision = combine(_vote(1.0, 0.5), _vote(-1.0, 0.5), drl_weight=0.3, config=config)
    assert decision.target_position == pytest.approx(0.3)
    flat = combine(_vote(0.0, 0.5), _vote(0.0, 0.5), drl_weight=0.5)
    assert (flat.action, flat.target_position) == (HybridAction.HOLD, 0.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agree_threshold", 1.5),
        ("agree_boost", 0.9),
        ("buy_threshold", 0.0),
        ("sell_threshold", 0.1),
        ("size_scale", 1.0),  # a setting that no longer exists is refused by name
        ("max_position", 1.5),
        ("max_position", math.nan),
        ("long_only", "yes"),
        ("rule", "average"),
    ],
)
def test_invalid_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"CombinerConfig.{field}"):
        CombinerConfig(**{field: value})  # type: ignore[arg-type]


def test_weight_outside_unit_interval_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="drl_weight"):
        combine(_vote(1.0, 0.5), _vote(0.0, 0.0), drl_weight=1.2, config=SEED)
