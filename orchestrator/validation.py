"""One range check shared by every orchestrator dataclass, so each rule reads as one line."""

from __future__ import annotations

import math
from numbers import Real

from orchestrator.errors import ConfigError, InvalidInputError, OrchestratorError


def checked_number(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    error: type[OrchestratorError] = InvalidInputError,
) -> float:
    """`value` as a float if it is a real number inside the stated interval, else `error`.

    NaN is always refused; an infinity only with `allow_inf` (used for "no limit" settings).
    The message names the field and the interval, e.g. ``agree_threshold must be in [0, 1]``.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise error(f"{name} must be a number, got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise error(f"{name} must be a finite number, got {value!r}")
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise error(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}")
    return number


def checked_setting(
    owner: object,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """The config field `owner.name` checked as `checked_number` does, raising `ConfigError`."""
    return checked_number(
        f"{type(owner).__name__}.{name}",
        getattr(owner, name),
        low=low,
        high=high,
        low_open=low_open,
        high_open=high_open,
        allow_inf=allow_inf,
        error=ConfigError,
    )
