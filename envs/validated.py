"""Frozen value objects checked by pydantic, whose bad values raise the package's own errors.

Settings and values (`EnvConfig`, `CostModel`, `MarketArrays`, `Splits`, `FeatureNormalizer`) state
their rules as pydantic field constraints. pydantic reports a problem as a multi-line
`ValidationError`, but the CLI prints every error a user can cause as one `error: ...` line, so
`validated_dataclass` re-raises the first problem as the error type the class names, naming the
field in the words of its `description`: ``EnvConfig.window_size must be an int >= 1, got 0``. A
check of the whole object (a `model_validator`) words its own message.

They are pydantic dataclasses rather than models so that `dataclasses.replace`, `fields` and
`asdict` keep working for the code that derives and saves settings (an agent's manifest).
Validation is strict: no string, bool or list stands in for a number or a tuple.
"""

from __future__ import annotations

import dataclasses
import functools
import reprlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, dataclass_transform

import pydantic
from pydantic import ConfigDict, ValidationError

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def validated_dataclass(
    error: Callable[[str], Exception], *, eq: bool = True, arbitrary_types: bool = False
) -> Callable[[type[T]], type[T]]:
    """Make a class a frozen pydantic dataclass whose bad values raise `error(message)`.

    eq: compare instances field by field (False for classes holding arrays, which have no single
        truth value).
    arbitrary_types: allow fields of types pydantic does not know (arrays, timestamps), which are
        checked with isinstance only.
    """
    config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=arbitrary_types)

    def decorate(cls: type[T]) -> type[T]:
        model: Any = pydantic.dataclasses.dataclass(frozen=True, eq=eq, config=config)(cls)
        names = tuple(field.name for field in dataclasses.fields(model) if field.init)
        validate = model.__init__

        @functools.wraps(validate)
        def init_raising_error(self: object, *args: object, **kwargs: object) -> None:
            try:
                validate(self, *args, **kwargs)
            except ValidationError as exc:
                given = {**dict(zip(names, args, strict=False)), **kwargs}
                raise error(_first_problem(model, exc, names, given)) from None

        model.__init__ = init_raising_error
        return model

    return decorate


def _first_problem(
    model: Any, exc: ValidationError, names: tuple[str, ...], given: Mapping[str, object]
) -> str:
    """One line for the first problem pydantic found: the field, its rule and the value given."""
    problem = exc.errors(include_url=False)[0]
    owner = model.__name__
    location = problem["loc"]
    if not location:  # a check of the whole object: its message already says what is wrong
        cause = problem.get("ctx", {}).get("error")
        return str(cause) if cause is not None else f"{owner}: {problem['msg']}"
    name = location[0]
    if isinstance(name, int):  # a positional argument
        name = names[name] if name < len(names) else str(name)
    if problem["type"] in ("missing", "missing_argument"):
        return f"{owner}.{name} is required"
    if problem["type"] == "unexpected_positional_argument":
        return f"{owner} takes at most {len(names)} arguments"
    field = model.__pydantic_fields__.get(name)
    if field is None:
        return f"{owner} has no field {name!r}"
    value = reprlib.repr(given.get(name))
    if field.description is None:
        return f"{owner}.{name}: {problem['msg']}, got {value}"
    return f"{owner}.{name} must be {field.description}, got {value}"
