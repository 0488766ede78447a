"""Which models a request may use, in order: by complexity, input, budget and model health.

A non-critical request starts from its task's chain (or the caller's `models`), then:
SIMPLE or high-volume work tries the small model first; COMPLEX work gets the complex model as
its first fallback; a prompt over the long-context threshold goes to the long-context model; an
image drops models without vision; models whose context cannot hold the prompt are dropped.
When the budget is low, SIMPLE and MEDIUM calls step one place down the downgrade chain; when it
is spent, the over-budget policy serves the cheapest capable model or skips the call. A cost cap
drops models whose expected cost (the prompt, and an answer of `LLM_EXPECTED_OUTPUT_TOKENS`)
exceeds it, and models cooling down after repeated failures
go last. The circuit breaker (`CircuitBreaker`) stops a run whose task keeps failing.

CRITICAL requests skip all of that: `Router.route` returns the task's configured chain as it
is. That branch is the single place where critical handling is decided.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from llm.gateway.budget import Budget, BudgetStatus
from llm.gateway.messages import estimate_prompt_tokens, has_image
from llm.gateway.model_stack import ModelSpec, ModelStack
from llm.gateway.settings import LLMSettings, OverBudgetPolicy
from llm.gateway.types import (
    Complexity,
    LLMCallError,
    LLMGatewayDownError,
    LLMRequest,
    LLMSkippedError,
)

_DOWNGRADABLE = frozenset({Complexity.SIMPLE, Complexity.MEDIUM})


@dataclass(frozen=True)
class Route:
    """The models to try in order, and why the chain looks the way it does."""

    complexity: Complexity
    models: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def critical(self) -> bool:
        return self.complexity is Complexity.CRITICAL


class CooldownTracker:
    """Counts consecutive failures per model; `failures` in a row cool it for `cooldown_s`.

    `clock` returns seconds (monotonic by default); tests inject their own.
    """

    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._failures_to_cool = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._streaks: dict[str, int] = {}
        self._cool_until: dict[str, float] = {}

    def record_failure(self, model: str) -> bool:
        """Count a failure; True when this one starts a cool-down."""
        with self._lock:
            streak = self._streaks.get(model, 0) + 1
            self._streaks[model] = streak
            if streak >= self._failures_to_cool:
                self._streaks[model] = 0
                self._cool_until[model] = self._clock() + self._cooldown_s
                return True
            return False

    def record_success(self, model: str) -> None:
        with self._lock:
            self._streaks.pop(model, None)
            self._cool_until.pop(model, None)

    def is_cooling(self, model: str) -> bool:
        with self._lock:
            return self._clock() < self._cool_until.get(model, float("-inf"))


class CircuitBreaker:
    """Counts, per task, calls in a row whose every model failed; `limit` of them stop the run.

    A gateway that is down would otherwise cost each bar its full retry chain, for ever, and the
    run would end looking like a success.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._streaks: dict[str, int] = {}

    def record_failure(self, task: str, reason: str, where: str) -> None:
        """Count a call of `task` that failed for `reason` on the endpoint `where` (in words);
        LLMGatewayDownError when it is the `limit`-th in a row."""
        with self._lock:
            streak = self._streaks.get(task, 0) + 1
            self._streaks[task] = streak
        if streak >= self._limit:
            raise LLMGatewayDownError(
                f"the LLM gateway failed {streak} {task} calls in a row, every model each time "
                f"({where}); the run stops here and a paper run resumes from its journal. "
                f"Last failure: {reason}"
            )

    def record_success(self, task: str) -> None:
        with self._lock:
            self._streaks.pop(task, None)


@dataclass(frozen=True)
class _Needs:
    image: bool
    prompt_tokens: int


