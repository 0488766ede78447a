"""What the gateway refuses to pass on, and when it gives up, over real HTTP.

Unusable answers (prose, a broken schema, a critical answer from a model outside its chain) are
failed attempts: charged, retried, then the next model, never cached. A refused key stops the run
at the first call; a task that keeps failing opens the circuit breaker; one call respects its
deadline. Sleeps are recorded and move the gateway's clock, so nothing here waits.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict

from llm import LLMRequest, Task
from llm.gateway import LLMGatewayDownError
from llm.gateway.cache import CachedAnswer
from llm.gateway.failures import FailureKind, classify, retry_after
from llm.gateway.model_stack import identify_served
from llm.gateway.types import LLMCallError
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import TEST_KEY, GatewayKit, small_stack
from tests.llm_helpers import ledger_rows


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: str


GOOD = json.dumps({"verdict": "CONFIRM"})
MESSAGES = [HumanMessage("confirm this order?")]
REQUEST = LLMRequest(Task.NARRATIVE_ANALYSIS, MESSAGES, response_schema=Verdict)
CRITICAL = LLMRequest(Task.TRADE_EXECUTION, MESSAGES, response_schema=Verdict)


def _kit(server: FakeOpenAIServer, tmp_path: Path, **env: str) -> GatewayKit:
    server.responder = lambda _body: GOOD
    return GatewayKit.build(server, tmp_path, env=env)


def test_a_prose_answer_is_retried_then_falls_back_and_is_charged(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    openai_server.configure("primary-a", always=Fault.prose())
    response = kit.gateway.complete(REQUEST)
    assert response.model_served == "fallback-b"
    assert response.answer(Verdict) == Verdict(verdict="CONFIRM")
    assert openai_server.models_called() == ["primary-a", "primary-a", "fallback-b"]
    rows = ledger_rows(kit.settings.ledger_path)
    assert [(r.error or "").split(":")[0] for r in rows] == ["invalid_answer"] * 2 + [""]
    assert all(r.cost_usd > 0 for r in rows)  # an unusable answer is still paid for


def test_a_bad_answer_is_never_cached_and_a_healthy_rerun_asks_again(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    for model in ("primary-a", "fallback-b"):
        openai_server.configure(model, always=Fault.prose())
    with pytest.raises(LLMCallError, match="invalid_answer"):
        kit.gateway.complete(REQUEST)
    for model in ("primary-a", "fallback-b"):
        openai_server.clear_fault(model)
    openai_server.reset_log()
    assert kit.gateway.complete(REQUEST).model_served == "primary-a"
    assert openai_server.models_called() == ["primary-a"]  # not served from the cache
    openai_server.reset_log()
    assert kit.gateway.complete(REQUEST).cache_hit  # the good answer is cached
    assert openai_server.models_called() == []


def test_a_stored_answer_that_does_not_parse_is_dropped_and_asked_again(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    kit.gateway.complete(REQUEST)
    cache = kit.gateway.cache
    assert cache is not None
    (key,) = [row[0] for row in cache._connection.execute("SELECT key FROM responses")]
    cache.put(key, CachedAnswer("primary-a", "primary-a", "prose, not JSON", 1, 1, cache.now()))
    openai_server.reset_log()
    response = kit.gateway.complete(REQUEST)
    assert not response.cache_hit and openai_server.models_called() == ["primary-a"]


def test_a_critical_answer_from_a_model_outside_its_chain_is_refused(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    for model in ("top-x", "primary-a"):
        openai_server.configure(model, served_as="cheap-c")
    with pytest.raises(LLMCallError) as caught:
        kit.gateway.complete(CRITICAL)
    assert "wrong_model: answered by cheap-c, which is not in the task's chain" in str(caught.value)
    assert openai_server.models_called() == ["top-x", "primary-a"]  # not retried on one model
    assert kit.gateway.cache is not None
    assert kit.gateway.cache._connection.execute("SELECT COUNT(*) FROM responses").fetchone() == (
        0,
    )


def test_a_critical_answer_from_its_fallback_is_accepted(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    openai_server.configure("top-x", served_as="primary-a")
    assert kit.gateway.complete(CRITICAL).model_served == "primary-a"


@pytest.mark.parametrize("fault", [Fault.unauthorized(), Fault.no_connected_db()])
def test_a_refused_key_stops_at_the_first_call(
    openai_server: FakeOpenAIServer, tmp_path: Path, fault: Fault
) -> None:
    kit = _kit(openai_server, tmp_path)
    openai_server.configure("primary-a", always=fault)
    with pytest.raises(LLMGatewayDownError) as caught:
        kit.gateway.complete(REQUEST)
    assert openai_server.models_called() == ["primary-a"]
    message = str(caught.value)
    assert "refused us" in message and "OPENROUTER_API_KEY" in message
    assert TEST_KEY not in message


@pytest.mark.parametrize(
    ("header", "value", "wait_s"),
    [("llm_provider-retry-after", "3", 3.0), ("retry-after-ms", "1500", 1.5)],
)
def test_retry_after_is_read_in_the_forms_proxies_send(
    openai_server: FakeOpenAIServer, tmp_path: Path, header: str, value: str, wait_s: float
) -> None:
    kit = _kit(openai_server, tmp_path)
    openai_server.script("primary-a", Fault.rate_limited(float(value), header=header))
    assert kit.gateway.complete(REQUEST).model_served == "primary-a"
    assert kit.sleeps == [wait_s]


def test_a_call_starts_no_attempt_after_its_deadline(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(
        openai_server,
        tmp_path,
        LLM_MAX_ATTEMPTS="5",
        LLM_BACKOFF_BASE_S="1",
        LLM_CALL_DEADLINE_S="2.5",
        LLM_COOLDOWN_FAILURES="10",
    )
    for model in ("primary-a", "fallback-b"):
        openai_server.configure(model, always=Fault.server_error())
    with pytest.raises(LLMCallError, match="no retry within the call's deadline"):
        kit.gateway.complete(REQUEST)
    # primary-a: fail, wait 1 s, fail, a 2 s wait would pass the deadline: move on; then the
    # deadline has passed before fallback-b could be retried.
    assert kit.sleeps == [1.0, 1.0]
    assert openai_server.models_called() == ["primary-a"] * 2 + ["fallback-b"] * 2


def test_the_circuit_breaker_stops_a_task_that_keeps_failing(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path, LLM_BREAKER_FAILURES="2", LLM_CACHE_MODE="off")
    for model in ("primary-a", "fallback-b"):
        openai_server.configure(model, always=Fault.server_error())
    with pytest.raises(LLMCallError):
        kit.gateway.complete(REQUEST)
    openai_server.clear_fault("fallback-b")
    kit.gateway.complete(REQUEST)  # a success resets the count
    openai_server.configure("fallback-b", always=Fault.server_error())
    with pytest.raises(LLMCallError):
        kit.gateway.complete(REQUEST)
    with pytest.raises(LLMGatewayDownError) as caught:
        kit.gateway.complete(REQUEST)
    message = str(caught.value)
    assert "failed 2 narrative_analysis calls in a row" in message
    assert "OpenRouter http://127.0.0.1" in message and "server_error: HTTP 500" in message


@pytest.mark.parametrize(
    ("headers", "wait_s"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"llm_provider-retry-after": "4"}, 4.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the finer one wins
        ({"retry-after": "-3"}, 0.0),  # never negative
        ({"retry-after": "soon"}, None),  # neither seconds nor a date
        ({"retry-after-ms": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], wait_s: float | None) -> None:
    assert retry_after(headers) == wait_s


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": {"message": "bad key"}}, FailureKind.AUTH),
        (403, {"error": {"message": "forbidden"}}, FailureKind.AUTH),
        (400, {"error": {"message": "Authentication Error, No connected db."}}, FailureKind.AUTH),
        (400, {"error": {"message": "x", "type": "auth_error"}}, FailureKind.AUTH),
        (400, {"error": {"message": "unsupported parameter"}}, FailureKind.REJECTED),
        (503, {"error": {"message": "busy"}}, FailureKind.SERVER_ERROR),
    ],
)
def test_a_refusal_is_auth_whatever_status_the_gateway_uses(
    status: int, body: dict[str, Any], kind: FailureKind
) -> None:
    response = httpx.Response(status, request=httpx.Request("POST", "http://gateway/v1"))
    error = openai.APIStatusError(body["error"]["message"], response=response, body=body["error"])
    failure = classify(error)
    assert failure is not None and failure.kind is kind


def test_a_request_past_its_deadline_starts_nothing(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = _kit(openai_server, tmp_path)
    late = replace(REQUEST, time_left_s=0.0)  # a decision out of time
    with pytest.raises(LLMCallError, match="deadline passed, not tried: primary-a, fallback-b"):
        kit.gateway.complete(late)
    assert openai_server.models_called() == []


@pytest.mark.parametrize(
    ("served", "identified"),
    [
        ("top-x", "top-x"),
        ("top-x-2025-08-05", "top-x"),
        ("top-x-20250805", "top-x"),
        ("top-x@20250805", "top-x"),
        ("top-x-0613", "top-x"),
        ("top-x-distilled-8b", "top-x-distilled-8b"),  # another model that starts alike
        ("top-x-1", "top-x-1"),  # a later version, not a snapshot of this one
    ],
)
def test_a_served_name_is_the_requested_model_only_with_a_version_stamp(
    served: str, identified: str
) -> None:
    stack = small_stack()
    top = stack.model("top-x")
    assert identify_served(stack, served, top, "top-x") == identified
