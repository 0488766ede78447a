"""A gateway stand-in that serves every request with one chat model, free and in process.

For tests that are not about the gateway, and for measuring the graph and the offline analyst
without the gateway's ledger and routing (the graph tests over HTTP use the real gateway).
"""

from __future__ import annotations

import time

from langchain_core.language_models import BaseChatModel

from llm.gateway import LLMRequest, LLMResponse, parse_answer


class InProcessGateway:
    """Answers with `model`, records every request, charges nothing; parses the answer as the
    request's schema, as the gateway does (AnswerParseError when it does not fit)."""

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        started = time.perf_counter()
        message = self.model.invoke(list(request.messages))
        usage = message.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
        served = str(message.response_metadata.get("model_name", "unknown"))
        schema = request.response_schema
        return LLMResponse(
            content=message.text,
            task=request.task,
            model_requested=served,
            model_served=served,
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cost_usd=0.0,
            latency_s=time.perf_counter() - started,
            cache_hit=False,
            parsed=None if schema is None else parse_answer(message.text, schema),
        )

    def close(self) -> None:
        """Nothing to release."""
