"""A deterministic LangChain chat model that answers the analyst prompts without any network.

It plugs into the gateway exactly where `ChatOpenAI` does, so the offline path exercises the same
routing, ledger and parsing as the paid one. It reads only the text of the messages (images are
ignored; the chart prompt carries the same bars as a table) and answers with schema-valid JSON from
`offline_rules`. It is named `offline-analyst` everywhere and costs nothing; it reports the same
estimated token counts the gateway uses for routing, so the ledger shows how big the prompts were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from llm.gateway import CHARS_PER_TOKEN, OFFLINE_MODEL_ID, estimate_prompt_tokens
from llm.team.analysts.offline_rules import OFFLINE_RULES, Rule, answer_prompt


def content_text(content: object) -> str:
    """The text of a message content (a string, or a list of text/image blocks in LangChain or
    OpenAI form); images and other blocks are skipped."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


class OfflineAnalystChatModel(BaseChatModel):
    """Answers `(prompt ID/VERSION)`-tagged analyst prompts from the numbers in them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str = OFFLINE_MODEL_ID
    rules: Mapping[str, Rule] = Field(default_factory=lambda: dict(OFFLINE_RULES))

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_ID

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "rules": sorted(self.rules)}

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """What the base class returns, without its detour through the deprecated `dict()` under
        a warnings filter: the offline analyst answers every bar of a backtest."""
        return {**self._identifying_params, "_type": self._llm_type, "stop": stop, **kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing names (LangChain asks subclasses to set them rather than guess them)."""
        params = LangSmithParams(
            ls_provider=OFFLINE_MODEL_ID, ls_model_name=self.model_name, ls_model_type="chat"
        )
        if stop:
            params["ls_stop"] = stop
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(content_text(m.content) for m in messages)
        content = answer_prompt(prompt, self.rules).model_dump_json()
        usage = {
            "input_tokens": estimate_prompt_tokens(messages),
            "output_tokens": len(content) // CHARS_PER_TOKEN,
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        token_usage = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"],
            "cost": 0.0,
        }
        message = AIMessage(
            content=content,
            response_metadata={
                "model_name": self.model_name,
                "model_provider": OFFLINE_MODEL_ID,
                "token_usage": token_usage,
                "finish_reason": "stop",
            },
            usage_metadata=usage,
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": self.model_name, "token_usage": token_usage},
        )
