"""Each source's view at one bar, reduced to the two numbers the combiner mixes.

A vote's `signal` is a target position in [-1, 1] (+1 fully long, -1 fully short, 0 flat) and its
`confidence` is in [0, 1]. Reducing both sources to this one shape is what lets the combiner, the
weight learner and the reports treat the DRL agent and the LLM analysts alike.
"""

from __future__ import annotations

from agents import DRLDecision
from llm import Action, TradingDecision
from orchestrator.checks import Position, UnitInterval, Value


class SourceVote(Value):
    """One source's target position (`signal`, in [-1, 1]) and how sure it is (in [0, 1])."""

    signal: Position
    confidence: UnitInterval


def vote_from_drl(decision: DRLDecision) -> SourceVote:
    """The agent's target position is its signal; its calibrated confidence passes through."""
    return SourceVote(signal=decision.target_position, confidence=decision.confidence)


_LLM_DIRECTION = {Action.BUY: 1.0, Action.SELL: -1.0, Action.HOLD: 0.0}


def vote_from_llm(decision: TradingDecision) -> SourceVote:
    """BUY -> +size, SELL -> -size, HOLD -> 0 (flat); the confidence passes through."""
    return SourceVote(
        signal=_LLM_DIRECTION[decision.action] * decision.size, confidence=decision.confidence
    )
