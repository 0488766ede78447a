"""Typed configuration of the LLM side: pydantic-settings over the environment and a `.env` file.

Each field is read from the environment variable its alias names (`DAILY_LLM_BUDGET`, ...);
variables set in the process environment win over the `.env` file, and an empty or blank value
counts as unset (so a `.env` template with `OPENROUTER_API_KEY=` does not count as a key). Every
value is validated once, here: `load_settings` turns a bad one into an `LLMConfigError` naming the
variable, instead of a strange routing decision later. API keys are `SecretStr`: they never appear
in a repr, a log line or an error message (a bad key value is never echoed).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from llm.gateway.types import LLMConfigError

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
TETRATE_BASE_URL = "https://api.router.tetrate.ai/v1"  # Tetrate Agent Router Service (TARS)
DEFAULT_LEDGER_PATH = Path("runs/llm/ledger.sqlite")
DEFAULT_CACHE_PATH = Path("runs/llm/cache.sqlite")

LLMMode = Literal["offline", "gateway"]
"""Who answers the analysts: the deterministic offline analyst, or real models through the
gateway (`llm.build_analyst_team`)."""
LLM_MODES: tuple[LLMMode, ...] = ("offline", "gateway")

_NAMED_KEYS = frozenset({"LLM_GATEWAY_API_KEY", "TETRATE_API_KEY", "OPENROUTER_API_KEY"})
_PROVIDER_KEY_SUFFIX = "_API_KEY"


class OverBudgetPolicy(StrEnum):
    """What a non-critical call does once a budget is spent."""

    CHEAPEST = "cheapest"  # serve it with the cheapest model able to take the input
    SKIP = "skip"  # raise LLMSkippedError; the caller carries on without the answer


class CacheMode(StrEnum):
    """How the response cache is used."""

    OFF = "off"
    READ_WRITE = "read_write"  # serve hits, store new answers
    REPLAY = "replay"  # serve only from the cache; a miss is an error (free, reproducible re-runs)


class LLMSettings(BaseSettings):
    """Validated LLM configuration; units are in the field names, variable names in the aliases.

    `LLMSettings()` reads the process environment over `.env`; `load_settings()` does the same
    (or reads a given mapping instead of the environment) and reports bad values as
    `LLMConfigError`. `provider_keys` holds every other `*_API_KEY` variable, so that a
    model-stack entry can name the direct provider key it needs (for example `DEEPSEEK_API_KEY`).
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        case_sensitive=True,
        extra="ignore",  # the environment holds much else
        frozen=True,
    )

    gateway_base_url: str | None = Field(default=None, alias="LLM_GATEWAY_BASE_URL")
    gateway_api_key: SecretStr | None = Field(default=None, alias="LLM_GATEWAY_API_KEY")
    tetrate_api_key: SecretStr | None = Field(default=None, alias="TETRATE_API_KEY")
    openrouter_api_key: SecretStr | None = Field(default=None, alias="OPENROUTER_API_KEY")
    openrouter_base_url: str = Field(default=OPENROUTER_BASE_URL, alias="OPENROUTER_BASE_URL")
    provider_keys: dict[str, SecretStr] = Field(default_factory=dict)

    daily_budget_usd: float = Field(default=5.0, ge=0, alias="DAILY_LLM_BUDGET")
    monthly_budget_usd: float = Field(default=100.0, ge=0, alias="MONTHLY_LLM_BUDGET")
    alert_threshold: float = Field(default=0.8, gt=0, le=1, alias="ALERT_THRESHOLD")
    over_budget_policy: OverBudgetPolicy = Field(
        default=OverBudgetPolicy.CHEAPEST, alias="LLM_OVER_BUDGET_POLICY"
    )

    ledger_path: Path = Field(default=DEFAULT_LEDGER_PATH, alias="LLM_LEDGER_PATH")
    cache_path: Path = Field(default=DEFAULT_CACHE_PATH, alias="LLM_CACHE_PATH")
    cache_mode: CacheMode = Field(default=CacheMode.READ_WRITE, alias="LLM_CACHE_MODE")
    cache_ttl_s: float = Field(default=30 * 24 * 3600.0, gt=0, alias="LLM_CACHE_TTL_S")
    model_stack_path: Path | None = Field(default=None, alias="LLM_MODEL_STACK")

    timeout_s: float = Field(default=60.0, gt=0, alias="LLM_TIMEOUT_S")
    # One call's retries and fallbacks start no new attempt after this many seconds.
    call_deadline_s: float = Field(default=180.0, gt=0, alias="LLM_CALL_DEADLINE_S")
    # This many calls of one task in a row with every model failed stop the run.
    breaker_failures: int = Field(default=3, ge=1, alias="LLM_BREAKER_FAILURES")
    max_attempts_per_model: int = Field(default=2, ge=1, alias="LLM_MAX_ATTEMPTS")
    backoff_base_s: float = Field(default=0.5, ge=0, alias="LLM_BACKOFF_BASE_S")
    max_backoff_s: float = Field(default=20.0, ge=0, alias="LLM_MAX_BACKOFF_S")
    cooldown_failures: int = Field(default=3, ge=1, alias="LLM_COOLDOWN_FAILURES")
    cooldown_s: float = Field(default=300.0, ge=0, alias="LLM_COOLDOWN_S")
    # The hard output limit sent with every call; calls are priced at the expected length.
    max_output_tokens: int = Field(default=1024, ge=1, alias="LLM_MAX_OUTPUT_TOKENS")
    expected_output_tokens: int = Field(default=400, ge=1, alias="LLM_EXPECTED_OUTPUT_TOKENS")
    temperature: float = Field(default=0.0, ge=0, le=2, alias="LLM_TEMPERATURE")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the `.env` file, then the provider keys found
        in either; inside `load_settings`, the environment and file it was given."""
        reading = _READING.get()
        environment = _Environment(settings_cls, None if reading is None else reading.environ)
        if reading is not None:
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=reading.env_file)
        return (
            init_settings,
            environment,
            dotenv_settings,
            _ProviderKeys(settings_cls, environment, dotenv_settings),
        )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """Values are stripped; a blank one is left out, so the field keeps its default."""
        if not isinstance(data, Mapping):
            return data
        return {
            name: value.strip() if isinstance(value, str) else value
            for name, value in data.items()
            if not (isinstance(value, str) and not value.strip())
        }

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

    @model_validator(mode="after")
    def _gateway_complete(self) -> Self:
        """A gateway needs both its base URL and a key. Raised as LLMConfigError, which pydantic
        lets through: its own error would quote every input, keys included."""
        if self.gateway_base_url and self.resolved_gateway_key is None:
            raise LLMConfigError(
                "LLM_GATEWAY_BASE_URL is set but no gateway key is: set LLM_GATEWAY_API_KEY "
                "(or TETRATE_API_KEY)"
            )
        if self.gateway_api_key and not self.gateway_base_url:
            raise LLMConfigError(
                "LLM_GATEWAY_API_KEY is set but LLM_GATEWAY_BASE_URL is not: set the gateway's "
                "OpenAI-compatible base URL"
            )
        return self

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


@dataclass(frozen=True)
class _Reading:
    """What `load_settings` reads: `environ` in place of the process environment (when not
    None), and `env_file` (None: no file)."""

    environ: Mapping[str, str] | None
    env_file: Path | None


_READING: ContextVar[_Reading | None] = ContextVar("llm_settings_reading", default=None)
"""Set by `load_settings` while it builds the settings: `settings_customise_sources` is a
class method, and this is how one call's environment and file reach it."""


