"""The vocabulary shared by the gateway and its callers: tasks, complexity, requests, responses.

The analyst graph only ever talks to the gateway through `LLMRequest` -> `LLMResponse`, so that the
routing, budget, cache and retry policy stay in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class Task(StrEnum):
    """What a call is for; the model stack maps each task to its models."""

    CHART_ANALYSIS = "chart_analysis"
    NARRATIVE_ANALYSIS = "narrative_analysis"
    DATA_PROCESSOR = "data_processor"
    META_ORCHESTRATOR = "meta_orchestrator"
    COUNCIL = "council"  # a council seat's vote on the meta decision (each seat names its model)
    DOCUMENT_ANALYSIS = "document_analysis"
    TRADE_EXECUTION = "trade_execution"
    REFLECTION = "reflection"


class Complexity(StrEnum):
    """How much model a call deserves. CRITICAL is never downgraded and never budget-checked."""

    SIMPLE = "simple"
    MEDIUM = "medium"
    COMPLEX = "complex"
    CRITICAL = "critical"


@dataclass(frozen=True)
class LLMRequest:
    """One logical call. The gateway picks the model, retries, falls back, charges and caches.

    `models`, when given, names the models to try in order instead of the routed chain, with no
    small or complex model added (a council seat's vote); a CRITICAL request ignores it and always
    gets the task's top model.
    `max_cost_usd` caps the estimated cost of this call: the gateway downgrades or skips to stay
    under it (never for CRITICAL). `time_left_s`, when given, is how many seconds from now the call
    may still start attempts (what its decision has left); the gateway's own per-call deadline
    applies too, whichever comes first.
    """

    task: Task
    messages: Sequence[BaseMessage]
    complexity: Complexity | None = None
    response_schema: type[BaseModel] | None = None
    template_version: str = "v1"
    high_volume: bool = False
    models: Sequence[str] | None = None
    max_cost_usd: float | None = None
    time_left_s: float | None = None


@dataclass(frozen=True)
class LLMResponse:
    """What came back and what it cost. `model_served` is the model that actually answered;
    `parsed` is the answer validated against the request's `response_schema` (None without one)."""

    content: str
    task: Task
    model_requested: str
    model_served: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_s: float
    cache_hit: bool
    parsed: BaseModel | None = None

    def answer(self, schema: type[SchemaT]) -> SchemaT:
        """The validated answer as `schema`; AnswerParseError when it was not parsed as one."""
        if not isinstance(self.parsed, schema):
            raise AnswerParseError(f"the answer was not validated as {schema.__name__}")
        return self.parsed


class LLMError(Exception):
    """Base of every error the LLM side raises on purpose. Messages never contain secrets."""


class LLMConfigError(LLMError):
    """Bad configuration: a missing key, an invalid model-stack file, an unknown task or model."""


class LLMCallError(LLMError):
    """Every allowed attempt and fallback failed; the message says why for each model tried."""


class AnswerParseError(LLMError):
    """A model answer that is not valid JSON for the expected schema."""


class LLMGatewayDownError(LLMError):
    """The gateway cannot serve this run at all: it rejects the key, refuses the endpoint, or
    every model of a task kept failing (the circuit breaker). Callers must let it propagate and
    stop the run, never trade on without the models."""


class LLMSkippedError(LLMError):
    """The budget or cost-cap policy chose not to make a non-critical call."""
