"""Turn a model's text answer into a validated schema object, or say exactly why not.

Models wrap JSON in ```json fences, add a sentence after it, or break the schema. We take the
first fenced block if there is one, otherwise the first JSON object in the text (anything after it
is ignored), then validate with pydantic. A failure is an `AnswerParseError`: the graph records it
as an error; it is never turned into a neutral signal.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from llm.gateway import LLMError

SchemaT = TypeVar("SchemaT", bound=BaseModel)

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_EXCERPT_CHARS = 160


class AnswerParseError(LLMError):
    """A model answer that is not valid JSON for the expected schema."""


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
