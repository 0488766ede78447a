"""The cost estimate before a gateway run: a council priced seat by seat, embeddings priced."""

from __future__ import annotations

import pytest

from llm import Router, load_settings
from llm.gateway import EMBEDDING_TASK, ModelStack, Task
from llm.team import TeamConfig, estimate_call_costs, example_snapshot
from llm.team.council import Council
from orchestrator.runs.llm_cost import RunCostEstimate
from tests.gateway_helpers import small_stack
from tests.test_llm_embeddings import EMBED_MODEL, PRICE_PER_MILLION, embedding_stack

SETTINGS = load_settings({}, env_file=None)


def _router(stack: ModelStack) -> Router:
    return Router.for_estimates(stack, SETTINGS)


def test_each_council_seat_is_priced_on_its_own_model_under_the_council_task() -> None:
    council = Council(("primary-a", "fallback-b", "long-l"))
    costs = estimate_call_costs(
        example_snapshot(), _router(small_stack()), TeamConfig(council=council, cost_cap_usd=1.0)
    )
    seats = [cost for cost in costs.decision if cost.task == Task.COUNCIL]
    assert [(seat.model, seat.calls) for seat in seats] == [
        ("fallback-b", 1),
        ("long-l", 1),
        ("primary-a", 1),
    ]
    assert len({seat.usd_per_call for seat in seats}) == 3  # three prices, not one seat's thrice
    assert Task.META_ORCHESTRATOR not in {cost.task for cost in costs.decision}
    assert costs.usd_per_decision == pytest.approx(sum(cost.usd for cost in costs.decision))


def test_a_memory_run_with_an_embedding_model_prices_its_embeddings() -> None:
    snapshot = example_snapshot()
    costs = estimate_call_costs(snapshot, _router(embedding_stack()), TeamConfig(), memory=True)
    embedding = costs.embedding
    assert embedding is not None and costs.reflection is not None
    assert (embedding.task, embedding.model, embedding.calls) == (EMBEDDING_TASK, EMBED_MODEL, 2)
    assert embedding.prompt_tokens > 10  # the lesson's text, not an empty string
    per_call = embedding.prompt_tokens * PRICE_PER_MILLION / 1_000_000
    assert embedding.usd_per_call == pytest.approx(per_call)

    estimate = RunCostEstimate(costs, decisions=100, checks=200, remaining_usd=1.0, reflections=300)
    without = RunCostEstimate(
        estimate_call_costs(snapshot, _router(small_stack()), TeamConfig(), memory=True),
        decisions=100,
        checks=200,
        remaining_usd=1.0,
        reflections=300,
    )
    assert estimate.usd == pytest.approx(without.usd + 300 * embedding.usd)
    assert f"  embedding: 600 calls x ${embedding.usd_per_call:.6f}" in "\n".join(estimate.lines())

    assert estimate_call_costs(snapshot, _router(embedding_stack()), TeamConfig()).embedding is None
    assert without.costs.embedding is None  # lessons embedded locally cost nothing
