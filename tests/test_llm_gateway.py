"""The gateway over HTTP with the real ChatOpenAI client: fallbacks, costs, budget, cache, replay.

Costs are checked by hand: the test stack prices primary-a at $1 / $2 per million input / output
tokens and fallback-b at $0.50 / $1; the fake server reports 100 prompt and 20 completion tokens
unless told otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from llm import Gateway, LedgerEntry, LLMRequest, LLMSettings, ModelStack, Task, load_settings
from llm.gateway.cache import ReplayMissError
from llm.gateway.model_stack import OFFLINE_MODEL_ID, ModelSpec
from llm.gateway.types import Complexity, LLMCallError, LLMSkippedError
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import TEST_KEY, GatewayKit
from tests.llm_helpers import ledger_rows, spend_totals

PRIMARY_A_COST = (100 * 1.0 + 20 * 2.0) / 1e6  # $0.00014
FALLBACK_B_COST = (100 * 0.5 + 20 * 1.0) / 1e6  # $0.00007


def _request(task: Task = Task.NARRATIVE_ANALYSIS, text: str = "AAPL news", **fields) -> LLMRequest:
    return LLMRequest(task, [SystemMessage("You are an analyst."), HumanMessage(text)], **fields)


def test_answer_cost_and_ledger_row(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    response = kit.gateway.complete(_request())
    assert json.loads(response.content) == {"echo_model": "primary-a", "messages": 2}
    assert (response.model_requested, response.model_served) == ("primary-a", "primary-a")
    assert (response.input_tokens, response.output_tokens) == (100, 20)
    assert response.cost_usd == pytest.approx(PRIMARY_A_COST)
    assert not response.cache_hit
    (row,) = ledger_rows(kit.settings.ledger_path)
    assert (row.task, row.model_served, row.cost_usd) == (
        "narrative_analysis",
        "primary-a",
        pytest.approx(PRIMARY_A_COST),
    )
    (request,) = openai_server.requests
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"  # the SDK does not retry


def test_fallback_order_and_openrouter_fallback_list(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    openai_server.configure("primary-a", always=Fault.server_error())
    response = kit.gateway.complete(_request())
    assert response.model_served == "fallback-b"
    assert openai_server.models_called() == ["primary-a", "primary-a", "fallback-b"]
    first, _, last = openai_server.requests
    assert first.body["models"] == ["fallback-b"]  # the gateway-side fallback list
    assert "models" not in last.body  # nothing left after the last model
    assert kit.sleeps == [0.25]  # one backoff between the two attempts on primary-a
    errors = [row.error for row in ledger_rows(kit.settings.ledger_path)]
    assert errors == ["server_error: HTTP 500: upstream failure"] * 2 + [None]


def test_listeners_get_every_ledger_row_as_stored(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    heard: list[LedgerEntry] = []
    kit.gateway.add_listener(heard.append)
    openai_server.script("primary-a", Fault.server_error())
    kit.gateway.complete(_request())  # a failed attempt, then the answer on the retry
    kit.gateway.complete(_request())  # a cache hit
    assert heard == ledger_rows(kit.settings.ledger_path)
    assert [(row.error is None, row.cache_hit) for row in heard] == [
        (False, False),
        (True, False),
        (True, True),
    ]
    assert all(row.at == kit.clock.now for row in heard)


def test_serving_model_is_read_from_the_response(
    openai_server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    openai_server.configure("primary-a", served_as="fallback-b")  # OpenRouter fell back itself
    response = kit.gateway.complete(_request())
    assert (response.model_requested, response.model_served) == ("primary-a", "fallback-b")
    assert response.cost_usd == pytest.approx(FALLBACK_B_COST)  # priced as the server

    openai_server.configure("fallback-b", served_as="mystery-model")
    with caplog.at_level(logging.WARNING, logger="llm.gateway.model_stack"):
        unknown = kit.gateway.complete(_request(models=["fallback-b"]))
    # No price for the serving model: charged at the dearest model's ($10 / $50), never $0.
    assert unknown.cost_usd == pytest.approx((100 * 10.0 + 20 * 50.0) / 1e6)
    assert "mystery-model" in caplog.text


def test_ledger_totals_equal_usage_times_prices_or_reported_cost(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    openai_server.configure("primary-a", prompt_tokens=1_000, completion_tokens=500)
    openai_server.configure("fallback-b", prompt_tokens=2_000, completion_tokens=100, cost=0.0123)
    for index in range(3):
        kit.gateway.complete(_request(text=f"prompt {index}"))
    kit.gateway.complete(_request(models=["fallback-b"]))
    expected = 3 * (1_000 * 1.0 + 500 * 2.0) / 1e6 + 0.0123  # usage.cost wins when reported
    assert spend_totals(kit.gateway.ledger)[0] == pytest.approx(expected)
    by_model = {row.name: row for row in kit.gateway.ledger.usage_by_model()}
    assert by_model["primary-a"].cost_usd == pytest.approx(0.006)
    assert (by_model["fallback-b"].input_tokens, by_model["fallback-b"].output_tokens) == (
        2000,
        100,
    )


def test_critical_gets_the_top_model_with_no_budget_left(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(
        openai_server, tmp_path, env={"DAILY_LLM_BUDGET": "0.01", "LLM_OVER_BUDGET_POLICY": "skip"}
    )
    kit.gateway.ledger.record(LedgerEntry("narrative_analysis", "m", "m", cost_usd=0.02))
    with pytest.raises(LLMSkippedError):
        kit.gateway.complete(_request())
    response = kit.gateway.complete(_request(Task.TRADE_EXECUTION, high_volume=True))
    assert response.model_served == "top-x"
    assert response.cost_usd == pytest.approx((100 * 10.0 + 20 * 50.0) / 1e6)
    assert openai_server.models_called() == ["top-x"]


def test_budget_alert_fires_exactly_once_at_80_percent(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    env = {"DAILY_LLM_BUDGET": "1", "ALERT_THRESHOLD": "0.8"}
    kit = GatewayKit.build(openai_server, tmp_path, env=env)
    openai_server.configure("primary-a", cost=0.25)
    openai_server.configure("cheap-c", cost=0.01)
    for index in range(3):
        kit.gateway.complete(_request(text=f"prompt {index}"))
    assert kit.alerts == []  # $0.75 of $1
    kit.gateway.complete(_request(text="prompt 3"))  # $1.00: crosses 80%
    assert [(a.period.value, a.spent_usd) for a in kit.alerts] == [("daily", 1.0)]
    over = kit.gateway.complete(_request(text="prompt 4"))  # spent: the cheapest model serves
    assert over.model_served == "cheap-c"
    assert len(kit.alerts) == 1

    restarted = GatewayKit.build(openai_server, tmp_path, env=env, clock=kit.clock)
    assert restarted.gateway.budget.status().spent_today_usd == pytest.approx(1.01)
    restarted.gateway.complete(_request(text="prompt 5"))
    assert restarted.alerts == []  # the day's alert was already given before the restart


def test_cache_hit_sends_nothing_and_costs_nothing(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    first = kit.gateway.complete(_request())
    second = kit.gateway.complete(_request())
    assert len(openai_server.requests) == 1
    assert second.cache_hit and second.cost_usd == 0.0
    assert second.content == first.content
    assert [row.cache_hit for row in ledger_rows(kit.settings.ledger_path)] == [False, True]
    assert kit.gateway.ledger.cache_hit_rate() == pytest.approx(0.5)
    # Another template version, schema or prompt is another entry.
    kit.gateway.complete(_request(template_version="v2"))
    kit.gateway.complete(_request(text="other news"))
    assert len(openai_server.requests) == 3
    kit.seconds.advance(kit.settings.cache_ttl_s + 1)  # expired: asked again
    kit.gateway.complete(_request())
    assert len(openai_server.requests) == 4


class Verdict(BaseModel):
    signal: float
    reasoning: str


def test_structured_output_is_requested_where_the_model_supports_it(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda body: json.dumps({"signal": 0.5, "reasoning": "up"})
    kit = GatewayKit.build(openai_server, tmp_path)
    response = kit.gateway.complete(_request(response_schema=Verdict))
    assert Verdict.model_validate_json(response.content).signal == 0.5
    sent = openai_server.requests[0].body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"] == Verdict.model_json_schema()
    kit.gateway.complete(_request(response_schema=Verdict, models=["fallback-b"]))
    assert "response_format" not in openai_server.requests[1].body  # no structured output


def test_replay_serves_only_from_the_cache(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    recording = GatewayKit.build(openai_server, tmp_path)
    recorded = recording.gateway.complete(_request())
    recording.gateway.close()

    replay = GatewayKit.build(openai_server, tmp_path, env={"LLM_CACHE_MODE": "replay"})
    replay.seconds.advance(10 * replay.settings.cache_ttl_s)  # replay ignores the TTL
    again = replay.gateway.complete(_request())
    assert (again.content, again.cache_hit, again.cost_usd) == (recorded.content, True, 0.0)
    with pytest.raises(ReplayMissError, match="replay mode"):
        replay.gateway.complete(_request(text="never asked before"))
    assert len(openai_server.requests) == 1
    assert isinstance(ReplayMissError("x"), LLMCallError)


def test_every_model_failing_lists_each_reason(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    openai_server.configure("primary-a", always=Fault.server_error())
    openai_server.configure("fallback-b", always=Fault.invalid_json())
    with pytest.raises(LLMCallError) as error:
        kit.gateway.complete(_request())
    message = str(error.value)
    assert "primary-a: server_error: HTTP 500: upstream failure (2 requests)" in message
    assert "fallback-b: invalid_response" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_parallel_calls_are_all_charged(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    openai_server.configure("primary-a", latency_s=0.02)
    responses = []

    def call(index: int) -> None:
        responses.append(kit.gateway.complete(_request(text=f"prompt {index}")))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(responses) == 8
    assert spend_totals(kit.gateway.ledger)[0] == pytest.approx(8 * PRIMARY_A_COST)


def test_simple_complexity_uses_the_small_model(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    response = kit.gateway.complete(_request(complexity=Complexity.SIMPLE))
    assert response.model_served == "cheap-c"
    assert response.cost_usd == pytest.approx((100 * 0.1 + 20 * 0.2) / 1e6)


def _offline_settings(directory: Path) -> LLMSettings:
    files = {"LLM_LEDGER_PATH": directory / "l.sqlite", "LLM_CACHE_PATH": directory / "c.sqlite"}
    return load_settings({k: str(v) for k, v in files.items()}, env_file=None)


class _Broken(FakeListChatModel):
    def _call(self, *args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug, not a model failure")


def test_any_chat_model_factory_serves_the_offline_stack(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path)
    answers = FakeListChatModel(responses=['{"signal": 0.1}'])
    factory_calls: list[str] = []

    def factory(spec: ModelSpec) -> FakeListChatModel:
        factory_calls.append(spec.id)
        return answers

    with Gateway.open(settings, stack=ModelStack.offline(), chat_model_factory=factory) as gateway:
        response = gateway.complete(_request(Task.TRADE_EXECUTION))
        assert (response.model_served, response.cost_usd) == (OFFLINE_MODEL_ID, 0.0)
        assert response.content == '{"signal": 0.1}'
        assert factory_calls == [OFFLINE_MODEL_ID]


def test_an_unexpected_exception_is_recorded_and_propagates(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path)
    broken = _Broken(responses=["unused"])
    with Gateway.open(
        settings, stack=ModelStack.offline(), chat_model_factory=lambda spec: broken
    ) as gateway:
        with pytest.raises(RuntimeError, match="a bug"):
            gateway.complete(_request())
        (row,) = ledger_rows(settings.ledger_path)
        assert row.error == "unexpected RuntimeError"
