"""Where a model's requests go: the configured gateway, OpenRouter, or the provider's own endpoint.

Resolution order: `LLM_GATEWAY_BASE_URL` with `LLM_GATEWAY_API_KEY` / `TETRATE_API_KEY`, then
`OPENROUTER_API_KEY` with OpenRouter's base URL, then the direct provider key that the model's
stack entry names. The first that is configured serves every model it can.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from llm.gateway.model_stack import ModelSpec, ModelStack
from llm.gateway.settings import LLMSettings
from llm.gateway.types import LLMConfigError


class EndpointKind(StrEnum):
    GATEWAY = "gateway"
    OPENROUTER = "openrouter"
    DIRECT = "direct"


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint for one model. The key stays a SecretStr (masked in repr)."""

    kind: EndpointKind
    base_url: str
    api_key: SecretStr
    model_id: str  # the id this endpoint knows the model by

    @property
    def supports_fallback_list(self) -> bool:
        """Whether the endpoint takes OpenRouter's `models` fallback list in the request body."""
        return self.kind is EndpointKind.OPENROUTER


def resolve_endpoint(settings: LLMSettings, spec: ModelSpec) -> Endpoint:
    """The endpoint for `spec` in resolution order; LLMConfigError naming what to set if none."""
    gateway_url = settings.resolved_gateway_base_url
    gateway_key = settings.resolved_gateway_key
    if gateway_url and gateway_key is not None:
        return Endpoint(EndpointKind.GATEWAY, gateway_url, gateway_key, spec.id)
    if settings.openrouter_api_key is not None:
        return Endpoint(
            EndpointKind.OPENROUTER,
            settings.openrouter_base_url,
            settings.openrouter_api_key,
            spec.id,
        )
    direct = spec.direct
    if direct is not None and direct.api_key_env in settings.provider_keys:
        key = settings.provider_keys[direct.api_key_env]
        return Endpoint(EndpointKind.DIRECT, direct.base_url.rstrip("/"), key, direct.model)
    direct_hint = f", or {direct.api_key_env} (its provider's key)" if direct else ""
    raise LLMConfigError(
        f"no API key for model {spec.id!r}: set LLM_GATEWAY_BASE_URL with LLM_GATEWAY_API_KEY "
        f"(or TETRATE_API_KEY), or OPENROUTER_API_KEY{direct_hint}; "
        "or run with the offline LLM (--llm offline)"
    )


def check_every_task_served(settings: LLMSettings, stack: ModelStack) -> None:
    """Fail at start-up, not mid-run, when some task has no model with an endpoint.

    With direct provider keys only, models of other providers are skipped at call time.
    """
    for task, route in stack.tasks.items():
        problems = []
        for model_id in route.chain:
            try:
                resolve_endpoint(settings, stack.model(model_id))
                break
            except LLMConfigError as exc:
                problems.append(str(exc))
        else:
            raise LLMConfigError(f"task {task.value}: {problems[0]}")


def describe_configuration(settings: LLMSettings) -> str:
    """One line saying which endpoint gateway mode would use, naming variables, never keys."""
    if settings.resolved_gateway_base_url and settings.resolved_gateway_key is not None:
        variable = "LLM_GATEWAY_API_KEY" if settings.gateway_api_key else "TETRATE_API_KEY"
        return f"gateway {settings.resolved_gateway_base_url} (key from {variable})"
    if settings.openrouter_api_key is not None:
        return f"OpenRouter {settings.openrouter_base_url} (key from OPENROUTER_API_KEY)"
    if settings.provider_keys:
        return "direct provider keys: " + ", ".join(sorted(settings.provider_keys))
    return (
        "no key set: only the offline LLM works (set LLM_GATEWAY_BASE_URL with "
        "LLM_GATEWAY_API_KEY or TETRATE_API_KEY, or OPENROUTER_API_KEY)"
    )


ChatModelFactory = Callable[[ModelSpec], BaseChatModel]
"""Makes the chat model that serves one model of the stack."""


class OpenAIChatFactory:
    """`ChatOpenAI` clients on the endpoint that settings resolve for each model."""

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings

    def endpoint(self, spec: ModelSpec) -> Endpoint:
        """Where `spec`'s requests go; LLMConfigError naming the variables when nowhere."""
        return resolve_endpoint(self._settings, spec)

    def __call__(self, spec: ModelSpec) -> BaseChatModel:
        endpoint = self.endpoint(spec)
        timeout_s = self._settings.timeout_s
        return ChatOpenAI(
            model=endpoint.model_id,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=timeout_s,
            http_client=httpx.Client(transport=WholeAnswerDeadline(timeout_s), timeout=timeout_s),
            max_retries=0,
            max_completion_tokens=self._settings.max_output_tokens,  # the field max_tokens
            temperature=self._settings.temperature,
        )

    def __repr__(self) -> str:
        return "OpenAIChatFactory()"


class WholeAnswerDeadline(httpx.BaseTransport):
    """An HTTP transport that bounds a whole answer, not each read of it.

    httpx's timeout applies to each read: a server that sends its answer a byte a second never
    times out, and a run waits as long as the server likes. Here the body must have arrived
    within `seconds` of the request; past that, the next chunk raises httpx's ReadTimeout, which
    the OpenAI client reports as a timeout and the gateway counts as a failed attempt.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._seconds
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)  # a sync transport's
        body = _BodyBefore(response.stream, deadline, request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=body,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class _BodyBefore(httpx.SyncByteStream):
    """A response body that must be read whole before `deadline` (time.monotonic)."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: float, request: httpx.Request):
        self._stream, self._deadline, self._request = stream, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout(
                    "the answer took longer than the timeout", request=self._request
                )
            yield chunk

    def close(self) -> None:
        self._stream.close()