class Router:
    """Routes requests over one model stack; thread-safe (its only state is the cool-down)."""

    def __init__(
        self,
        stack: ModelStack,
        cooldown: CooldownTracker,
        budget: Budget | None = None,
        over_budget_policy: OverBudgetPolicy = OverBudgetPolicy.CHEAPEST,
        *,
        max_output_tokens: int = 1024,
        expected_output_tokens: int = 400,
    ) -> None:
        """`max_output_tokens`: the hard output limit sent with every call (what a model's context
        must leave room for); `expected_output_tokens`: the answer length calls are priced at."""
        self.stack = stack
        self.cooldown = cooldown
        self._budget = budget
        self._policy = over_budget_policy
        self._max_output_tokens = max_output_tokens
        self._expected_output_tokens = expected_output_tokens

    @classmethod
    def for_estimates(cls, stack: ModelStack, settings: LLMSettings) -> Router:
        """A router that routes and prices as a gateway on `settings` would, with no budget and
        no model cooling down: what a cost estimate needs."""
        return cls(
            stack,
            CooldownTracker(settings.cooldown_failures, settings.cooldown_s),
            max_output_tokens=settings.max_output_tokens,
            expected_output_tokens=settings.expected_output_tokens,
        )

    def complexity_of(self, request: LLMRequest) -> Complexity:
        """The request's complexity, else its task's tier; a critical task is always critical."""
        tier = self.stack.task(request.task).tier
        if Complexity.CRITICAL in (tier, request.complexity):
            return Complexity.CRITICAL
        return request.complexity or tier

    def route(self, request: LLMRequest, *, spend_checks: bool = True) -> Route:
        """The chain for `request`. Raises LLMSkippedError when policy or cost cap says skip.

        `spend_checks=False` leaves out the budget and the cost cap (for cache look-ups, which
        cost nothing).
        """
        complexity = self.complexity_of(request)
        if complexity is Complexity.CRITICAL:
            # The one place CRITICAL is handled: the task's top model first, then its configured
            # fallbacks (tried only on failure); no budget check, downgrade, override or cool-down.
            configured = self.stack.task(request.task).chain
            return Route(complexity, configured, ("critical: task chain as configured",))

        needs = _Needs(has_image(request.messages), estimate_prompt_tokens(request.messages))
        notes: list[str] = []
        chain = self._preferred(request, complexity, needs, notes)
        chain = self._capable(chain, needs, notes)
        if spend_checks and self._budget is not None:
            status = self._budget.status()
            chain = self._within_budget(status, chain, complexity, needs, notes)
        if spend_checks and request.max_cost_usd is not None:
            chain = self._under_cap(chain, request.max_cost_usd, needs, notes)
        healthy = [m for m in chain if not self.cooldown.is_cooling(m)]
        if len(healthy) < len(chain):
            notes.append("cooling models moved last")
        return Route(complexity, tuple(_unique([*healthy, *chain])), tuple(notes))

    def cache_candidates(self, request: LLMRequest, *, any_model: bool) -> tuple[str, ...]:
        """Models whose cached answer may serve `request`, best first.

        The routed chain without spend checks; with `any_model` (replay), every other model of
        the stack after it, so that an answer cached under a downgrade is still found. A
        critical request only ever takes its own chain's answers.
        """
        route = self.route(request, spend_checks=False)
        if route.critical or not any_model:
            return route.models
        return tuple(_unique([*route.models, *sorted(self.stack.models)]))

    def long_context_retry(self, route: Route, failed_model: str) -> str | None:
        """The model to try after a context-length error on `failed_model` (None if none)."""
        if route.critical:
            return None
        long_model = self.stack.routing.long_context_model
        return None if long_model == failed_model else long_model

    def expected_cost(self, model_id: str, prompt_tokens: int) -> float:
        """Dollars for a call of `prompt_tokens` answered at the expected length. Pricing at the
        hard output limit instead made every fallback dearer than an analyst's share of the
        decision cap, though our answers are one short JSON object."""
        return self.stack.model(model_id).cost_usd(prompt_tokens, self._expected_output_tokens)

    def unreachable(self, model_id: str, prompt_tokens: int, cap_usd: float) -> bool:
        """Whether the cost cap `cap_usd` (dollars) always drops `model_id` for this prompt."""
        return self.expected_cost(model_id, prompt_tokens) > cap_usd

    # ---- steps ------------------------------------------------------------------------------
    def _preferred(
        self, request: LLMRequest, complexity: Complexity, needs: _Needs, notes: list[str]
    ) -> list[str]:
        routing = self.stack.routing
        chain = list(request.models or self.stack.task(request.task).chain)
        for model_id in chain:
            self.stack.model(model_id)  # an unknown override is a configuration error
        if request.models:  # a council seat is its own model's vote, not another model's
            notes.append("models named by the request: no small or complex model added")
        elif request.high_volume or complexity is Complexity.SIMPLE:
            chain.insert(0, routing.small_model)
            notes.append("simple/high-volume: small model first")
        elif complexity is Complexity.COMPLEX and routing.complex_model:
            chain.insert(1, routing.complex_model)
            notes.append("complex: complex model as first fallback")
        if needs.prompt_tokens > routing.long_context_threshold_tokens:
            chain.insert(0, routing.long_context_model)
            notes.append(f"~{needs.prompt_tokens} prompt tokens: long-context model first")
        return _unique(chain)

    def _fits(self, spec: ModelSpec, needs: _Needs) -> bool:
        room = spec.context_tokens >= needs.prompt_tokens + self._max_output_tokens
        return room and (spec.vision or not needs.image)

    def _capable(self, chain: Iterable[str], needs: _Needs, notes: list[str]) -> list[str]:
        """Models of `chain` that can take the input, else the best substitute in the stack."""
        fitting = [m for m in chain if self._fits(self.stack.model(m), needs)]
        if fitting:
            return fitting
        routing = self.stack.routing
        preferred = [routing.vision_model] if needs.image else []
        if needs.prompt_tokens > routing.long_context_threshold_tokens:
            preferred.append(routing.long_context_model)
        by_price = sorted(self.stack.models, key=lambda m: self.expected_cost(m, 0))
        for model_id in _unique([*preferred, *by_price]):
            if self._fits(self.stack.model(model_id), needs):
                notes.append(f"no routed model fits the input: substituted {model_id}")
                return [model_id]
        raise LLMCallError(
            f"no model in the stack ({self.stack.source}) accepts this input "
            f"(image: {needs.image}, ~{needs.prompt_tokens} prompt tokens)"
        )

    def _cheapest(self, needs: _Needs) -> str:
        fitting = [m for m in self.stack.models if self._fits(self.stack.model(m), needs)]
        if not fitting:
            return self._capable([], needs, [])[0]
        return min(fitting, key=lambda m: (self.expected_cost(m, needs.prompt_tokens), m))

    def _within_budget(
        self,
        status: BudgetStatus,
        chain: list[str],
        complexity: Complexity,
        needs: _Needs,
        notes: list[str],
    ) -> list[str]:
        if status.is_exhausted:
            if self._policy is OverBudgetPolicy.SKIP:
                raise LLMSkippedError(
                    f"LLM budget spent (today ${status.spent_today_usd:.4f} of "
                    f"${status.daily_limit_usd:.2f}, month ${status.spent_month_usd:.4f} of "
                    f"${status.monthly_limit_usd:.2f}); policy is to skip non-critical calls"
                )
            notes.append("budget spent: cheapest capable model only")
            return [self._cheapest(needs)]
        if status.is_low and complexity in _DOWNGRADABLE:
            notes.append("budget low: downgraded one step")
            downgraded = _unique(self._one_step_down(m) for m in chain)
            return self._capable(downgraded, needs, notes)
        return chain

    def _one_step_down(self, model_id: str) -> str:
        ladder = self.stack.routing.downgrade_chain
        if model_id in ladder[:-1]:
            return ladder[ladder.index(model_id) + 1]
        return model_id

    def _under_cap(
        self, chain: list[str], cap_usd: float, needs: _Needs, notes: list[str]
    ) -> list[str]:
        affordable = [m for m in chain if not self.unreachable(m, needs.prompt_tokens, cap_usd)]
        if not affordable:
            raise LLMSkippedError(
                f"no routed model fits the cost cap of ${cap_usd:.4f} for this call"
            )
        if len(affordable) < len(chain):
            notes.append(f"cost cap ${cap_usd:.4f}: dropped dearer models")
        return affordable


def _unique(models: Iterable[str]) -> list[str]:
    """`models` without repeats, first occurrence kept."""
    return list(dict.fromkeys(models))
