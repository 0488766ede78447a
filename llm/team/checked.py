"""Frozen value and configuration objects checked by pydantic, failing with the package's error.

`Checked` is a frozen pydantic dataclass (positional arguments, `dataclasses.replace` and equality
work as for any dataclass). Its fields' types and constraints are the rules; a value that breaks
one raises the subclass's `error` (an `LLMError`) naming the field and the value, not pydantic's
`ValidationError`. A subclass's rules across fields (`model_validator(mode="after")`) raise that
error themselves: it is not a `ValueError`, so pydantic lets it through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import ClassVar, Self

from pydantic import ConfigDict, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from llm.gateway import LLMError

CHECKED = ConfigDict(allow_inf_nan=False)
"""The subclasses' pydantic config: every float must be finite."""


@dataclass(frozen=True, slots=True, config=CHECKED)
class Checked:
    """Base of the checked objects; `error` is what a broken rule raises."""

    error: ClassVar[type[LLMError]] = LLMError

    @model_validator(mode="wrap")
    @classmethod
    def _own_error(cls, data: object, handler: Callable[[object], Self]) -> Self:
        try:
            return handler(data)
        except ValidationError as exc:
            raise cls.error(_describe(cls, exc)) from None


def _describe(kind: type, exc: ValidationError) -> str:
    """One clause per broken rule, naming the field (positional arguments by their name)."""
    names = [f.name for f in fields(kind)]
    problems = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        if loc and isinstance(loc[0], int) and loc[0] < len(names):
            loc[0] = names[loc[0]]
        where = ".".join(str(part) for part in loc)
        prefix = f"{where}: " if where else ""
        problems.append(f"{prefix}{error['msg']} (got {error.get('input')!r})")
    return f"invalid {kind.__name__}: " + "; ".join(problems)
