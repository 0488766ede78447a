"""The one door to paid models: `Gateway.complete(LLMRequest) -> LLMResponse`.

For each request: look in the cache (a hit is free and sends nothing); otherwise ask the router
for the chain of models, then try them in order with the only retry loop (the SDK's retries are
off). An answer counts only once it is usable: it parses as the request's schema and, for a
critical task, was served by a model of the task's own chain; otherwise it is a failed attempt
like an HTTP error (charged, retried, then the next model) and is never cached. Every attempt,
failed or not, and every cache hit is a ledger row, also handed to the gateway's listeners
(`add_listener`); the budget alerts after charged calls.

Bounded failure: one call starts no attempt after `LLM_CALL_DEADLINE_S`; an endpoint that refuses
the key stops the run at once, and `LLM_BREAKER_FAILURES` calls of one task in a row with every
model failed stop it too (`LLMGatewayDownError`). Thread-safe: the analyst graph calls it from
parallel threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import openai
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from llm.gateway.budget import AlertCallback, Budget
from llm.gateway.cache import (
    CachedAnswer,
    ReplayMissError,
    ResponseCache,
    cache_key,
    schema_version,
)
from llm.gateway.clients import (
    ChatModelFactory,
    OpenAIChatFactory,
    check_every_task_served,
    describe_configuration,
    resolve_endpoint,
)
from llm.gateway.failures import Failure, FailureKind, Redactor, classify
from llm.gateway.ledger import Ledger, LedgerEntry
from llm.gateway.messages import estimate_prompt_tokens, messages_digest, parse_answer
from llm.gateway.model_stack import (
    ModelSpec,
    ModelStack,
    call_cost,
    identify_served,
    load_model_stack,
    price_list_for,
    reported_cost,
)
from llm.gateway.router import CircuitBreaker, CooldownTracker, Route, Router
from llm.gateway.settings import CacheMode, LLMSettings
from llm.gateway.types import (
    AnswerParseError,
    LLMCallError,
    LLMConfigError,
    LLMGatewayDownError,
    LLMRequest,
    LLMResponse,
    LLMSkippedError,
)

logger = logging.getLogger(__name__)

EMBEDDING_TASK = "embedding"  # the ledger's task name for `Gateway.embed` (not a routed Task)
_OPENROUTER_MAX_FALLBACKS = 2  # OpenRouter takes up to 3 models per request: ours + 2

CallListener = Callable[[LedgerEntry], None]
"""Called with each ledger row the gateway records (time filled in), on the calling thread."""


@dataclass(frozen=True)
class _RequestKey:
    """The model-independent part of a request's cache key, hashed once per request (the
    messages may carry a chart image, and both the look-up and the store need the hash)."""

    template_version: str
    schema: str
    digest: str

    @classmethod
    def of(cls, request: LLMRequest) -> _RequestKey:
        return cls(
            request.template_version,
            schema_version(request.response_schema),
            messages_digest(request.messages),
        )

    def for_model(self, model_id: str) -> str:
        return cache_key(model_id, self.template_version, self.schema, self.digest)


@dataclass(frozen=True)
class _ModelFailed:
    """Why one model of the chain gave no answer, after how many requests."""

    failure: Failure
    attempts: int


class Gateway:
    """Routes, retries, falls back, charges and caches every LLM call.

    `chat_model_factory` makes the chat model for a model of the stack (default: `ChatOpenAI`
    on the endpoint resolved from settings). `sleep` and `monotonic` are injectable so that tests
    can check backoff waits and cool-downs without waiting.
    """

    def __init__(
        self,
        settings: LLMSettings,
        stack: ModelStack,
        ledger: Ledger,
        cache: ResponseCache | None,
        budget: Budget,
        *,
        chat_model_factory: ChatModelFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self.stack = stack
        self.ledger = ledger
        self.cache = cache
        self.budget = budget
        self._factory = chat_model_factory or OpenAIChatFactory(settings)
        self._sleep = sleep
        self._monotonic = monotonic
        self.breaker = CircuitBreaker(settings.breaker_failures)
        cooldown = CooldownTracker(settings.cooldown_failures, settings.cooldown_s, monotonic)
        self.router = Router(
            stack,
            cooldown,
            budget,
            settings.over_budget_policy,
            max_output_tokens=settings.max_output_tokens,
            expected_output_tokens=settings.expected_output_tokens,
        )
        self._redact = Redactor(settings.secret_values())
        self._chat_models: dict[str, BaseChatModel] = {}
        self._listeners: tuple[CallListener, ...] = ()
        self._listeners_lock = threading.Lock()
        self._spend_cap_usd: float | None = None
        self._spent_usd = 0.0
        self._reserved_usd = 0.0  # the worst cost of the attempts under way (the cap's)
        self._spend_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: LLMSettings,
        *,
        stack: ModelStack | None = None,
        chat_model_factory: ChatModelFactory | None = None,
        on_alert: AlertCallback | None = None,
    ) -> Gateway:
        """A gateway on the ledger and cache files that settings name.

        Without a factory the real endpoints are used, and a missing key is an LLMConfigError
        naming the variables to set, raised here rather than at the first call.
        """
        stack = stack or load_model_stack(settings.model_stack_path)
        if chat_model_factory is None:
            check_every_task_served(settings, stack)
        ledger = Ledger(settings.ledger_path)
        cache = None
        if settings.cache_mode is not CacheMode.OFF:
            cache = ResponseCache(settings.cache_path, settings.cache_ttl_s)
        budget = Budget(
            ledger,
            settings.daily_budget_usd,
            settings.monthly_budget_usd,
            settings.alert_threshold,
            on_alert,
        )
        return cls(settings, stack, ledger, cache, budget, chat_model_factory=chat_model_factory)

    def add_listener(self, listener: CallListener) -> None:
        """Hand `listener` every ledger row recorded from now on: paid calls, failed attempts
        inside the retry loop, cache hits. It runs on the calling thread (the analyst graph's
        threads too), after the row is stored; it must be quick and thread-safe."""
        with self._listeners_lock:
            self._listeners = (*self._listeners, listener)

    def cap_spend(self, usd: float | None) -> None:
        """Make no paid call once this gateway has spent `usd` dollars (None: no cap). Unlike the
        budgets, the cap binds every task, the critical one included: past it, orders are not
        confirmed and so not sent. An attempt starts only if its worst cost (the estimated
        prompt and the hard output limit, at the model's prices) fits beside what is spent and
        what the attempts under way may still cost, so parallel calls cannot overshoot together."""
        self._spend_cap_usd = usd

    @contextmanager
    def _within_cap(self, spec: ModelSpec, request: LLMRequest) -> Iterator[None]:
        """Reserve an attempt's worst cost under the cap for its duration (see `cap_spend`); an
        attempt that does not fit is an LLMSkippedError."""
        cap = self._spend_cap_usd
        if cap is None or self.stack.is_free():
            yield
            return
        prompt_tokens = estimate_prompt_tokens(request.messages)
        worst = spec.cost_usd(prompt_tokens, self._settings.max_output_tokens)
        with self._spend_lock:
            left = cap - self._spent_usd - self._reserved_usd
            if worst > left:
                raise LLMSkippedError(
                    f"the run's hard cost cap of ${cap:.4f} leaves ${max(0.0, left):.4f}, less"
                    f" than a {spec.id} call may cost (${worst:.4f}): no paid call is made,"
                    " and orders that need a confirmation are not sent"
                )
            self._reserved_usd += worst
        try:
            yield
        finally:
            with self._spend_lock:
                self._reserved_usd -= worst

    @property
    def spent_usd(self) -> float:
        """Dollars this gateway has been charged since it opened (failed attempts included)."""
        with self._spend_lock:
            return self._spent_usd

    # ---- the one public call ------------------------------------------------------------
    def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer `request`. Raises LLMSkippedError (budget or cost cap), LLMCallError (every
        model failed; `ReplayMissError` in replay mode), LLMConfigError (unknown model) or
        LLMGatewayDownError (the endpoint refuses us, or the circuit breaker opened)."""
        key = None
        if self.cache is not None and self._settings.cache_mode is not CacheMode.OFF:
            key = _RequestKey.of(request)
            cached = self._from_cache(self.cache, request, key)
            if cached is not None:
                return cached
        route = self.router.route(request)
        if route.notes:
            logger.info("%s routed to %s (%s)", request.task, route.models, "; ".join(route.notes))
        self._check_hard_limits()
        try:
            response = self._call_chain(request, route, key)
        except LLMCallError as exc:
            self.breaker.record_failure(request.task.value, str(exc), self._where())
            raise
        self.breaker.record_success(request.task.value)
        return response

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts` (one row each) from the stack's `embedding_model` through its
        endpoint's OpenAI-compatible `/embeddings`, charged in the ledger as task "embedding" at
        the model's input price (or the cost the endpoint reports). One attempt, no fallback: a
        model answering with vectors of another space would be wrong, not a fallback.
        Raises LLMConfigError (no embedding model), LLMSkippedError (budget or cap) or
        LLMCallError (the call failed; its row is in the ledger)."""
        model_id = self.stack.embedding_model
        if model_id is None:
            raise LLMConfigError(f"model stack {self.stack.source} names no embedding_model")
        spec = self.stack.model(model_id)
        self._check_hard_limits()
        endpoint = resolve_endpoint(self._settings, spec)
        client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key.get_secret_value(),
            timeout=self._settings.timeout_s,
            max_retries=0,
        )
        started = self._monotonic()
        try:
            answer = client.embeddings.create(model=endpoint.model_id, input=list(texts))
        except openai.OpenAIError as exc:
            error = self._redact(f"{EMBEDDING_TASK} by {model_id} failed: {exc}")
            self._record(
                LedgerEntry(
                    task=EMBEDDING_TASK,
                    model_requested=model_id,
                    model_served=None,
                    latency_s=self._monotonic() - started,
                    error=error,
                )
            )
            raise LLMCallError(error) from None
        finally:
            client.close()
        tokens = answer.usage.prompt_tokens
        extra = answer.usage.model_extra or {}
        self._record(
            LedgerEntry(
                task=EMBEDDING_TASK,
                model_requested=model_id,
                model_served=answer.model or model_id,
                input_tokens=tokens,
                output_tokens=0,
                cost_usd=call_cost(reported_cost({"token_usage": extra}), tokens, 0, spec),
                latency_s=self._monotonic() - started,
            )
        )
        vectors = np.asarray(
            [item.embedding for item in sorted(answer.data, key=lambda item: item.index)],
            dtype=np.float32,
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0.0, norms, 1.0)

    def _check_hard_limits(self) -> None:
        """LLMSkippedError for a paid call that a $0 budget or the hard spend cap forbids, for
        every task (a free stack, the offline analyst's, always passes)."""
        if self.stack.is_free():
            return
        if self.budget.daily_usd == 0 or self.budget.monthly_usd == 0:
            raise LLMSkippedError(
                "the LLM budget is $0 (DAILY_LLM_BUDGET or MONTHLY_LLM_BUDGET): no paid call is "
                "made, and orders that need a confirmation are not sent"
            )
        cap, spent = self._spend_cap_usd, self.spent_usd
        if cap is not None and spent >= cap:
            raise LLMSkippedError(
                f"the run's hard cost cap of ${cap:.4f} is spent (${spent:.4f}): no paid call is "
                "made, and orders that need a confirmation are not sent"
            )

    # ---- cache ------------------------------------------------------------------------------
    def _from_cache(
        self, cache: ResponseCache, request: LLMRequest, key: _RequestKey
    ) -> LLMResponse | None:
        replay = self._settings.cache_mode is CacheMode.REPLAY
        started = time.perf_counter()
        for model_id in self.router.cache_candidates(request, any_model=replay):
            answer = cache.get(key.for_model(model_id), ignore_ttl=replay)
            if answer is not None:
                try:
                    parsed = self._parsed(request, answer.content)
                except AnswerParseError:
                    cache.delete(key.for_model(model_id))  # stored before answers were checked
                    continue
                latency = time.perf_counter() - started
                self._record(
                    LedgerEntry(
                        task=request.task.value,
                        model_requested=model_id,
                        model_served=answer.model_served,
                        latency_s=latency,
                        cache_hit=True,
                    )
                )
                return LLMResponse(
                    content=answer.content,
                    task=request.task,
                    model_requested=model_id,
                    model_served=answer.model_served,
                    input_tokens=0,
                    output_tokens=0,
                    cost_usd=0.0,
                    latency_s=latency,
                    cache_hit=True,
                    parsed=parsed,
                )
        if replay:
            raise ReplayMissError(
                f"replay mode: no cached answer for task {request.task.value} (template "
                f"{request.template_version}); re-run once with LLM_CACHE_MODE=read_write"
            )
        return None

    # ---- the retry loop ---------------------------------------------------------------------
    def _call_chain(
        self, request: LLMRequest, route: Route, key: _RequestKey | None
    ) -> LLMResponse:
        queue = list(route.models)
        reasons: list[str] = []
        allowed_s = self._settings.call_deadline_s
        if request.time_left_s is not None:
            allowed_s = min(allowed_s, request.time_left_s)
        deadline = self._monotonic() + allowed_s
        position = 0
        while position < len(queue):
            if self._monotonic() >= deadline:
                untried = ", ".join(queue[position:])
                reasons.append(f"the call's deadline passed, not tried: {untried}")
                break
            model_id = queue[position]
            position += 1
            allowed = route.models if route.critical else None
            outcome = self._try_model(
                request, model_id, queue[position:], allowed=allowed, deadline=deadline, key=key
            )
            if isinstance(outcome, LLMResponse):
                return outcome
            plural = "s" if outcome.attempts != 1 else ""
            reasons.append(
                f"{model_id}: {outcome.failure.describe()} ({outcome.attempts} request{plural})"
            )
            if outcome.failure.kind is FailureKind.CONTEXT_LENGTH:
                long_model = self.router.long_context_retry(route, model_id)
                if long_model is not None and long_model not in queue[:position]:
                    queue = [*queue[:position], long_model, *queue[position:]]
                    queue = list(dict.fromkeys(queue))
        raise LLMCallError(
            f"every model failed for task {request.task.value}: " + "; ".join(reasons)
        ) from None

    def _try_model(
        self,
        request: LLMRequest,
        model_id: str,
        later: Sequence[str],
        *,
        allowed: Sequence[str] | None,
        deadline: float,
        key: _RequestKey | None,
    ) -> LLMResponse | _ModelFailed:
        """`model_id`'s answer, retried up to the attempt limit and the call's `deadline`
        (monotonic seconds); `allowed`, for a critical task, the models that may serve it."""
        spec = self.stack.model(model_id)
        try:
            chat = self._chat_model(spec)
        except LLMConfigError as exc:
            return _ModelFailed(Failure(FailureKind.NOT_CONFIGURED, self._redact(str(exc))), 0)
        alias, options = self._request_setup(spec, request, later)

        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                with self._within_cap(spec, request):
                    message = chat.invoke(list(request.messages), **options)
            except LLMSkippedError:
                raise
            except Exception as exc:
                failure = self._failed_attempt(
                    request, model_id, exc, time.perf_counter() - started
                )
            else:
                latency = time.perf_counter() - started
                answered = self._charge(
                    request, spec, alias, message, latency, allowed=allowed, key=key
                )
                if isinstance(answered, LLMResponse):
                    return answered
                failure = answered
            wait = self._after_failure(request, model_id, failure, attempt)
            if wait is None:
                return _ModelFailed(failure, attempt)
            if self._monotonic() + wait >= deadline:
                late = f"{failure.describe()}; no retry within the call's deadline"
                return _ModelFailed(Failure(FailureKind.DEADLINE, late), attempt)
            self._sleep(wait)

    def _failed_attempt(
        self, request: LLMRequest, model_id: str, exc: Exception, latency: float
    ) -> Failure:
        """Record the attempt that raised `exc` and say what it stands for.

        An exception that is not a model failure is recorded, then re-raised unchanged; an
        endpoint that refuses us stops the run (`LLMGatewayDownError`).
        """
        failure = classify(exc)
        if failure is None:
            self._record_failure(request, model_id, f"unexpected {type(exc).__name__}", latency)
            raise exc
        failure = Failure(failure.kind, self._redact(failure.detail), failure.retry_after_s)
        self._record_failure(request, model_id, failure.describe(), latency)
        if failure.kind is FailureKind.AUTH:
            raise LLMGatewayDownError(
                f"the LLM endpoint refused us ({model_id}: {failure.describe()}); check the key "
                f"and the endpoint: {self._where()}"
            ) from None
        return failure

    def _after_failure(
        self, request: LLMRequest, model_id: str, failure: Failure, attempt: int
    ) -> float | None:
        """Log a failed attempt (at info level: the caller sees the summary) and return the
        wait in seconds before a retry (None: move on to the next model)."""
        attempts = self._settings.max_attempts_per_model
        logger.info(
            "%s: %s attempt %d/%d failed: %s",
            request.task.value,
            model_id,
            attempt,
            attempts,
            failure.describe(),
        )
        cooled = failure.transient and self.router.cooldown.record_failure(model_id)
        if cooled:
            logger.info("%s cooled down after repeated failures", model_id)
        if cooled or attempt >= attempts:
            return None
        return self._retry_wait(failure, attempt)

    def _retry_wait(self, failure: Failure, attempt: int) -> float | None:
        """Seconds before retrying the same model, or None to move on to the next one."""
        if not failure.transient:
            return None
        cap = self._settings.max_backoff_s
        if failure.retry_after_s is not None:
            # A server asking for longer than we will wait is better served by the next model.
            return failure.retry_after_s if failure.retry_after_s <= cap else None
        return min(self._settings.backoff_base_s * 2 ** (attempt - 1), cap)

    # ---- one answered call ------------------------------------------------------------------
    def _charge(
        self,
        request: LLMRequest,
        spec: ModelSpec,
        alias: str,
        message: Any,
        latency: float,
        *,
        allowed: Sequence[str] | None,
        key: _RequestKey | None,
    ) -> LLMResponse | Failure:
        """Charge an answered call (a ledger row, budget alerts), then accept it: the answer, also
        cached (`key` is None when the cache is off); or the reason it is unusable, charged but
        neither cached nor returned. `allowed`: the models that may serve a critical task."""
        usage = message.usage_metadata or {}
        input_tokens = int(usage.get("input_tokens", 0))
        output_tokens = int(usage.get("output_tokens", 0))
        metadata = message.response_metadata or {}
        served = identify_served(self.stack, str(metadata.get("model_name") or alias), spec, alias)
        cost = call_cost(
            reported_cost(metadata),
            input_tokens,
            output_tokens,
            price_list_for(self.stack, served),
        )
        content = self._redact(str(message.text))  # a server may echo the key in an answer
        parsed, failure = None, None
        if allowed is not None and served not in allowed:
            detail = (
                f"answered by {served}, which is not in the task's chain ({', '.join(allowed)})"
            )
            failure = Failure(FailureKind.WRONG_MODEL, self._redact(detail))
        else:
            try:
                parsed = self._parsed(request, content)
            except AnswerParseError as exc:
                failure = Failure(FailureKind.INVALID_ANSWER, self._redact(str(exc)))
        self._record(
            LedgerEntry(
                task=request.task.value,
                model_requested=spec.id,
                model_served=served,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost,
                latency_s=latency,
                error=None if failure is None else failure.describe(),
            )
        )
        if cost > 0:
            self.budget.check_alerts()
        if failure is not None:
            return failure
        self.router.cooldown.record_success(spec.id)
        writes_cache = self._settings.cache_mode is CacheMode.READ_WRITE
        if key is not None and self.cache is not None and writes_cache:
            self.cache.put(
                key.for_model(spec.id),
                CachedAnswer(
                    spec.id, served, content, input_tokens, output_tokens, self.cache.now()
                ),
            )
        logger.info(
            "%s served by %s (asked %s): %d+%d tokens, $%.6f, %.2fs",
            request.task.value,
            served,
            spec.id,
            input_tokens,
            output_tokens,
            cost,
            latency,
        )
        return LLMResponse(
            content=content,
            task=request.task,
            model_requested=spec.id,
            model_served=served,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_s=latency,
            cache_hit=False,
            parsed=parsed,
        )

    @staticmethod
    def _parsed(request: LLMRequest, content: str) -> BaseModel | None:
        """`content` validated as the request's schema (None without one); AnswerParseError."""
        if request.response_schema is None:
            return None
        return parse_answer(content, request.response_schema)

    def _where(self) -> str:
        """The endpoint in words, for errors that stop a run (names variables, never keys)."""
        if isinstance(self._factory, OpenAIChatFactory):
            return describe_configuration(self._settings)
        return repr(self._factory)

    def _record(self, entry: LedgerEntry) -> None:
        stored = self.ledger.record(entry)
        with self._spend_lock:
            self._spent_usd += entry.cost_usd
        for listener in self._listeners:
            listener(stored)

    def _record_failure(
        self, request: LLMRequest, model_id: str, error: str, latency: float
    ) -> None:
        self._record(
            LedgerEntry(
                task=request.task.value,
                model_requested=model_id,
                model_served=None,
                latency_s=latency,
                error=error,
            )
        )

    # ---- chat models and per-request options ------------------------------------------------
    def _chat_model(self, spec: ModelSpec) -> BaseChatModel:
        """One chat model per model id, made on first use (creation is idempotent)."""
        chat = self._chat_models.get(spec.id)
        if chat is None:
            chat = self._chat_models.setdefault(spec.id, self._factory(spec))
        return chat

    def _request_setup(
        self, spec: ModelSpec, request: LLMRequest, later: Sequence[str]
    ) -> tuple[str, dict[str, Any]]:
        """(the endpoint's id for the model, invoke() keyword options)."""
        if not isinstance(self._factory, OpenAIChatFactory):
            return spec.id, {}
        endpoint = self._factory.endpoint(spec)
        options: dict[str, Any] = {}
        if request.response_schema is not None and spec.structured_output:
            options["response_format"] = _json_schema_format(request.response_schema)
        if endpoint.supports_fallback_list and later:
            options["extra_body"] = {"models": list(later[:_OPENROUTER_MAX_FALLBACKS])}
        return endpoint.model_id, options

    # ---- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self.ledger.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Gateway(stack={self.stack.source!r}, cache_mode={self._settings.cache_mode.value}, "
            f"factory={self._factory!r})"
        )


def _json_schema_format(schema: type[BaseModel]) -> dict[str, Any]:
    """An OpenAI `response_format` asking for JSON that follows `schema` (non-strict)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.__name__,
            "schema": schema.model_json_schema(),
            "strict": False,
        },
    }
