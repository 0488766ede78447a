"""Votes: the one shape both sources are reduced to, and the adapters that produce it."""

from __future__ import annotations

import math

import pytest

from agents import DRLDecision
from llm import Action, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.errors import InvalidInputError
from orchestrator.trader.votes import SourceVote, vote_from_drl, vote_from_llm


def _llm(action: Action, size: float, confidence: float) -> TradingDecision:
    return TradingDecision(
        action=action,
        size=size,
        confidence=confidence,
        risk_level=RiskLevel.MEDIUM,
        reasoning="test",
        models=["offline-analyst"],
        cost_usd=0.0,
    )


def test_drl_vote_reads_the_target_position_and_the_confidence() -> None:
    decision = DRLDecision(action=2, target_position=0.5, confidence=0.8)
    assert vote_from_drl(decision) == SourceVote(signal=0.5, confidence=0.8)


@pytest.mark.parametrize(
    ("action", "size", "signal"),
    [(Action.BUY, 0.6, 0.6), (Action.SELL, 0.4, -0.4), (Action.HOLD, 0.0, 0.0)],
)
def test_llm_vote_signs_the_size_by_the_action(action: Action, size: float, signal: float) -> None:
    vote = vote_from_llm(_llm(action, size, confidence=0.75))
    assert vote == SourceVote(signal=signal, confidence=0.75)


@pytest.mark.parametrize(
    ("signal", "confidence", "field"),
    [
        (1.5, 0.5, "signal"),
        (-1.01, 0.5, "signal"),
        (0.0, 1.2, "confidence"),
        (0.0, -0.1, "confidence"),
        (math.nan, 0.5, "signal"),
        (0.0, math.inf, "confidence"),
        ("0.5", 0.5, "signal"),
    ],
)
def test_invalid_vote_names_the_field(signal: object, confidence: object, field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"SourceVote.{field}"):
        SourceVote(signal=signal, confidence=confidence)  # type: ignore[arg-type]
