"""The rule that turns the DRL vote and the LLM vote into one hybrid decision.

Signals are target positions, so the confidence-weighted score

    score = w_drl * c_drl * s_drl + w_llm * c_llm * s_llm        (w_drl + w_llm = 1)

is itself a target position in [-1, 1], shrunk toward flat by doubt. Two cases:

- Agreement: both signals point the same way (both non-zero) and both confidences are at least
  `agree_threshold`. Two independent sources that are both sure are worth more than either, so the
  target is the score times `agree_boost`, capped at `max_position`; no threshold applies.
- Otherwise the score goes through a dead zone: `score >= buy_threshold` is BUY with target
  `size_scale * score`, `score <= sell_threshold` is SELL with target `size_scale * score`, anything
  in between is HOLD with target 0 (no conviction, no position: small targets would only pay costs).

Actions name the direction of the target, not the order: BUY = long, SELL = short (flat in
long-only mode), HOLD = flat. The order that gets there is the risk manager's business.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum

from orchestrator.errors import ConfigError
from orchestrator.trader.votes import SourceVote
from orchestrator.validation import checked_number, checked_setting


class HybridAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


@dataclass(frozen=True)
class CombinerConfig:
    """Every threshold of the combination rule (the defaults and why).

    agree_threshold: both confidences must reach this for the agreement boost (0.7: the issue's
        value; a calibrated 0.7 means "right 7 times in 10").
    agree_boost: factor on the score when the sources agree (1.5: two sure sources that agree
        earn half as much again, still capped at `max_position`).
    buy_threshold / sell_threshold: the dead zone of the score (+-0.15: one source alone at full
        signal needs confidence 0.3 with weight 0.5 to act; anything weaker stays flat).
    size_scale: target = size_scale * score outside the dead zone (1.0: the score already is a
        confidence-weighted target position).
    max_position: cap on |target| (1.0: fully invested, no leverage).
    long_only: clip short targets to flat (the account cannot short).
    """

    agree_threshold: float = 0.7
    agree_boost: float = 1.5
    buy_threshold: float = 0.15
    sell_threshold: float = -0.15
    size_scale: float = 1.0
    max_position: float = 1.0
    long_only: bool = False

    def __post_init__(self) -> None:
        checked_setting(self, "agree_threshold", low=0.0, high=1.0)
        checked_setting(self, "agree_boost", low=1.0)
        checked_setting(self, "buy_threshold", low=0.0, high=1.0, low_open=True)
        checked_setting(self, "sell_threshold", low=-1.0, high=0.0, high_open=True)
        checked_setting(self, "size_scale", low=0.0, low_open=True)
        checked_setting(self, "max_position", low=0.0, high=1.0, low_open=True)
        if not isinstance(self.long_only, bool):
            raise ConfigError(f"CombinerConfig.long_only must be a bool, got {self.long_only!r}")


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

    def to_record(self) -> dict[str, object]:
        """Plain JSON-ready values, for the journal and reports."""
        record = asdict(self)
        record["action"] = self.action.value
        return record


def combine(
    drl: SourceVote,
    llm: SourceVote,
    *,
    drl_weight: float,
    config: CombinerConfig | None = None,
) -> HybridDecision:
    """Combine the two votes with weights `drl_weight` and `1 - drl_weight` (see the module doc)."""
    config = config or CombinerConfig()
    drl_weight = checked_number("drl_weight", drl_weight, low=0.0, high=1.0)
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
        magnitude = min(config.max_position, config.size_scale * score)
        rule = f"score >= buy threshold {config.buy_threshold:+.2f}"
    elif score <= config.sell_threshold:
        action = HybridAction.SELL
        magnitude = min(config.max_position, config.size_scale * -score)
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
