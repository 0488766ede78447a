"""Routing decisions, without HTTP: complexity, input, budget, cost cap, cool-down, CRITICAL."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from llm import Budget, Ledger, LedgerEntry, LLMConfigError, LLMRequest, Task
from llm.gateway.router import CooldownTracker, Router
from llm.gateway.settings import OverBudgetPolicy
from llm.gateway.types import Complexity, LLMSkippedError
from tests.gateway_helpers import ManualClock, ManualSeconds, small_stack

SHORT = [HumanMessage("a short prompt")]
IMAGE = [
    HumanMessage(
        [
            {"type": "text", "text": "read this chart"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
    )
]
LONG = [HumanMessage("x" * 4 * 40_000)]  # about 40K tokens


def _router(
    spent: float = 0.0,
    daily: float = 1.0,
    policy: OverBudgetPolicy = OverBudgetPolicy.CHEAPEST,
    seconds: ManualSeconds | None = None,
) -> Router:
    ledger = Ledger(":memory:", clock=ManualClock())
    if spent:
        ledger.record(LedgerEntry("narrative_analysis", "primary-a", "primary-a", cost_usd=spent))
    budget = Budget(ledger, daily_usd=daily, monthly_usd=100.0, alert_threshold=0.8)
    cooldown = CooldownTracker(failures=2, cooldown_s=60.0, clock=seconds or ManualSeconds())
    return Router(
        small_stack(), cooldown, budget, policy, max_output_tokens=1000, expected_output_tokens=1000
    )


def _models(router: Router, task: Task, messages=SHORT, **fields) -> tuple[str, ...]:
    return router.route(LLMRequest(task, messages, **fields)).models


def test_task_chain_and_complexity() -> None:
    router = _router()
    assert _models(router, Task.NARRATIVE_ANALYSIS) == ("primary-a", "fallback-b")
    simple = _models(router, Task.NARRATIVE_ANALYSIS, complexity=Complexity.SIMPLE)
    assert simple == ("cheap-c", "primary-a", "fallback-b")
    assert _models(router, Task.NARRATIVE_ANALYSIS, high_volume=True)[0] == "cheap-c"
    complex_ = _models(router, Task.META_ORCHESTRATOR, complexity=Complexity.COMPLEX)
    assert complex_ == ("primary-a", "fallback-b")  # complex model is already the fallback
    assert _models(router, Task.DATA_PROCESSOR) == ("cheap-c",)  # the task's tier is simple


def test_a_request_naming_its_models_gets_no_model_added() -> None:
    """A council seat asks its own model: the complex model is no fallback for it."""
    router = _router()
    seat = _models(router, Task.COUNCIL, complexity=Complexity.COMPLEX, models=("primary-a",))
    assert seat == ("primary-a",)
    assert _models(router, Task.COUNCIL, complexity=Complexity.SIMPLE, models=("top-x",)) == (
        "top-x",
    )
    # A long prompt still goes where it fits.
    assert _models(router, Task.COUNCIL, LONG, models=("primary-a",))[0] == "long-l"


def test_image_goes_to_a_vision_model() -> None:
    router = _router()
    assert _models(router, Task.CHART_ANALYSIS, IMAGE) == ("vision-v",)
    # A text task given an image: no text model can read it, so the vision model steps in.
    assert _models(router, Task.NARRATIVE_ANALYSIS, IMAGE) == ("vision-v",)


def test_long_prompt_goes_to_the_long_context_model_first() -> None:
    router = _router()
    models = _models(router, Task.NARRATIVE_ANALYSIS, LONG)
    assert models == ("long-l", "primary-a", "fallback-b")
    # The small model (16K context) cannot take it even when asked for.
    assert "cheap-c" not in _models(router, Task.NARRATIVE_ANALYSIS, LONG, high_volume=True)


def test_low_budget_downgrades_medium_calls_one_step() -> None:
    router = _router(spent=0.85)  # 85% of $1 used
    # primary-a -> fallback-b along the downgrade chain; fallback-b is its last rung.
    assert _models(router, Task.NARRATIVE_ANALYSIS) == ("fallback-b",)
    assert _models(router, Task.DOCUMENT_ANALYSIS) == ("primary-a", "fallback-b")
    # COMPLEX calls keep their models until the budget is spent.
    complex_ = _models(router, Task.META_ORCHESTRATOR, complexity=Complexity.COMPLEX)
    assert complex_ == ("primary-a", "fallback-b")


def test_spent_budget_serves_the_cheapest_capable_model_or_skips() -> None:
    assert _models(_router(spent=1.0), Task.NARRATIVE_ANALYSIS) == ("cheap-c",)
    assert _models(_router(spent=1.0), Task.CHART_ANALYSIS, IMAGE) == ("vision-v",)
    with pytest.raises(LLMSkippedError, match="budget spent"):
        _models(_router(spent=1.0, policy=OverBudgetPolicy.SKIP), Task.NARRATIVE_ANALYSIS)


def test_critical_is_never_downgraded_checked_or_overridden() -> None:
    expected = ("top-x", "primary-a")
    for router in (_router(), _router(spent=5.0), _router(daily=0.0)):
        assert _models(router, Task.TRADE_EXECUTION) == expected
        assert _models(router, Task.TRADE_EXECUTION, high_volume=True) == expected
        assert _models(router, Task.TRADE_EXECUTION, models=["cheap-c"]) == expected
        assert _models(router, Task.TRADE_EXECUTION, max_cost_usd=0.0) == expected
        assert _models(router, Task.TRADE_EXECUTION, complexity=Complexity.SIMPLE) == expected
    # A request may also declare itself critical: then its own task's chain, as configured.
    critical = _models(_router(daily=0.0), Task.NARRATIVE_ANALYSIS, complexity=Complexity.CRITICAL)
    assert critical == ("primary-a", "fallback-b")


def test_caller_models_replace_the_chain_and_must_exist() -> None:
    router = _router()
    assert _models(router, Task.NARRATIVE_ANALYSIS, models=["fallback-b", "long-l"]) == (
        "fallback-b",
        "long-l",
    )
    with pytest.raises(LLMConfigError, match="ghost"):
        _models(router, Task.NARRATIVE_ANALYSIS, models=["ghost"])


def test_cost_cap_drops_dear_models_or_skips() -> None:
    router = _router()
    # primary-a: ~8 prompt tokens x $1/M + 1000 expected output x $2/M = ~$0.002008.
    assert router.expected_cost("primary-a", 8) == pytest.approx(0.002008)
    assert _models(router, Task.NARRATIVE_ANALYSIS, max_cost_usd=0.0015) == ("fallback-b",)
    with pytest.raises(LLMSkippedError, match="cost cap"):
        _models(router, Task.NARRATIVE_ANALYSIS, max_cost_usd=0.0001)


def test_a_cooling_model_goes_last_until_the_cooldown_ends() -> None:
    seconds = ManualSeconds()
    router = _router(seconds=seconds)
    assert router.cooldown.record_failure("primary-a") is False
    assert router.cooldown.record_failure("primary-a") is True  # 2 in a row: cooled for 60 s
    assert _models(router, Task.NARRATIVE_ANALYSIS) == ("fallback-b", "primary-a")
    seconds.advance(61)
    assert _models(router, Task.NARRATIVE_ANALYSIS) == ("primary-a", "fallback-b")
    router.cooldown.record_failure("primary-a")
    router.cooldown.record_success("primary-a")  # a success resets the streak
    router.cooldown.record_failure("primary-a")
    assert not router.cooldown.is_cooling("primary-a")


def test_context_overflow_goes_to_the_long_context_model_except_when_critical() -> None:
    router = _router()
    route = router.route(LLMRequest(Task.NARRATIVE_ANALYSIS, SHORT))
    assert router.long_context_retry(route, "primary-a") == "long-l"
    assert router.long_context_retry(route, "long-l") is None
    critical = router.route(LLMRequest(Task.TRADE_EXECUTION, SHORT))
    assert router.long_context_retry(critical, "top-x") is None
