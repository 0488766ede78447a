"""The one validation style of the orchestrator: pydantic, failing as the orchestrator's own errors.

Settings (`Settings`) and checked values (`Value`) are frozen, strict pydantic models: a number
field takes an int or a float but never a bool or a string, and the range of each field is a
`Field` constraint beside it. A plain function checks its arguments the same way with
`checked_args`. Whatever pydantic refuses comes out as `ConfigError`, `InvalidInputError` (or the
error type a value names) with one line per problem, `Owner.field: what is wrong, got value`, so
the CLI can print it as it prints every other user error.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, validate_call

from orchestrator.errors import ConfigError, InvalidInputError, OrchestratorError

F = TypeVar("F", bound=Callable[..., Any])

_STRICT = ConfigDict(frozen=True, strict=True, extra="forbid")

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
UnitInterval = Annotated[float, Field(ge=0.0, le=1.0)]
Position = Annotated[float, Field(ge=-1.0, le=1.0)]
"""A target position or signal as a fraction of equity: +1 fully long, -1 fully short."""


class Value(BaseModel):
    """A frozen value checked when it is built; a refused field raises `invalid_error`."""

    model_config = _STRICT
    invalid_error: ClassVar[type[OrchestratorError]] = InvalidInputError

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self.invalid_error(describe(exc)) from None

    # Only the constructor converts the error: pydantic's own validation (`from_mapping`, a
    # nested value) then runs as for a plain model, instead of calling this `__init__`.
    __init__.__dict__["__pydantic_base_init__"] = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Self:
        """A value read back from the JSON values it was saved as (`model_dump(mode="json")`).

        Checked as strictly as a new value, in pydantic's JSON mode: what JSON cannot write is
        read back from what it wrote instead (an object for a nested value, an array for a tuple,
        an ISO string for a date), and nothing else is converted.
        """
        try:
            text = json.dumps(dict(data), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise cls.invalid_error(f"{cls.__name__}: not JSON values: {exc}") from None
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise cls.invalid_error(describe(exc)) from None

    def copy_with(self, **changes: Any) -> Self:
        """A copy with `changes`, checked like a new value (`model_copy` would not check them)."""
        return type(self)(**{**dict(self), **changes})


class Settings(Value):
    """Settings of a run: a setting out of its range is a `ConfigError`."""

    invalid_error: ClassVar[type[OrchestratorError]] = ConfigError


def checked_args(error: type[OrchestratorError] = InvalidInputError) -> Callable[[F], F]:
    """Check a function's arguments against their annotations (pydantic's `validate_call`,
    strict), raising `error` naming the argument. An argument annotated `SkipValidation[...]` is
    passed as it is (e.g. an object pydantic cannot check, like a cost model).
    """

    def decorate(function: F) -> F:
        names = tuple(inspect.signature(function).parameters)

        @functools.cache
        def validated() -> Callable[..., Any]:
            # Built at the first call: a method's annotations may name its class, not yet defined
            # while the class body runs.
            return validate_call(config=ConfigDict(strict=True))(function)

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return validated()(*args, **kwargs)
            except ValidationError as exc:
                raise error(describe(exc, names)) from None

        return cast(F, call)

    return decorate


def describe(exc: ValidationError, argument_names: Sequence[str] = ()) -> str:
    """Every problem pydantic found, `Owner.field: what is wrong, got value`, joined by "; "."""
    lines = []
    for problem in exc.errors(include_url=False):
        where = [exc.title]
        for depth, part in enumerate(problem["loc"]):
            if depth == 0 and isinstance(part, int) and part < len(argument_names):
                where.append(argument_names[part])  # a positional argument, by its name
            else:
                where.append(str(part))
        message = problem["msg"].removeprefix("Value error, ")
        shown = problem["loc"] and problem["type"] != "missing"
        got = f", got {problem['input']!r}" if shown else ""
        lines.append(f"{'.'.join(where)}: {message}{got}")
    return "; ".join(lines)
