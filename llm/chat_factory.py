"""Builds the real chat clients: one `langchain_openai.ChatOpenAI` per model, for its endpoint.

The SDK's own retries are off (`max_retries=0`) so that the gateway's retry loop is the only one,
and every call has a timeout. Any other `ChatModelFactory` (the offline analyst, a test double)
can stand in for this one.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from llm.endpoints import Endpoint, resolve_endpoint
from llm.model_stack import ModelSpec
from llm.settings import LLMSettings

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
        return ChatOpenAI(
            model=endpoint.model_id,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=self._settings.timeout_s,
            max_retries=0,
            max_tokens=self._settings.max_output_tokens,
            temperature=self._settings.temperature,
        )

    def __repr__(self) -> str:
        return "OpenAIChatFactory()"
