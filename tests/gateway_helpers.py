"""Builds a real `Gateway` wired to a `FakeOpenAIServer`, for tests of the gateway and its callers.

The gateway is configured exactly as a user would configure it for OpenRouter (OPENROUTER_API_KEY
plus OPENROUTER_BASE_URL pointing at the fake server), so the real `ChatOpenAI` client, the real
retry loop, ledger, budget and cache all run. Clocks and sleep are injectable.

    with FakeOpenAIServer() as server:
        kit = GatewayKit.build(server, tmp_path)
        kit.gateway.complete(request)
        assert kit.sleeps == []
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llm.gateway import (
    Budget,
    BudgetAlert,
    CacheMode,
    Gateway,
    Ledger,
    LLMSettings,
    ModelStack,
    ResponseCache,
    load_settings,
)
from llm.testing.openai_server import FakeOpenAIServer

TEST_KEY = "sk-test-SECRET-123"
"""A recognisable fake key: tests assert it never shows up in logs, errors or files."""


def small_stack_data() -> dict[str, Any]:
    """A small stack with round prices (dollars per million tokens) for hand-checked costs."""

    def model(price_in: float, price_out: float, context: int = 100_000, **caps: Any) -> dict:
        return {
            "input_per_million": price_in,
            "output_per_million": price_out,
            "context_tokens": context,
            **caps,
        }

    return {
        "routing": {
            "small_model": "cheap-c",
            "vision_model": "vision-v",
            "long_context_model": "long-l",
            "complex_model": "fallback-b",
            "long_context_threshold_tokens": 32_000,
            "downgrade_chain": ["top-x", "long-l", "primary-a", "fallback-b"],
        },
        "tasks": {
            "chart_analysis": {"primary": "vision-v", "tier": "medium"},
            "narrative_analysis": {"primary": "primary-a", "fallbacks": ["fallback-b"]},
            "data_processor": {"primary": "cheap-c", "tier": "simple"},
            "meta_orchestrator": {"primary": "primary-a", "fallbacks": ["fallback-b"]},
            "council": {"primary": "primary-a", "tier": "complex"},
            "document_analysis": {"primary": "long-l", "fallbacks": ["primary-a"]},
            "trade_execution": {
                "primary": "top-x",
                "fallbacks": ["primary-a"],
                "tier": "critical",
            },
            "reflection": {"primary": "cheap-c", "tier": "simple"},
        },
        "models": {
            "primary-a": model(1.0, 2.0, structured_output=True),
            "fallback-b": model(0.5, 1.0),
            "cheap-c": model(0.1, 0.2, context=16_000),
            "vision-v": model(0.3, 0.6, vision=True),
            "long-l": model(0.4, 0.8, context=500_000),
            "top-x": model(10.0, 50.0, vision=True),
        },
    }


def small_stack() -> ModelStack:
    return ModelStack.from_mapping(small_stack_data(), source="test stack")


@dataclass
class ManualClock:
    """A UTC wall clock that only moves when told to."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 10, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class ManualSeconds:
    """A monotonic seconds counter that only moves when told to (cool-downs, cache TTL)."""

    value: float = 1_000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@dataclass
class GatewayKit:
    """A gateway plus the injected clocks and the record of what it slept and alerted."""

    gateway: Gateway
    settings: LLMSettings
    clock: ManualClock
    seconds: ManualSeconds
    sleeps: list[float]
    alerts: list[BudgetAlert]

    @classmethod
    def build(
        cls,
        server: FakeOpenAIServer,
        directory: Path,
        *,
        stack: ModelStack | None = None,
        env: Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
    ) -> GatewayKit:
        """A gateway on files under `directory`, talking to `server` as OpenRouter would.

        `env` overrides the test defaults (short timeout, tiny backoff, $5/day, $100/month).
        """
        clock = clock or ManualClock()
        seconds = ManualSeconds()
        sleeps: list[float] = []
        alerts: list[BudgetAlert] = []
        settings = settings_for_server(server, directory, env)
        ledger = Ledger(settings.ledger_path, clock=clock)
        cache = None
        if settings.cache_mode is not CacheMode.OFF:
            cache = ResponseCache(settings.cache_path, settings.cache_ttl_s, clock=seconds)
        budget = Budget(
            ledger,
            settings.daily_budget_usd,
            settings.monthly_budget_usd,
            settings.alert_threshold,
            alerts.append,
        )

        def sleep(wait_s: float) -> None:
            """Record the wait and let that much time pass on the gateway's monotonic clock."""
            sleeps.append(wait_s)
            seconds.advance(wait_s)

        gateway = Gateway(
            settings,
            stack or small_stack(),
            ledger,
            cache,
            budget,
            sleep=sleep,
            monotonic=seconds,
        )
        return cls(gateway, settings, clock, seconds, sleeps, alerts)


def settings_for_server(
    server: FakeOpenAIServer, directory: Path, env: Mapping[str, str] | None = None
) -> LLMSettings:
    """Settings for `server` with the test key, files under `directory`, fast timeouts."""
    values = {
        "OPENROUTER_API_KEY": TEST_KEY,
        "OPENROUTER_BASE_URL": server.base_url,
        "LLM_LEDGER_PATH": str(directory / "ledger.sqlite"),
        "LLM_CACHE_PATH": str(directory / "cache.sqlite"),
        "LLM_TIMEOUT_S": "0.5",
        "LLM_BACKOFF_BASE_S": "0.25",
        "LLM_MAX_BACKOFF_S": "5",
        "LLM_MAX_ATTEMPTS": "2",
        "DAILY_LLM_BUDGET": "5",
        "MONTHLY_LLM_BUDGET": "100",
        **(env or {}),
    }
    return load_settings(values, env_file=None)
