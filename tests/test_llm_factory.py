"""build_analyst_team: offline by default without keys, the real stack over HTTP with one."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm import Action, LLMConfigError, build_analyst_team, load_model_stack, load_settings
from llm.gateway.model_stack import OFFLINE_MODEL_ID
from llm.team.build import default_mode
from llm.testing.offline_responder import offline_responder
from llm.testing.openai_server import FakeOpenAIServer
from tests.gateway_helpers import TEST_KEY
from tests.llm_helpers import trend_snapshot


def _files(tmp_path: Path) -> dict[str, str]:
    return {
        "LLM_LEDGER_PATH": str(tmp_path / "ledger.sqlite"),
        "LLM_CACHE_PATH": str(tmp_path / "cache.sqlite"),
    }


def test_offline_is_the_default_without_keys(tmp_path: Path) -> None:
    settings = load_settings(_files(tmp_path), env_file=None)
    assert default_mode(settings, load_model_stack()) == "offline"
    with build_analyst_team(settings=settings) as team:
        decision = team.decide(trend_snapshot(0.004))
        usage = team.gateway.ledger.usage_by_model()  # type: ignore[attr-defined]
    assert decision.action is Action.BUY
    assert decision.models == [OFFLINE_MODEL_ID] and decision.cost_usd == 0.0
    assert [(u.name, u.calls, u.cost_usd) for u in usage] == [(OFFLINE_MODEL_ID, 4, 0.0)]
    assert not (tmp_path / "cache.sqlite").exists()  # offline answers are not cached


def test_gateway_mode_without_a_key_names_the_variables(tmp_path: Path) -> None:
    settings = load_settings(_files(tmp_path), env_file=None)
    with pytest.raises(LLMConfigError, match="OPENROUTER_API_KEY") as caught:
        build_analyst_team("gateway", settings=settings)
    assert "--llm offline" in str(caught.value)


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    settings = load_settings(_files(tmp_path), env_file=None)
    with pytest.raises(LLMConfigError, match="LLM mode must be one of"):
        build_analyst_team("paper", settings=settings)  # type: ignore[arg-type]


def test_gateway_mode_serves_the_default_stack_over_http(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = offline_responder
    env = {
        **_files(tmp_path),
        "OPENROUTER_API_KEY": TEST_KEY,
        "OPENROUTER_BASE_URL": openai_server.base_url,
    }
    settings = load_settings(env, env_file=None)
    assert default_mode(settings, load_model_stack()) == "gateway"
    with build_analyst_team(settings=settings) as team:
        decision = team.decide(trend_snapshot(0.004))
    assert decision.action is Action.BUY
    assert decision.models == [
        "deepseek/deepseek-chat-v3-0324",  # narrative and meta, listed once
        "qwen/qwen-2.5-7b-instruct",  # data (the small model)
        "qwen/qwen2.5-vl-72b-instruct",  # chart (vision)
    ]
    assert decision.cost_usd > 0
    assert len(openai_server.requests) == 4
