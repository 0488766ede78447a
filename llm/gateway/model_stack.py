"""The model stack: which models serve each task, their prices, capabilities and routing roles.

A packaged default (`llm/model_stack.toml`) can be overridden by a user file whose tables are
merged key by key over it. Everything is validated when loaded, so that a typo in a model id or a
chart task mapped to a text-only model fails at start-up with a message naming the entry, not in
the middle of a backtest.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm.gateway.types import Complexity, LLMConfigError, Task

OFFLINE_MODEL_ID = "offline-analyst"
"""The id the offline chat model answers as; the offline stack maps every task to it at $0."""

VISION_TASKS = frozenset({Task.CHART_ANALYSIS})
"""Tasks whose every model must accept images."""

_DEFAULT_STACK_FILE = "model_stack.toml"
_TOKENS_PER_MILLION = 1_000_000


class DirectRoute(BaseModel):
    """A provider's own OpenAI-compatible endpoint for a model, used without a gateway."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    model: str = Field(description="the provider's id for the model")
    api_key_env: str = Field(description="the environment variable holding the provider key")


class ModelSpec(BaseModel):
    """One model: prices in US dollars per million tokens, context length in tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)
    context_tokens: int = Field(gt=0)
    vision: bool = False
    structured_output: bool = Field(
        default=False, description="accepts a json_schema response_format"
    )
    direct: DirectRoute | None = None

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars for a call of this size at the listed prices."""
        return (
            input_tokens * self.input_per_million + output_tokens * self.output_per_million
        ) / _TOKENS_PER_MILLION


