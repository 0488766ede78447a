"""The rule that turns the DRL vote and the LLM vote into one hybrid decision.

Signals are target positions, so the confidence-weighted score

    score = w_drl * c_drl * s_drl + w_llm * c_llm * s_llm        (w_drl + w_llm = 1)

is itself a target position in [-1, 1], shrunk toward flat by doubt. Two cases:

- Agreement: both signals point the same way (both non-zero) and both confidences are at least
  `agree_threshold`. Two independent sources that are both sure are worth more than either, so the
  target is the score times `agree_boost`, capped at `max_position`; no threshold applies.
- Otherwise the score goes through a dead zone: `score >= buy_threshold` is BUY and
  `score <= sell_threshold` is SELL, each with the score as its target (capped at `max_position`);
  anything in between is HOLD with target 0 (no conviction, no position: small targets would only
  pay costs).

Actions name the direction of the target, not the order: BUY = long, SELL = short (flat in
long-only mode), HOLD = flat. The order that gets there is the risk manager's business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from orchestrator.checks import Settings, UnitInterval, checked_args
from orchestrator.trader.votes import SourceVote


class HybridAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class CombinerConfig(Settings):
    """Every threshold of the combination rule (the defaults and why).

    agree_threshold: both confidences must reach this for the agreement boost (0.7: the issue's
        value; a calibrated 0.7 means "right 7 times in 10").
    agree_boost: factor on the score when the sources agree (1.5: two sure sources that agree
        earn half as much again, still capped at `max_position`).
    buy_threshold / sell_threshold: the dead zone of the score (+-0.15: one source alone at full
        signal needs confidence 0.3 with weight 0.5 to act; anything weaker stays flat).
    max_position: cap on |target| (1.0: fully invested, no leverage).
    long_only: clip short targets to flat (the account cannot short).
    """

    agree_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    agree_boost: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = 1.5
    buy_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.15
    sell_threshold: Annotated[float, Field(ge=-1.0, lt=0.0)] = -0.15
    max_position: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    long_only: bool = False


@dataclass(frozen=True)
class HybridDecision:
    """What the hybrid trader decided at one bar and everything that went into it."""

    drl: SourceVote
    llm: SourceVote
    drl_weight: float
    llm_weight: float
    score: float
    agreed: bool
    action: HybridAction
    target_position: float
    reasoning: str


@checked_args()
def combine(
    drl: SourceVote,
    llm: SourceVote,
    *,
    drl_weight: UnitInterval,
    config: CombinerConfig | None = None,
) -> HybridDecision:
    """Combine the two votes with weights `drl_weight` and `1 - drl_weight` (see the module doc)."""
    config = config or CombinerConfig()
    llm_weight = 1.0 - drl_weight
    score = drl_weight * drl.confidence * drl.signal + llm_weight * llm.confidence * llm.signal
    agreed = (
        drl.signal * llm.signal > 0.0
        and min(drl.confidence, llm.confidence) >= config.agree_threshold
    )
    if agreed:
        action = HybridAction.BUY if score > 0.0 else HybridAction.SELL
        magnitude = min(config.max_position, config.agree_boost * abs(score))
        rule = (
            f"both point {action.value} with confidence >= {config.agree_threshold:.2f}:"
            f" boosted x{config.agree_boost:g}"
        )
    elif score >= config.buy_threshold:
        action = HybridAction.BUY
        magnitude = min(config.max_position, score)
        rule = f"score >= buy threshold {config.buy_threshold:+.2f}"
    elif score <= config.sell_threshold:
        action = HybridAction.SELL
        magnitude = min(config.max_position, -score)
        rule = f"score <= sell threshold {config.sell_threshold:+.2f}"
    else:
        action = HybridAction.HOLD
        magnitude = 0.0
        rule = (
            f"score inside the dead zone ({config.sell_threshold:+.2f},"
            f" {config.buy_threshold:+.2f}): stay flat"
        )
    target = math.copysign(magnitude, score) if magnitude > 0.0 else 0.0
    if config.long_only and target < 0.0:
        target = 0.0
        rule += "; long-only: short clipped to flat"
    reasoning = (
        f"DRL {drl.signal:+.2f} at confidence {drl.confidence:.2f} (weight {drl_weight:.2f}),"
        f" LLM {llm.signal:+.2f} at confidence {llm.confidence:.2f} (weight {llm_weight:.2f}):"
        f" score {score:+.3f}; {rule}; {action.value} target {target:+.3f}"
    )
    return HybridDecision(
        drl=drl,
        llm=llm,
        drl_weight=drl_weight,
        llm_weight=llm_weight,
        score=score,
        agreed=agreed,
        action=action,
        target_position=target,
        reasoning=reasoning,
    )
