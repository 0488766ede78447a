"""What a call cost: the gateway's own figure when it reports one, else tokens x listed prices.

OpenRouter reports the charged dollars as `usage.cost`; langchain-openai passes the raw usage
through as `response_metadata["token_usage"]`, so the figure is read from there. A serving model
with no listed price is charged at the most expensive model's prices with a warning: an unknown
price must never turn into a free call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from llm.model_stack import ModelSpec, ModelStack

logger = logging.getLogger(__name__)


def reported_cost(response_metadata: Mapping[str, Any]) -> float | None:
    """`usage.cost` from a chat response's metadata, when the gateway reported a usable number."""
    usage = response_metadata.get("token_usage")
    cost = usage.get("cost") if isinstance(usage, Mapping) else None
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None


def identify_served(stack: ModelStack, served: str, requested: ModelSpec, alias: str) -> str:
    """The stack id of the model that served a call; the raw name when the stack lacks it.

    `alias` is the id the endpoint knows the requested model by (a direct provider's own id); a
    serving name equal to it, or extending it or the requested id (a dated version), is the
    requested model.
    """
    if served in stack.models:
        return served
    if served.startswith((requested.id, alias)):
        return requested.id
    return served


def price_list_for(stack: ModelStack, model_id: str) -> ModelSpec:
    """The prices of `model_id`; the most expensive model's, with a warning, when unlisted."""
    if model_id in stack.models:
        return stack.models[model_id]
    fallback = stack.most_expensive()
    logger.warning(
        "no price listed for serving model %r; charging %r prices ($%.2f / $%.2f per million)",
        model_id,
        fallback.id,
        fallback.input_per_million,
        fallback.output_per_million,
    )
    return fallback


def call_cost(
    usage_cost: float | None, input_tokens: int, output_tokens: int, spec: ModelSpec
) -> float:
    """Dollars for one answered call: the reported cost if any, else the listed prices."""
    if usage_cost is not None:
        return usage_cost
    return spec.cost_usd(input_tokens, output_tokens)