class _Environment(EnvSettingsSource):
    """The process environment, or the mapping `load_settings` was given in its place."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self._environ is None:
            return super()._load_env_vars()
        return {name: value for name, value in self._environ.items() if value}


class _ProviderKeys(PydanticBaseSettingsSource):
    """Every `*_API_KEY` variable other than the gateway's and OpenRouter's, as `provider_keys`;
    the environment wins over `.env`."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        *sources: PydanticBaseSettingsSource,  # highest priority first
    ) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value comes from __call__

    def __call__(self) -> dict[str, Any]:
        keys: dict[str, str] = {}
        for source in reversed(self._sources):
            if isinstance(source, EnvSettingsSource):  # the .env file's source is one too
                keys.update(
                    (name, value.strip())
                    for name, value in source.env_vars.items()
                    if name.endswith(_PROVIDER_KEY_SUFFIX)
                    and name not in _NAMED_KEYS
                    and value is not None
                    and value.strip()
                )
        return {"provider_keys": keys} if keys else {}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> LLMSettings:
    """Read settings from `environ` (default: the process environment) over `env_file`.

    Raises LLMConfigError naming the variable when a value is invalid.
    """
    token = _READING.set(_Reading(environ, env_file))
    try:
        return LLMSettings()
    except ValidationError as exc:
        raise LLMConfigError(_describe(exc)) from None
    except SettingsError as exc:  # a value pydantic-settings could not even parse
        raise LLMConfigError(f"invalid LLM configuration: {exc}") from None
    finally:
        _READING.reset(token)


def _describe(exc: ValidationError) -> str:
    """One line per invalid variable; values of key variables are never echoed."""
    problems = []
    for error in exc.errors(include_url=False):
        variable = str(error["loc"][0])
        secret = variable.endswith(_PROVIDER_KEY_SUFFIX) or variable == "provider_keys"
        shown = "" if secret else f" (got {error.get('input')!r})"
        problems.append(f"{variable}: {error['msg']}{shown}")
    return "invalid LLM configuration: " + "; ".join(problems)
