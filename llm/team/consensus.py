"""The deterministic way to turn analyst signals into a trading decision.

Used when the meta node fails (so a broken model never blocks a decision) and by the offline
analyst as its meta rule. Signals are averaged weighted by confidence; the decision's conviction is
|sum(c_i * s_i)| / n, which is high only when confident analysts agree on a strong signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from llm.team.schemas import Action, AgentSignal, MetaAnswer, RiskLevel

ACTION_THRESHOLD = 0.15
"""|confidence-weighted signal| needed to act; below it the decision is HOLD."""

_HIGH_DISPERSION = 0.5
_MEDIUM_DISPERSION = 0.25


def population_std(values: Sequence[float]) -> float:
    """Population standard deviation in plain floats (`statistics.pstdev` is exact, via
    fractions, and ~50x slower: too slow for a rule run at every bar)."""
    if not values:
        return 0.0
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


@dataclass(frozen=True)
class CombinedView:
    """The confidence-weighted consensus of a set of signals."""

    score: float
    conviction: float
    dispersion: float
    count: int


def combined_view(signals: Sequence[AgentSignal]) -> CombinedView:
    total_confidence = sum(s.confidence for s in signals)
    if not signals or total_confidence == 0.0:
        return CombinedView(score=0.0, conviction=0.0, dispersion=0.0, count=len(signals))
    weighted = sum(s.confidence * s.signal for s in signals)
    dispersion = population_std([s.signal for s in signals])
    return CombinedView(
        score=weighted / total_confidence,
        conviction=min(1.0, abs(weighted) / len(signals)),
        dispersion=dispersion,
        count=len(signals),
    )


def risk_from_dispersion(dispersion: float) -> RiskLevel:
    """Analysts that disagree make a risky call."""
    if dispersion >= _HIGH_DISPERSION:
        return RiskLevel.HIGH
    if dispersion >= _MEDIUM_DISPERSION:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def combine_signals(signals: Sequence[AgentSignal], *, source: str) -> MetaAnswer:
    """The decision implied by `signals`; no signals (or no confidence) gives HOLD, confidence 0."""
    view = combined_view(signals)
    if view.count == 0 or view.conviction == 0.0:
        return MetaAnswer.fail_closed(f"{source}: no usable analyst signals, holding")
    if view.score >= ACTION_THRESHOLD:
        action = Action.BUY
    elif view.score <= -ACTION_THRESHOLD:
        action = Action.SELL
    else:
        action = Action.HOLD
    names = ", ".join(f"{s.analyst} {s.signal:+.2f}@{s.confidence:.2f}" for s in signals)
    return MetaAnswer(
        action=action,
        size=0.0 if action is Action.HOLD else round(min(1.0, abs(view.score)), 4),
        confidence=round(view.conviction, 4),
        risk_level=risk_from_dispersion(view.dispersion),
        reasoning=(
            f"{source}: confidence-weighted signal {view.score:+.3f} from {view.count} analysts "
            f"({names}); act above |{ACTION_THRESHOLD}|"
        ),
    )
