"""Facts about a list of chat messages that routing and caching need, without a tokenizer.

The prompt-size estimate is deliberately simple (about 4 characters per token, a flat charge per
image): it only decides whether a long-context model is needed and bounds a call's cost, and a
real tokenizer (tiktoken) would download its tables on first use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

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
