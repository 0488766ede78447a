"""The offline analyst's answer to the trade-execution prompt: a deterministic rule.

It reads only the prompt's sections (the order and the bars), like every offline rule, and:
- confirms every order that only reduces risk (a smaller |position|, same side);
- vetoes an order that adds risk and whose notional exceeds `MAX_ORDER_FRACTION` of equity
  (1.0: more than the whole account in one order only happens when a position flips from
  short to long or back, which deserves two decisions rather than one);
- vetoes an order that adds risk (a larger |position| or a flip) against a strong trend: the
  `TREND_WINDOW`-bar log return is at least `STRONG_TREND_Z` volatility units the other way (2.0:
  a move that strong happens by chance in about 1 window in 20);
- confirms everything else.

Hand it to the offline team:
`build_analyst_team("offline", offline_rules=OFFLINE_EXECUTION_RULES)`.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping

from llm import prompt_blocks as blocks
from llm.combine import population_std
from llm.offline_rules import OfflineRuleError
from orchestrator.execution_confirmation import ORDER_SECTION, PROMPT_ID, ExecutionAnswer

MAX_ORDER_FRACTION = 1.0
TREND_WINDOW = 20
STRONG_TREND_Z = 2.0
_NO_CHANGE = 1e-9


def trend_z(closes: list[float], window: int = TREND_WINDOW) -> float:
    """The last `window` bars' log return in units of its volatility (0 with under 3 closes)."""
    closes = closes[-window - 1 :]
    if len(closes) < 3:
        return 0.0
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    volatility = max(population_std(returns), 1e-6)
    return math.log(closes[-1] / closes[0]) / (volatility * math.sqrt(len(returns)))


def execution_rule(sections: Mapping[str, str]) -> ExecutionAnswer:
    """CONFIRM or VETO the order in `sections` (see the module docstring)."""
    try:
        order = json.loads(sections[ORDER_SECTION])
        bars = blocks.read_bars(sections[blocks.BARS])
        fraction = float(order["notional_fraction_of_equity"])
        current = float(order["current_position"])
        target = float(order["target_position"])
    except (KeyError, ValueError, TypeError) as exc:
        raise OfflineRuleError(f"trade-execution prompt lacks a usable order: {exc!r}") from None
    adds_risk = abs(target) > abs(current) + _NO_CHANGE or target * current < 0.0
    z = trend_z([bar.close for bar in bars])
    if not adds_risk:
        return ExecutionAnswer(
            verdict="CONFIRM",
            reason=f"order reduces risk; {TREND_WINDOW}-bar trend {z:+.2f} vol units",
        )
    if fraction > MAX_ORDER_FRACTION:
        return ExecutionAnswer(
            verdict="VETO",
            reason=f"order of {fraction:.2f}x equity exceeds the {MAX_ORDER_FRACTION:.2f}x limit",
        )
    direction = 1.0 if target > current else -1.0
    if direction * z <= -STRONG_TREND_Z:
        side = "buying" if direction > 0 else "selling"
        return ExecutionAnswer(
            verdict="VETO",
            reason=f"{side} adds risk against a strong trend: {TREND_WINDOW}-bar move of"
            f" {z:+.2f} volatility units",
        )
    return ExecutionAnswer(
        verdict="CONFIRM",
        reason=f"order adds risk with the trend or in none; {fraction:.2f}x equity;"
        f" {TREND_WINDOW}-bar trend {z:+.2f} vol units",
    )


OFFLINE_EXECUTION_RULES = {PROMPT_ID: execution_rule}
"""The rule keyed by its prompt id, ready for `build_analyst_team(offline_rules=...)`."""
