"""LLM settings: resolution order of endpoints, .env handling, loud errors, masked keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm import LLMConfigError, LLMSettings, load_model_stack, load_settings
from llm.gateway.clients import EndpointKind, check_every_task_served, resolve_endpoint
from llm.gateway.settings import OPENROUTER_BASE_URL, TETRATE_BASE_URL, CacheMode, OverBudgetPolicy
from tests.gateway_helpers import TEST_KEY

STACK = load_model_stack()
DEEPSEEK = STACK.model("deepseek/deepseek-chat-v3-0324")
QWEN_SMALL = STACK.model("qwen/qwen-2.5-7b-instruct")


def _endpoint(env: dict[str, str], spec=DEEPSEEK):
    return resolve_endpoint(load_settings(env, env_file=None), spec)


def test_defaults_without_any_variable() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.daily_budget_usd == 5.0
    assert settings.monthly_budget_usd == 100.0
    assert settings.alert_threshold == 0.8
    assert settings.over_budget_policy is OverBudgetPolicy.CHEAPEST
    assert settings.cache_mode is CacheMode.READ_WRITE
    assert settings.secret_values() == []


def test_gateway_comes_first_then_openrouter_then_direct_keys() -> None:
    everything = {
        "LLM_GATEWAY_BASE_URL": "https://gw.example/v1/",
        "LLM_GATEWAY_API_KEY": "gw-key-1234",
        "OPENROUTER_API_KEY": "or-key-1234",
        "DEEPSEEK_API_KEY": "ds-key-1234",
    }
    gateway = _endpoint(everything)
    assert gateway.kind is EndpointKind.GATEWAY
    assert gateway.base_url == "https://gw.example/v1"
    assert gateway.api_key.get_secret_value() == "gw-key-1234"
    assert gateway.model_id == DEEPSEEK.id

    no_gateway = {k: v for k, v in everything.items() if not k.startswith("LLM_GATEWAY")}
    openrouter = _endpoint(no_gateway)
    assert (openrouter.kind, openrouter.base_url) == (EndpointKind.OPENROUTER, OPENROUTER_BASE_URL)
    assert openrouter.supports_fallback_list

    direct = _endpoint({"DEEPSEEK_API_KEY": "ds-key-1234"})
    assert direct.kind is EndpointKind.DIRECT
    assert (direct.base_url, direct.model_id) == ("https://api.deepseek.com/v1", "deepseek-chat")
    assert direct.api_key.get_secret_value() == "ds-key-1234"
    assert not direct.supports_fallback_list


def test_tetrate_key_is_a_gateway_key() -> None:
    with_url = _endpoint(
        {"LLM_GATEWAY_BASE_URL": "https://gw.example/v1", "TETRATE_API_KEY": "tt-key-1234"}
    )
    assert with_url.kind is EndpointKind.GATEWAY
    assert with_url.api_key.get_secret_value() == "tt-key-1234"
    alone = _endpoint({"TETRATE_API_KEY": "tt-key-1234"})
    assert (alone.kind, alone.base_url) == (EndpointKind.GATEWAY, TETRATE_BASE_URL)


def test_direct_key_serves_only_models_of_that_provider() -> None:
    with pytest.raises(LLMConfigError, match="DASHSCOPE_API_KEY"):
        _endpoint({"DEEPSEEK_API_KEY": "ds-key-1234"}, spec=QWEN_SMALL)


def test_gateway_mode_without_key_names_the_variables() -> None:
    settings = load_settings({}, env_file=None)
    with pytest.raises(LLMConfigError) as error:
        check_every_task_served(settings, STACK)
    message = str(error.value)
    for variable in ("LLM_GATEWAY_BASE_URL", "LLM_GATEWAY_API_KEY", "TETRATE_API_KEY"):
        assert variable in message
    assert "OPENROUTER_API_KEY" in message


def test_half_configured_gateway_fails_loudly() -> None:
    with pytest.raises(LLMConfigError, match="LLM_GATEWAY_API_KEY"):
        load_settings({"LLM_GATEWAY_BASE_URL": "https://gw.example/v1"}, env_file=None)
    with pytest.raises(LLMConfigError, match="LLM_GATEWAY_BASE_URL"):
        load_settings({"LLM_GATEWAY_API_KEY": "gw-key-1234"}, env_file=None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DAILY_LLM_BUDGET", "lots"),
        ("MONTHLY_LLM_BUDGET", "-1"),
        ("ALERT_THRESHOLD", "1.5"),
        ("ALERT_THRESHOLD", "0"),
        ("LLM_CACHE_MODE", "sometimes"),
        ("LLM_OVER_BUDGET_POLICY", "panic"),
        ("LLM_TIMEOUT_S", "0"),
        ("LLM_MAX_ATTEMPTS", "0"),
        ("LLM_GATEWAY_BASE_URL", "gw.example"),
        ("LLM_MODEL_STACK", "/no/such/stack.toml"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(LLMConfigError, match=variable):
        load_settings({variable: value, "LLM_GATEWAY_API_KEY": "gw-key-1234"}, env_file=None)


def test_env_file_is_read_and_process_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DAILY_LLM_BUDGET=2.5\nMONTHLY_LLM_BUDGET=40\nOPENROUTER_API_KEY=\nALERT_THRESHOLD=0.5\n"
    )
    settings = load_settings({"MONTHLY_LLM_BUDGET": "60"}, env_file=env_file)
    assert settings.daily_budget_usd == 2.5  # from the file
    assert settings.monthly_budget_usd == 60.0  # the environment wins
    assert settings.alert_threshold == 0.5
    assert settings.openrouter_api_key is None  # an empty value is unset


def test_keys_never_appear_in_repr_or_errors() -> None:
    settings = load_settings(
        {"OPENROUTER_API_KEY": TEST_KEY, "DEEPSEEK_API_KEY": TEST_KEY + "-ds"}, env_file=None
    )
    assert TEST_KEY not in repr(settings)
    assert TEST_KEY not in str(settings.model_dump())
    assert TEST_KEY not in repr(resolve_endpoint(settings, DEEPSEEK))
    assert sorted(settings.secret_values()) == [TEST_KEY, TEST_KEY + "-ds"]


def test_blank_values_are_unset_and_values_are_stripped(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DEEPSEEK_API_KEY=ds-from-file\nLLM_TIMEOUT_S=7\n")
    settings = load_settings(
        {"DAILY_LLM_BUDGET": " 3 ", "LLM_CACHE_MODE": "   ", "DASHSCOPE_API_KEY": " "},
        env_file=env_file,
    )
    assert settings.daily_budget_usd == 3.0
    assert settings.cache_mode is CacheMode.READ_WRITE  # blank: the default
    assert settings.timeout_s == 7.0
    assert list(settings.provider_keys) == ["DEEPSEEK_API_KEY"]  # from the file; blank skipped
    assert settings.provider_keys["DEEPSEEK_API_KEY"].get_secret_value() == "ds-from-file"
    assert settings.model_fields_set == {"daily_budget_usd", "timeout_s", "provider_keys"}


def test_given_variables_replace_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("DEEPSEEK_API_KEY", TEST_KEY)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert load_settings({}).secret_values() == []
    assert sorted(load_settings().secret_values()) == [TEST_KEY, TEST_KEY]
    assert LLMSettings().openrouter_api_key is not None  # pydantic-settings reads it alone too


def test_a_half_configured_gateway_never_quotes_a_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLM_GATEWAY_API_KEY", TEST_KEY)
    monkeypatch.delenv("LLM_GATEWAY_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LLMConfigError, match="LLM_GATEWAY_BASE_URL") as error:
        LLMSettings()  # not only through load_settings: pydantic's own error would quote the key
    assert TEST_KEY not in str(error.value)