class TaskRoute(BaseModel):
    """A task's primary model, its fallbacks in order, and its default complexity (tier)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str
    fallbacks: tuple[str, ...] = ()
    tier: Complexity = Complexity.MEDIUM

    @property
    def chain(self) -> tuple[str, ...]:
        return (self.primary, *self.fallbacks)


class RoutingPolicy(BaseModel):
    """Models with a routing role, and the budget downgrade chain (most to least expensive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    small_model: str
    vision_model: str
    long_context_model: str
    complex_model: str | None = None
    long_context_threshold_tokens: int = Field(default=32_000, gt=0)
    downgrade_chain: tuple[str, ...] = ()


class CouncilSeats(BaseModel):
    """The meta decision voted by a council of models (`llm.team.council`): one seat each, and
    the agreement required ("majority" or "unanimous"). Gateway runs only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[str, ...] = Field(min_length=2)
    rule: Literal["majority", "unanimous"] = "majority"


class ModelStack(BaseModel):
    """The validated stack. Build it with `load_model_stack()` or `ModelStack.offline()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    routing: RoutingPolicy
    tasks: dict[Task, TaskRoute]
    models: dict[str, ModelSpec]
    embedding_model: str | None = None
    """The model behind `Gateway.embed` (an `/embeddings` model, priced per input token); None:
    callers embed locally (`llm.HashingEmbedder`)."""
    council: CouncilSeats | None = None
    """When set, a gateway run's meta decision is voted by these models (`build_analyst_team`)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> ModelStack:
        """Validate a parsed stack file; raises LLMConfigError naming the bad entry."""
        known_tasks = {task.value for task in Task}
        unknown = sorted(set(data.get("tasks", {})) - known_tasks)
        if unknown:
            raise LLMConfigError(
                f"model stack {source}: unknown task {unknown[0]!r}; "
                f"known tasks: {', '.join(sorted(known_tasks))}"
            )
        models = {
            model_id: {"id": model_id, **dict(spec)}
            for model_id, spec in dict(data.get("models", {})).items()
        }
        try:
            stack = cls.model_validate({**data, "models": models, "source": source})
        except ValidationError as exc:
            raise LLMConfigError(_describe(exc, source)) from None
        _check_consistency(stack)
        return stack

    @classmethod
    def offline(cls) -> ModelStack:
        """Every task served by the offline analyst at $0, so the pipeline runs with no key."""
        offline = {
            "input_per_million": 0.0,
            "output_per_million": 0.0,
            "context_tokens": 10_000_000,
            "vision": True,
        }
        tasks = {
            task.value: {
                "primary": OFFLINE_MODEL_ID,
                "tier": Complexity.CRITICAL if task is Task.TRADE_EXECUTION else Complexity.MEDIUM,
            }
            for task in Task
        }
        routing = {
            "small_model": OFFLINE_MODEL_ID,
            "vision_model": OFFLINE_MODEL_ID,
            "long_context_model": OFFLINE_MODEL_ID,
        }
        data = {"routing": routing, "tasks": tasks, "models": {OFFLINE_MODEL_ID: offline}}
        return cls.from_mapping(data, source="offline")

    def model(self, model_id: str) -> ModelSpec:
        """The spec of `model_id`; LLMConfigError when the stack does not list it."""
        try:
            return self.models[model_id]
        except KeyError:
            raise LLMConfigError(
                f"model {model_id!r} is not in the model stack ({self.source})"
            ) from None

    def task(self, task: Task) -> TaskRoute:
        return self.tasks[task]

    def is_free(self) -> bool:
        """Every model costs nothing (the offline stack): no estimate, budget or cap applies."""
        return all(m.input_per_million == m.output_per_million == 0 for m in self.models.values())

    def most_expensive(self) -> ModelSpec:
        """The priciest model, charged when a call's serving model has no known price."""
        return max(
            self.models.values(), key=lambda m: (m.input_per_million + m.output_per_million, m.id)
        )


def load_model_stack(override: Path | None = None) -> ModelStack:
    """The packaged default stack, with the user's file (if any) merged over it."""
    default_text = resources.files("llm.gateway").joinpath(_DEFAULT_STACK_FILE).read_text("utf-8")
    data = tomllib.loads(default_text)
    source = "packaged default"
    if override is not None:
        try:
            user = tomllib.loads(override.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LLMConfigError(f"model stack {override}: cannot read it: {exc}") from None
        data = _deep_merge(data, user)
        source = f"{override} over the packaged default"
    return ModelStack.from_mapping(data, source)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_consistency(stack: ModelStack) -> None:
    """Cross-entry rules: every task mapped, every referenced model listed, capabilities fit."""
    where = f"model stack {stack.source}"
    missing_tasks = [task.value for task in Task if task not in stack.tasks]
    if missing_tasks:
        raise LLMConfigError(f"{where}: no entry for task(s) {', '.join(missing_tasks)}")

    references: list[tuple[str, str]] = []
    for task, route in stack.tasks.items():
        references += [(f"tasks.{task.value}.primary", route.primary)]
        references += [(f"tasks.{task.value}.fallbacks", m) for m in route.fallbacks]
    routing = stack.routing
    for role in ("small_model", "vision_model", "long_context_model", "complex_model"):
        model_id = getattr(routing, role)
        if model_id is not None:
            references.append((f"routing.{role}", model_id))
    references += [("routing.downgrade_chain", m) for m in routing.downgrade_chain]
    if stack.embedding_model is not None:
        references.append(("embedding_model", stack.embedding_model))
    if stack.council is not None:
        references += [("council.models", m) for m in stack.council.models]
    for entry, model_id in references:
        if model_id not in stack.models:
            raise LLMConfigError(
                f"{where}: {entry} names model {model_id!r}, which has no [models] entry"
            )

    for task in VISION_TASKS:
        for model_id in stack.tasks[task].chain:
            if not stack.models[model_id].vision:
                raise LLMConfigError(
                    f"{where}: task {task.value} needs images but model {model_id!r} "
                    "has no vision (set vision = true only if it really accepts images)"
                )
    if not stack.models[routing.vision_model].vision:
        raise LLMConfigError(
            f"{where}: routing.vision_model {routing.vision_model!r} has no vision"
        )
    long_model = stack.models[routing.long_context_model]
    if long_model.context_tokens <= routing.long_context_threshold_tokens:
        raise LLMConfigError(
            f"{where}: routing.long_context_model {long_model.id!r} has a context of "
            f"{long_model.context_tokens} tokens, not above the long-context threshold "
            f"({routing.long_context_threshold_tokens})"
        )


def _describe(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        problems.append(f"{location}: {error['msg']}")
    return f"model stack {source}: " + "; ".join(problems)


logger = logging.getLogger(__name__)


def reported_cost(response_metadata: Mapping[str, Any]) -> float | None:
    """`usage.cost` from a chat response's metadata, when the gateway reported a usable number."""
    usage = response_metadata.get("token_usage")
    cost = usage.get("cost") if isinstance(usage, Mapping) else None
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None


def identify_served(stack: ModelStack, served: str, requested: ModelSpec, alias: str) -> str:
    """The stack id of the model that served a call; the raw name when the stack lacks it.

    `alias` is the id the endpoint knows the requested model by (a direct provider's own id); a
    serving name equal to it or to the requested id, or one of them with a version stamp
    (`-2024-08-06`, `-20250805`, `-0613`, `@20250805`), is the requested model. Any other longer
    name is another model: `claude-opus-4.1-distilled-8b` is not Claude Opus 4.1.
    """
    if served in stack.models:
        return served
    for name in (requested.id, alias):
        if re.fullmatch(re.escape(name) + _VERSION_STAMP, served):
            return requested.id
    return served


_VERSION_STAMP = r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{4,8}))?"
"""What a provider appends to a model's id for one dated snapshot of it."""


def price_list_for(stack: ModelStack, model_id: str) -> ModelSpec:
    """The prices of `model_id`; the most expensive model's, with a warning, when unlisted."""
    if model_id in stack.models:
        return stack.models[model_id]
    fallback = stack.most_expensive()
    logger.warning(
        "no price listed for serving model %r; charging %r prices ($%.2f / $%.2f per million)",
        model_id,
        fallback.id,
        fallback.input_per_million,
        fallback.output_per_million,
    )
    return fallback


def call_cost(
    usage_cost: float | None, input_tokens: int, output_tokens: int, spec: ModelSpec
) -> float:
    """Dollars for one answered call: the reported cost if any, else the listed prices."""
    if usage_cost is not None:
        return usage_cost
    return spec.cost_usd(input_tokens, output_tokens)
