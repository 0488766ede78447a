"""The one error type a user can cause in `agents`, and pydantic's errors put in its words."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails


class AgentError(Exception):
    """A clear, user-facing problem with an agent, its files or its training options.

    The message names what is wrong and where (the file, the option, the features that differ),
    so the CLI can print it as one line with no traceback.
    """


Loc = tuple[int | str, ...]
NameOf = Callable[[Loc, FieldInfo | None], str]
"""How a message names the value at a location: an option flag, a record's field path."""

_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_Bound = annotated_types.Gt | annotated_types.Ge | annotated_types.Lt | annotated_types.Le


def validation_message(exc: ValidationError, model: type[BaseModel], name_of: NameOf) -> str:
    """The errors of `exc` as `NAME must be RULE`, the first of each name, on one line.

    A bound is stated whole from the field's constraints ("in (0, 1]", "at least 1"), not just
    the side that failed, so the message says what to type instead.
    """
    clauses: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        field = _field_at(model, loc)
        name = name_of(loc, field)
        clauses.setdefault(name, _clause(error, loc, field, name))
    return "; ".join(clauses.values())


def field_path(loc: Loc) -> str:
    """A location as a record's readers write it: `map.intercepts[1]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _clause(error: ErrorDetails, loc: Loc, field: FieldInfo | None, name: str) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    about_item = bool(loc) and isinstance(loc[-1], int)
    if kind == "missing":
        return f"{name} is missing"
    if kind == "extra_forbidden":
        return f"{name} is not expected"
    if kind == "value_error":  # our validators raise ValueError("must be ...")
        return f"{name} {ctx['error']}"
    if kind in _BOUND_ERRORS and field is not None and not about_item:
        return f"{name} must be {_rule(_bounds(field.metadata), field)}, got {error['input']!r}"
    if kind in _BOUND_ERRORS:
        bound = _bound_from_context(ctx)
        return f"{name} must be {_rule([bound], None)}, got {error['input']!r}"
    if kind == "finite_number":
        return f"{name} must be finite, got {error['input']!r}"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    if kind == "too_short":
        return f"{name} must hold at least {ctx['min_length']} value(s)"
    if kind in ("literal_error", "enum"):
        return f"{name} must be {ctx['expected']}, got {error['input']!r}"
    return f"{name} is malformed ({error['msg']}, got {error['input']!r})"


def _field_at(model: type[BaseModel], loc: Loc) -> FieldInfo | None:
    """The field the location ends in (list indices skipped), following nested models."""
    field = None
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        field = current.model_fields[part]
        current = _model_inside(field.annotation)
    return field


def _model_inside(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (itself, or the items of a tuple of models)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (tuple, list, typing.Union, types.UnionType):
        return next(filter(None, map(_model_inside, typing.get_args(annotation))), None)
    return None


def _bounds(metadata: Sequence[object]) -> list[_Bound]:
    return [m for m in metadata if isinstance(m, _Bound)]


def _bound_from_context(ctx: dict[str, Any]) -> _Bound:
    """The one bound a failed item check reports, e.g. `{"ge": 0}` -> Ge(0)."""
    for key, kind in _BOUND_KINDS.items():
        if key in ctx:
            return kind(ctx[key])
    raise ValueError(f"no bound in {ctx}")


_BOUND_KINDS: dict[str, Callable[[Any], _Bound]] = {
    "gt": annotated_types.Gt,
    "ge": annotated_types.Ge,
    "lt": annotated_types.Lt,
    "le": annotated_types.Le,
}


def _rule(bounds: Sequence[_Bound], field: FieldInfo | None) -> str:
    """The allowed range in words: `positive`, `at least 2`, `in (0, 1]`, `finite and ...`."""
    lower = next(
        (b for b in bounds if isinstance(b, annotated_types.Gt | annotated_types.Ge)), None
    )
    upper = next(
        (b for b in bounds if isinstance(b, annotated_types.Lt | annotated_types.Le)), None
    )
    if lower is not None and upper is not None:
        opening = "(" if isinstance(lower, annotated_types.Gt) else "["
        closing = ")" if isinstance(upper, annotated_types.Lt) else "]"
        rule = f"in {opening}{_limit(lower)}, {_limit(upper)}{closing}"
    elif isinstance(lower, annotated_types.Gt):
        rule = "positive" if _limit(lower) == "0" else f"greater than {_limit(lower)}"
    elif isinstance(lower, annotated_types.Ge):
        rule = "non-negative" if _limit(lower) == "0" else f"at least {_limit(lower)}"
    elif isinstance(upper, annotated_types.Lt):
        rule = f"less than {_limit(upper)}"
    elif isinstance(upper, annotated_types.Le):
        rule = f"at most {_limit(upper)}"
    else:
        rule = "within its bounds"
    return f"finite and {rule}" if field is not None and _refuses_inf_nan(field) else rule


def _limit(bound: _Bound) -> str:
    value: Any
    if isinstance(bound, annotated_types.Gt):
        value = bound.gt
    elif isinstance(bound, annotated_types.Ge):
        value = bound.ge
    elif isinstance(bound, annotated_types.Lt):
        value = bound.lt
    else:
        value = bound.le
    return f"{value:g}"


def _refuses_inf_nan(field: FieldInfo) -> bool:
    return any(getattr(m, "allow_inf_nan", True) is False for m in field.metadata)
