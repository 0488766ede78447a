"""What goes in and what comes out: facts about the prompt, and the answer parsed by its schema.

Facts about a list of chat messages that routing and caching need, without a tokenizer. The
prompt-size estimate is deliberately simple (about 4 characters per token, a flat charge per
image): it only decides whether a long-context model is needed and bounds a call's cost, and a
real tokenizer (tiktoken) would download its tables on first use.

Answers: models wrap JSON in ```json fences, add a sentence after it, or break the schema. We take
the first fenced block if there is one, otherwise the first JSON object in the text (anything after
it is ignored), then validate with pydantic. A failure is an `AnswerParseError`, which the gateway
treats as a failed attempt (retried, then the next model; never cached); it is never turned into a
neutral signal.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import ValidationError

from llm.gateway.types import AnswerParseError, SchemaT

CHARS_PER_TOKEN = 4
TOKENS_PER_IMAGE = 1_000
_IMAGE_BLOCK_TYPES = frozenset({"image_url", "image", "input_image"})


def _blocks(message: BaseMessage) -> list[Any]:
    content = message.content
    return [content] if isinstance(content, str) else list(content)


def _is_image(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in _IMAGE_BLOCK_TYPES


def has_image(messages: Sequence[BaseMessage]) -> bool:
    """True when any message carries an image content block (OpenAI or LangChain form)."""
    return any(_is_image(block) for message in messages for block in _blocks(message))


def estimate_prompt_tokens(messages: Sequence[BaseMessage]) -> int:
    """Rough prompt size in tokens: text characters / 4, plus a flat amount per image."""
    characters = 0
    images = 0
    for message in messages:
        for block in _blocks(message):
            if _is_image(block):
                images += 1
            elif isinstance(block, str):
                characters += len(block)
            elif isinstance(block, dict):
                characters += len(str(block.get("text", "")))
    return characters // CHARS_PER_TOKEN + images * TOKENS_PER_IMAGE + 4 * len(messages)


def messages_digest(messages: Sequence[BaseMessage]) -> str:
    """SHA-256 of the messages' roles, names and full content (image data included).

    Run ids and metadata are left out, so that the same prompt rebuilt later hashes the same.
    """
    canonical = [
        {"type": message.type, "name": message.name, "content": message.content}
        for message in messages
    ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- answers ----------------------------------------------------------------------------
_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_EXCERPT_CHARS = 160


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[:_EXCERPT_CHARS] + "..."


def extract_json_object(text: str) -> dict[str, object]:
    """The JSON object in `text`: a fenced block's content, else the first `{...}` object."""
    fenced = _FENCED.search(text)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        raise AnswerParseError(f"answer contains no JSON object: {_excerpt(text)!r}")
    try:
        value, _end = json.JSONDecoder().raw_decode(candidate, start)
    except json.JSONDecodeError as exc:
        raise AnswerParseError(
            f"answer is not valid JSON ({exc.msg} at char {exc.pos}): {_excerpt(text)!r}"
        ) from None
    if not isinstance(value, dict):
        raise AnswerParseError(f"answer JSON is a {type(value).__name__}, expected an object")
    return value


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "<answer>"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def parse_answer(text: str, schema: type[SchemaT]) -> SchemaT:
    """Parse and validate `text` as `schema`; raise `AnswerParseError` naming what was wrong."""
    payload = extract_json_object(text)
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        raise AnswerParseError(f"answer does not fit {schema.__name__}: {_describe(exc)}") from None
