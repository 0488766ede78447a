"""A `FakeOpenAIServer` responder that answers analyst prompts like the offline analyst.

It lets graph tests and benchmarks run the real HTTP path (ChatOpenAI -> server -> JSON answer)
with answers that depend on the prompt, exactly as the in-process offline analyst would give.
"""

from __future__ import annotations

from typing import Any

from llm.team.analysts import answer_prompt, content_text


def offline_responder(body: dict[str, Any]) -> str:
    """The offline analyst's JSON answer to the prompt in an OpenAI chat-completions body."""
    text = "\n".join(content_text(message.get("content")) for message in body.get("messages", []))
    return answer_prompt(text).model_dump_json()
