"""The rule that turns the DRL vote and the LLM vote into one hybrid decision.

Signals are target positions. Two rules:

- `mixture` (the default): each source's position as the account could hold it (its signal,
  capped at `max_position`, flat for a short in long-only mode), mixed by the learned weights:

      target = w_drl * p_drl + w_llm * p_llm        (w_drl + w_llm = 1)

  With the extra experts (`market` holds `max_position`, `cash` holds 0) their terms join the sum
  and all the weights sum to 1.

  No threshold, boost or confidence shrink stands between the weights and the position, so the
  position traded is the weight mixture that the learner scores (`orchestrator.trader.hedge`),
  and its regret bound covers what the account earns (less the rebalance band and the risk
  manager's interventions).
- `seed`: the first hybrid's rule, kept selectable. The confidence-weighted score
  score = w_drl * c_drl * s_drl + w_llm * c_llm * s_llm is a target shrunk toward flat by doubt.
  When both signals point the same way and both confidences are at least `agree_threshold`, the
  target is the score times `agree_boost` (capped); otherwise the score goes through a dead zone:
  `score >= buy_threshold` is BUY, `score <= sell_threshold` is SELL, anything between is flat.

Actions name the direction of the target, not the order: BUY = long, SELL = short (flat in
long-only mode), HOLD = flat. The order that gets there is the risk manager's business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import Field

from orchestrator.checks import Settings, UnitInterval, checked_args
from orchestrator.errors import InvalidInputError
from orchestrator.trader.votes import SourceVote


class HybridAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


CombinerRule = Literal["mixture", "seed"]
COMBINER_RULES: tuple[CombinerRule, ...] = ("mixture", "seed")


class CombinerConfig(Settings):
    """The combination rule and its settings (the defaults and why).

    rule: `mixture` or `seed` (module docstring). The remaining thresholds are the seed rule's.
    agree_threshold: the LLM's calibrated confidence must reach this for the agreement boost (0.5:
        its views have been right more often than wrong at the confidence it states).
    agree_drl_confidence: the DRL's calibrated confidence must reach this for the boost; None
        (the default) sets it per agent from `agree_quantile` (`TraderConfig.for_agent`), since
        what "sure" means depends on the agent's outcome and its calibration: an absolute number
        that one agent reaches on half its bars another never reaches.
    agree_quantile: the share of the agent's validation decisions below `agree_drl_confidence`
        (0.7: the agent counts as sure on its 30 % most confident decisions).
    agree_boost: factor on the score when the sources agree (1.5: two sure sources that agree
        earn half as much again, still capped at `max_position`).
    buy_threshold / sell_threshold: the dead zone of the score (+-0.15: one source alone at full
        signal needs confidence 0.3 with weight 0.5 to act; anything weaker stays flat).
    max_position: cap on |target| (1.0: fully invested, no leverage).
    long_only: clip short targets to flat (the account cannot short).
    """

    rule: CombinerRule = "mixture"
    agree_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    agree_drl_confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    agree_quantile: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.7
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
    extra_weights: Mapping[str, float] = field(default_factory=dict)
    """The weight of each extra expert (`market`, `cash`) the mixture held, by name."""


def account_position(signal: float, config: CombinerConfig) -> float:
    """A source's vote as the account could hold it (capped, and flat for a short if long-only)."""
    low = 0.0 if config.long_only else -config.max_position
    return min(config.max_position, max(low, signal))


@checked_args()
def combine(
    drl: SourceVote,
    llm: SourceVote,
    *,
    drl_weight: UnitInterval,
    config: CombinerConfig | None = None,
    extras: Mapping[str, ExtraExpert] | None = None,
) -> HybridDecision:
    """Combine the two votes with weights `drl_weight` and `1 - drl_weight` (see the module doc);
    with `extras`, the mixture also holds each extra expert's position at its weight, and the LLM
    weighs what is left. The seed rule takes no extras."""
    config = config or CombinerConfig()
    extras = extras or {}
    if config.rule == "mixture":
        return _mixture(drl, llm, drl_weight, config, extras)
    if extras:
        raise InvalidInputError("the seed rule combines the DRL and the LLM only: no extra experts")
    llm_weight = 1.0 - drl_weight
    score = drl_weight * drl.confidence * drl.signal + llm_weight * llm.confidence * llm.signal
    drl_sure = config.agree_threshold
    if config.agree_drl_confidence is not None:
        drl_sure = config.agree_drl_confidence
    agreed = (
        drl.signal * llm.signal > 0.0
        and drl.confidence >= drl_sure
        and llm.confidence >= config.agree_threshold
    )
    if agreed:
        action = HybridAction.BUY if score > 0.0 else HybridAction.SELL
        magnitude = min(config.max_position, config.agree_boost * abs(score))
        rule = (
            f"both point {action.value}, DRL confidence >= {drl_sure:.2f} and LLM confidence"
            f" >= {config.agree_threshold:.2f}: boosted x{config.agree_boost:g}"
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


class ExtraExpert(NamedTuple):
    """An extra expert's weight and the position it holds (already as the account holds it)."""

    weight: float
    position: float


def _mixture(
    drl: SourceVote,
    llm: SourceVote,
    drl_weight: float,
    config: CombinerConfig,
    extras: Mapping[str, ExtraExpert],
) -> HybridDecision:
    llm_weight = max(0.0, 1.0 - drl_weight - sum(extra.weight for extra in extras.values()))
    drl_position, llm_position = (
        account_position(drl.signal, config),
        account_position(llm.signal, config),
    )
    target = drl_weight * drl_position + llm_weight * llm_position
    target += sum(extra.weight * extra.position for extra in extras.values())
    if target > 0.0:
        action = HybridAction.BUY
    elif target < 0.0:
        action = HybridAction.SELL
    else:
        action = HybridAction.HOLD
    extra_terms = "".join(
        f" + {name} {extra.position:+.2f} x weight {extra.weight:.2f}"
        for name, extra in extras.items()
    )
    reasoning = (
        f"DRL position {drl_position:+.2f} (confidence {drl.confidence:.2f}) x weight"
        f" {drl_weight:.2f} + LLM position {llm_position:+.2f} (confidence {llm.confidence:.2f})"
        f" x weight {llm_weight:.2f}{extra_terms}: mixture {action.value} target {target:+.3f}"
    )
    return HybridDecision(
        drl=drl,
        llm=llm,
        drl_weight=drl_weight,
        llm_weight=llm_weight,
        score=target,
        agreed=False,
        action=action,
        target_position=target,
        reasoning=reasoning,
        extra_weights={name: extra.weight for name, extra in extras.items()},
    )
