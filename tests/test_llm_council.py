"""The deterministic decision rules: the confidence-weighted fallback and the council vote."""

from __future__ import annotations

import pytest

from llm import Action, AgentSignal, LLMConfigError
from llm.team.consensus import combine_signals
from llm.team.council import Council, council_vote
from llm.team.schemas import MetaAnswer, RiskLevel


def _signal(name: str, signal: float, confidence: float) -> AgentSignal:
    return AgentSignal(analyst=name, signal=signal, confidence=confidence)


def test_fallback_weighs_signals_by_confidence() -> None:
    answer = combine_signals([_signal("a", 0.8, 0.5), _signal("b", -0.2, 0.5)], source="test")
    # score (0.4 - 0.1) / 1.0 = 0.3; conviction |0.3| / 2; dispersion pstdev(0.8, -0.2) = 0.5
    assert answer.action is Action.BUY
    assert answer.size == pytest.approx(0.3)
    assert answer.confidence == pytest.approx(0.15)
    assert answer.risk_level is RiskLevel.HIGH


def test_fallback_holds_on_a_weak_consensus() -> None:
    answer = combine_signals([_signal("a", 0.2, 0.3), _signal("b", -0.1, 0.9)], source="test")
    # score (0.06 - 0.09) / 1.2 = -0.025: inside the +-0.15 band
    assert (answer.action, answer.size) == (Action.HOLD, 0.0)
    assert answer.risk_level is RiskLevel.LOW  # pstdev(0.2, -0.1) = 0.15


@pytest.mark.parametrize(
    "signals", [[], [_signal("a", 0.9, 0.0), _signal("b", -0.9, 0.0)]], ids=["none", "no-conf"]
)
def test_fallback_without_usable_signals_holds_with_zero_confidence(
    signals: list[AgentSignal],
) -> None:
    answer = combine_signals(signals, source="test")
    assert (answer.action, answer.size, answer.confidence) == (Action.HOLD, 0.0, 0.0)


def _ballot(action: str, size: float, confidence: float, risk: str) -> MetaAnswer:
    return MetaAnswer(
        action=action, size=size, confidence=confidence, risk_level=risk, reasoning=action
    )


def test_majority_counts_every_seat_and_takes_the_cautious_winner() -> None:
    council = Council(("m1", "m2", "m3"), "majority")
    answer = council_vote(
        council, [_ballot("BUY", 0.6, 0.9, "LOW"), _ballot("BUY", 0.4, 0.8, "MEDIUM"), None]
    )
    assert (answer.action, answer.size, answer.confidence) == (Action.BUY, 0.4, 0.8)
    assert answer.risk_level is RiskLevel.MEDIUM
    assert "m3: no vote" in answer.reasoning


def test_majority_is_of_seats_not_of_answers() -> None:
    council = Council(("m1", "m2", "m3"), "majority")
    answer = council_vote(council, [_ballot("SELL", 0.5, 0.7, "LOW"), None, None])
    assert answer.action is Action.HOLD and "1/3 for SELL, 2 needed" in answer.reasoning


def test_split_council_holds() -> None:
    council = Council(("m1", "m2"), "majority")
    answer = council_vote(
        council, [_ballot("BUY", 0.5, 0.7, "LOW"), _ballot("SELL", 0.5, 0.7, "LOW")]
    )
    assert (answer.action, answer.confidence, answer.risk_level) == (
        Action.HOLD,
        0.0,
        RiskLevel.HIGH,
    )


def test_unanimous_needs_every_seat() -> None:
    council = Council(("m1", "m2"), "unanimous")
    agree = [_ballot("SELL", 0.5, 0.7, "LOW"), _ballot("SELL", 0.3, 0.9, "HIGH")]
    assert council_vote(council, agree).action is Action.SELL
    assert council_vote(council, [agree[0], None]).action is Action.HOLD
    assert council_vote(council, [None, None]).reasoning.endswith(
        "no valid votes (m1: no vote, m2: no vote)"
    )


@pytest.mark.parametrize(
    ("models", "rule", "message"),
    [
        (("m1",), "majority", "models: Tuple should have at least 2 items"),
        (("m1", "m1"), "majority", "a council needs distinct models"),
        (("m1", "m2"), "plurality", "rule: Input should be 'unanimous' or 'majority'"),
    ],
)
def test_council_configuration_is_validated(
    models: tuple[str, ...], rule: str, message: str
) -> None:
    with pytest.raises(LLMConfigError, match=message):
        Council(models, rule)  # type: ignore[arg-type]
