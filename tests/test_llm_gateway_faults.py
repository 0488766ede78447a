"""The retry loop against programmed server faults, through the real ChatOpenAI client.

Sleeps are injected (recorded, not waited), timeouts are 0.5 s, so the file stays fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from llm import LLMRequest, Task
from llm.gateway.types import LLMGatewayDownError
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import GatewayKit
from tests.llm_helpers import ledger_rows

REQUEST = LLMRequest(Task.NARRATIVE_ANALYSIS, [HumanMessage("what moved the market?")])


@pytest.fixture
def kit(openai_server: FakeOpenAIServer, tmp_path: Path) -> GatewayKit:
    return GatewayKit.build(openai_server, tmp_path, env={"LLM_CACHE_MODE": "off"})


def _errors(kit: GatewayKit) -> list[str | None]:
    return [row.error for row in ledger_rows(kit.settings.ledger_path)]


def test_429_waits_for_retry_after_then_retries(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script("primary-a", Fault.rate_limited(retry_after=3))
    response = kit.gateway.complete(REQUEST)
    assert response.model_served == "primary-a"
    assert kit.sleeps == [3.0]  # the server's Retry-After, not our backoff
    assert openai_server.models_called() == ["primary-a", "primary-a"]
    assert _errors(kit) == ["rate_limited: HTTP 429: rate limited", None]


def test_429_asking_longer_than_the_cap_falls_back_at_once(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script("primary-a", Fault.rate_limited(retry_after=600))  # cap is 5 s
    response = kit.gateway.complete(REQUEST)
    assert response.model_served == "fallback-b"
    assert kit.sleeps == []
    assert openai_server.models_called() == ["primary-a", "fallback-b"]


def test_429_without_retry_after_uses_the_backoff(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script("primary-a", Fault.rate_limited(retry_after=None))
    kit.gateway.complete(REQUEST)
    assert kit.sleeps == [0.25]


def test_500_retries_then_falls_back(kit: GatewayKit, openai_server: FakeOpenAIServer) -> None:
    openai_server.configure("primary-a", always=Fault.server_error())
    assert kit.gateway.complete(REQUEST).model_served == "fallback-b"
    assert openai_server.models_called() == ["primary-a", "primary-a", "fallback-b"]
    assert kit.sleeps == [0.25]


def test_one_500_then_success_stays_on_the_model(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script("primary-a", Fault.server_error())
    assert kit.gateway.complete(REQUEST).model_served == "primary-a"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.slow(2.0), "timeout"),
        (Fault.invalid_json(), "invalid_response"),
        (Fault.drop(), "connection"),
    ],
)
def test_transient_faults_retry_then_fall_back(
    kit: GatewayKit, openai_server: FakeOpenAIServer, fault: Fault, kind: str
) -> None:
    openai_server.configure("primary-a", always=fault)
    response = kit.gateway.complete(REQUEST)
    assert response.model_served == "fallback-b"
    assert openai_server.models_called() == ["primary-a", "primary-a", "fallback-b"]
    errors = _errors(kit)
    assert [e.split(":")[0] for e in errors[:2] if e] == [kind, kind]
    assert errors[2] is None


def test_401_is_not_retried_and_stops_the_run_at_once(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.configure("primary-a", always=Fault.unauthorized())
    with pytest.raises(LLMGatewayDownError) as error:
        kit.gateway.complete(REQUEST)
    assert openai_server.models_called() == ["primary-a"]  # one request in all
    assert kit.sleeps == []
    assert "refused us (primary-a: auth: HTTP 401" in str(error.value)


def test_context_length_error_goes_to_the_long_context_model(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.configure("primary-a", always=Fault.context_length())
    response = kit.gateway.complete(REQUEST)
    assert response.model_served == "long-l"
    assert openai_server.models_called() == ["primary-a", "long-l"]  # not retried, not b
    assert _errors(kit)[0].startswith("context_length: HTTP 400: This model's maximum context")


def test_critical_context_length_error_stays_on_its_own_chain(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    openai_server.configure("top-x", always=Fault.context_length())
    critical = LLMRequest(Task.TRADE_EXECUTION, REQUEST.messages)
    assert kit.gateway.complete(critical).model_served == "primary-a"  # its configured fallback
    assert openai_server.models_called() == ["top-x", "primary-a"]


def test_a_failing_model_cools_down_and_comes_back(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    env = {"LLM_CACHE_MODE": "off", "LLM_COOLDOWN_FAILURES": "2", "LLM_COOLDOWN_S": "60"}
    kit = GatewayKit.build(openai_server, tmp_path, env=env)
    openai_server.configure("primary-a", always=Fault.server_error())
    kit.gateway.complete(REQUEST)  # two failures in a row: primary-a cools for 60 s
    openai_server.reset_log()
    kit.gateway.complete(REQUEST)
    assert openai_server.models_called() == ["fallback-b"]  # not even tried

    openai_server.clear_fault("primary-a")
    kit.seconds.advance(61)
    openai_server.reset_log()
    assert kit.gateway.complete(REQUEST).model_served == "primary-a"
    assert openai_server.models_called() == ["primary-a"]


def test_an_answer_trickled_a_byte_at_a_time_times_out_as_a_whole(
    kit: GatewayKit, openai_server: FakeOpenAIServer
) -> None:
    """Each byte comes well within the 0.5 s timeout, the whole answer would take a minute:
    the attempt is a timeout after about 0.5 s (it used to wait for the last byte)."""
    openai_server.configure("primary-a", always=Fault.trickle(0.1))
    assert kit.gateway.complete(REQUEST).model_served == "fallback-b"
    errors = _errors(kit)
    assert [e.split(":")[0] for e in errors[:2] if e] == ["timeout", "timeout"]
