"""The decision schemas: one shared scale, strict validation, sizes consistent with actions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm import Action, AgentSignal, TradingDecision
from llm.team.schemas import (
    ChartAnswer,
    DataAnswer,
    MetaAnswer,
    NarrativeAnswer,
    RiskLevel,
)


@pytest.mark.parametrize(
    "fields",
    [
        {"signal": 1.5, "confidence": 0.5},
        {"signal": -1.01, "confidence": 0.5},
        {"signal": 0.2, "confidence": 1.2},
        {"signal": 0.2, "confidence": -0.1},
    ],
)
def test_agent_signal_rejects_values_off_the_scale(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        AgentSignal(analyst="chart", **fields)


def test_agent_signal_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AgentSignal.model_validate({"analyst": "x", "signal": 0, "confidence": 0, "mood": "up"})


def _decision(action: Action, size: float) -> TradingDecision:
    return TradingDecision(
        action=action,
        size=size,
        confidence=0.6,
        risk_level=RiskLevel.LOW,
        reasoning="r",
        models=["m"],
        cost_usd=0.001,
    )


def test_hold_must_have_size_zero_and_trades_a_size() -> None:
    with pytest.raises(ValidationError, match="HOLD must have size 0"):
        _decision(Action.HOLD, 0.3)
    with pytest.raises(ValidationError, match="BUY must have a size above 0"):
        _decision(Action.BUY, 0.0)
    assert _decision(Action.SELL, 0.4).size == 0.4


def test_decision_rejects_negative_cost() -> None:
    with pytest.raises(ValidationError, match="cost_usd"):
        TradingDecision(
            action="HOLD",
            size=0,
            confidence=0,
            risk_level="LOW",
            reasoning="",
            models=[],
            cost_usd=-0.01,
        )


def test_fail_closed_answer_holds_with_no_conviction() -> None:
    decision = MetaAnswer.fail_closed("why").to_decision(models=["a"], cost_usd=0.002)
    assert (decision.action, decision.size, decision.confidence) == (Action.HOLD, 0.0, 0.0)
    assert decision.risk_level is RiskLevel.HIGH
    assert decision.models == ["a"] and decision.cost_usd == 0.002


def test_answers_become_signals_with_their_findings() -> None:
    chart = ChartAnswer(
        signal=0.4,
        confidence=0.7,
        reasoning="up",
        trend="up",
        support=95.0,
        resistance=110.0,
        patterns=["ascending triangle"],
        candlestick_signals=["hammer"],
    ).to_signal("chart")
    assert chart == AgentSignal(
        analyst="chart",
        signal=0.4,
        confidence=0.7,
        reasoning="up",
        key_features=["trend=up", "support=95", "resistance=110", "ascending triangle", "hammer"],
    )
    narrative = NarrativeAnswer(
        signal=-0.2, confidence=0.5, reasoning="", regime="bear", drivers=["rates"], risks=["war"]
    ).to_signal("narrative")
    assert narrative.key_features == ["regime=bear", "driver: rates", "risk: war"]
    data = DataAnswer(
        signal=0.1,
        confidence=0.3,
        reasoning="",
        order_flow_imbalance=0.25,
        volume_spike=True,
        block_trades=2,
    ).to_signal("data")
    assert data.key_features == [
        "order_flow_imbalance=+0.250",
        "volume_spike=yes",
        "block_trades=2",
    ]


def test_narrative_regime_is_one_of_four() -> None:
    with pytest.raises(ValidationError, match="regime"):
        NarrativeAnswer(signal=0, confidence=0, reasoning="", regime="sideways")


def test_meta_answer_becomes_decision_with_models_and_cost() -> None:
    answer = MetaAnswer(action="BUY", size=0.5, confidence=0.8, risk_level="MEDIUM", reasoning="r")
    decision = answer.to_decision(models=["a", "b"], cost_usd=0.003)
    assert decision.action is Action.BUY and decision.size == 0.5
    assert decision.models == ["a", "b"] and decision.cost_usd == 0.003
