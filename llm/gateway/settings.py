"""Typed configuration of the LLM side, read from environment variables and a `.env` file.

Every value is validated once, here, so that a typo fails loudly with the variable's name instead
of surfacing later as a strange routing decision. API keys are held as `SecretStr`: they never
appear in a repr, a log line or an error message (a bad key value is never echoed).

Variables set in the process environment win over the `.env` file; an empty value counts as unset
(so a `.env` template with `OPENROUTER_API_KEY=` does not count as a key).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from llm.gateway.types import LLMConfigError

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
TETRATE_BASE_URL = "https://api.router.tetrate.ai/v1"  # Tetrate Agent Router Service (TARS)
DEFAULT_LEDGER_PATH = Path("runs/llm/ledger.sqlite")
DEFAULT_CACHE_PATH = Path("runs/llm/cache.sqlite")

GATEWAY_KEY_VARIABLES = ("LLM_GATEWAY_API_KEY", "TETRATE_API_KEY")


class OverBudgetPolicy(StrEnum):
    """What a non-critical call does once a budget is spent."""

    CHEAPEST = "cheapest"  # serve it with the cheapest model able to take the input
    SKIP = "skip"  # raise LLMSkippedError; the caller carries on without the answer


class CacheMode(StrEnum):
    """How the response cache is used."""

    OFF = "off"
    READ_WRITE = "read_write"  # serve hits, store new answers
    REPLAY = "replay"  # serve only from the cache; a miss is an error (free, reproducible re-runs)


# Environment variable -> settings field, for every plain (non-key) setting.
_FIELD_BY_VARIABLE: dict[str, str] = {
    "LLM_GATEWAY_BASE_URL": "gateway_base_url",
    "OPENROUTER_BASE_URL": "openrouter_base_url",
    "DAILY_LLM_BUDGET": "daily_budget_usd",
    "MONTHLY_LLM_BUDGET": "monthly_budget_usd",
    "ALERT_THRESHOLD": "alert_threshold",
    "LLM_OVER_BUDGET_POLICY": "over_budget_policy",
    "LLM_LEDGER_PATH": "ledger_path",
    "LLM_CACHE_PATH": "cache_path",
    "LLM_CACHE_MODE": "cache_mode",
    "LLM_CACHE_TTL_S": "cache_ttl_s",
    "LLM_MODEL_STACK": "model_stack_path",
    "LLM_TIMEOUT_S": "timeout_s",
    "LLM_MAX_ATTEMPTS": "max_attempts_per_model",
    "LLM_BACKOFF_BASE_S": "backoff_base_s",
    "LLM_MAX_BACKOFF_S": "max_backoff_s",
    "LLM_COOLDOWN_FAILURES": "cooldown_failures",
    "LLM_COOLDOWN_S": "cooldown_s",
    "LLM_MAX_OUTPUT_TOKENS": "max_output_tokens",
    "LLM_TEMPERATURE": "temperature",
}
_SECRET_FIELD_BY_VARIABLE: dict[str, str] = {
    "LLM_GATEWAY_API_KEY": "gateway_api_key",
    "TETRATE_API_KEY": "tetrate_api_key",
    "OPENROUTER_API_KEY": "openrouter_api_key",
}
_VARIABLE_BY_FIELD = {
    field: variable
    for variable, field in {**_FIELD_BY_VARIABLE, **_SECRET_FIELD_BY_VARIABLE}.items()
}
_PROVIDER_KEY_SUFFIX = "_API_KEY"


class LLMSettings(BaseModel):
    """Validated LLM configuration. Build it with `load_settings()`; units are in the field names.

    `provider_keys` holds every other `*_API_KEY` variable, so that a model-stack entry can name
    the direct provider key it needs (for example `DEEPSEEK_API_KEY`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gateway_base_url: str | None = None
    gateway_api_key: SecretStr | None = None
    tetrate_api_key: SecretStr | None = None
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = OPENROUTER_BASE_URL
    provider_keys: dict[str, SecretStr] = Field(default_factory=dict)

    daily_budget_usd: float = Field(default=5.0, ge=0)
    monthly_budget_usd: float = Field(default=100.0, ge=0)
    alert_threshold: float = Field(default=0.8, gt=0, le=1)
    over_budget_policy: OverBudgetPolicy = OverBudgetPolicy.CHEAPEST

    ledger_path: Path = DEFAULT_LEDGER_PATH
    cache_path: Path = DEFAULT_CACHE_PATH
    cache_mode: CacheMode = CacheMode.READ_WRITE
    cache_ttl_s: float = Field(default=30 * 24 * 3600.0, gt=0)
    model_stack_path: Path | None = None

    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts_per_model: int = Field(default=2, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=20.0, ge=0)
    cooldown_failures: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=300.0, ge=0)
    max_output_tokens: int = Field(default=2048, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)

    @field_validator("gateway_base_url", "openrouter_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value is not None else None

    @field_validator("model_stack_path")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @property
    def resolved_gateway_key(self) -> SecretStr | None:
        """LLM_GATEWAY_API_KEY, else TETRATE_API_KEY."""
        return self.gateway_api_key or self.tetrate_api_key

    @property
    def resolved_gateway_base_url(self) -> str | None:
        """LLM_GATEWAY_BASE_URL; with only TETRATE_API_KEY set, Tetrate's own endpoint."""
        if self.gateway_base_url:
            return self.gateway_base_url
        return TETRATE_BASE_URL if self.tetrate_api_key and not self.gateway_api_key else None

    def secret_values(self) -> list[str]:
        """Every configured key in clear, for scrubbing text before it is logged or stored."""
        keys = [self.gateway_api_key, self.tetrate_api_key, self.openrouter_api_key]
        keys.extend(self.provider_keys.values())
        return [key.get_secret_value() for key in keys if key is not None]


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> LLMSettings:
    """Read settings from `environ` (default: the process environment) over `env_file`.

    Raises LLMConfigError naming the variable when a value is invalid.
    """
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    values = {name: value.strip() for name, value in merged.items() if value.strip()}

    data: dict[str, Any] = {}
    for variable, field in {**_FIELD_BY_VARIABLE, **_SECRET_FIELD_BY_VARIABLE}.items():
        if variable in values:
            data[field] = values[variable]
    data["provider_keys"] = {
        name: value
        for name, value in values.items()
        if name.endswith(_PROVIDER_KEY_SUFFIX) and name not in _SECRET_FIELD_BY_VARIABLE
    }
    try:
        settings = LLMSettings.model_validate(data)
    except ValidationError as exc:
        raise LLMConfigError(_describe(exc)) from None
    if settings.gateway_base_url and settings.resolved_gateway_key is None:
        raise LLMConfigError(
            "LLM_GATEWAY_BASE_URL is set but no gateway key is: set LLM_GATEWAY_API_KEY "
            "(or TETRATE_API_KEY)"
        )
    if settings.gateway_api_key and not settings.gateway_base_url:
        raise LLMConfigError(
            "LLM_GATEWAY_API_KEY is set but LLM_GATEWAY_BASE_URL is not: set the gateway's "
            "OpenAI-compatible base URL"
        )
    return settings


def _describe(exc: ValidationError) -> str:
    """One line per invalid variable; values of secret variables are never echoed."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = _VARIABLE_BY_FIELD.get(field, field)
        shown = "" if "key" in field else f" (got {error.get('input')!r})"
        problems.append(f"{variable}: {error['msg']}{shown}")
    return "invalid LLM configuration: " + "; ".join(problems)
