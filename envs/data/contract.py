"""DESIGN.md's market-data contract, checked in one vectorised pass per rule.

Every check reports the FIRST offending row (1-based, in the order the rows came in), so a user can
find it in the file; when several rules fail, the earliest row wins and, on the same row, the rule
listed first below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from envs.errors import MarketDataError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OHLCV_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")


@dataclass(frozen=True)
class _RowRule:
    """A rule checked on every row at once: `broken` marks the rows that break it."""

    name: str
    broken: np.ndarray  # bool, one per row
    detail: Callable[[int], str]  # 0-based row -> what the values were


def format_date(stamp: pd.Timestamp) -> str:
    """A date as a user wrote it: no time of day when it is midnight (daily bars)."""
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")


def validate_bars(frame: pd.DataFrame, source: str) -> None:
    """Raise MarketDataError naming `source`, the first bad row and the rule, or return None."""
    _check_shape(frame, source)
    rules = _row_rules(frame)
    first_bad = [
        (int(np.argmax(rule.broken)), order)
        for order, rule in enumerate(rules)
        if rule.broken.any()
    ]
    if first_bad:
        row, order = min(first_bad)
        rule = rules[order]
        raise MarketDataError(rule.detail(row), source=source, rule=rule.name, row=row + 1)


def _check_shape(frame: pd.DataFrame, source: str) -> None:
    """Whole-frame rules: index type, time zone, columns, dtypes, at least one row."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise MarketDataError(
            f"expected a DatetimeIndex, got {type(frame.index).__name__}",
            source=source,
            rule="index type",
        )
    if frame.index.tz is not None:
        raise MarketDataError(
            f"dates must be tz-naive, got time zone {frame.index.tz}",
            source=source,
            rule="time zone",
        )
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        raise MarketDataError(
            f"{', '.join(missing)} (found: {', '.join(map(str, frame.columns)) or 'none'})",
            source=source,
            rule="missing column",
        )
    not_float = [name for name in OHLCV_COLUMNS if frame[name].dtype != np.float64]
    if not_float:
        raise MarketDataError(
            ", ".join(f"{name} is {frame[name].dtype}" for name in not_float)
            + ", expected float64",
            source=source,
            rule="column dtype",
        )
    if frame.empty:
        raise MarketDataError("no data rows", source=source, rule="empty file")


def _row_rules(frame: pd.DataFrame) -> list[_RowRule]:
    values = {name: frame[name].to_numpy() for name in OHLCV_COLUMNS}
    o, h, lo, c, v = (values[name] for name in OHLCV_COLUMNS)
    table = np.column_stack([o, h, lo, c, v])
    nan = np.isnan(table)
    infinite = np.isinf(table)
    stamps = frame.index.asi8
    step = np.concatenate(([1], np.diff(stamps)))  # the first row has no predecessor
    dates = frame.index
    non_positive = table[:, :4] <= 0.0

    def first_column(mask_row: np.ndarray, columns: tuple[str, ...] = OHLCV_COLUMNS) -> str:
        return columns[int(np.argmax(mask_row))]

    def show(row: int, *names: str) -> str:
        shown = " ".join(f"{name}={values[name][row]:.10g}" for name in names)
        return f"date={format_date(dates[row])} {shown}"

    def bad_value(mask: np.ndarray) -> Callable[[int], str]:
        return lambda row: show(row, first_column(mask[row]))

    return [
        _RowRule("NaN", nan.any(axis=1), lambda row: f"{first_column(nan[row])} is missing"),
        _RowRule("infinite value", infinite.any(axis=1), bad_value(infinite)),
        _RowRule(
            "duplicate date",
            step == 0,
            lambda row: f"date={format_date(dates[row])} repeats row {row}",
        ),
        _RowRule(
            "decreasing date",
            step < 0,
            lambda row: (
                f"date={format_date(dates[row])} is before row {row}'s"
                f" {format_date(dates[row - 1])}"
            ),
        ),
        _RowRule("non-positive price", np.any(non_positive, axis=1), bad_value(non_positive)),
        _RowRule("negative volume", v < 0, lambda row: show(row, "volume")),
        _RowRule("high < low", h < lo, lambda row: show(row, "high", "low")),
        _RowRule(
            "open outside [low, high]",
            (o < lo) | (o > h),
            lambda row: show(row, "open", "low", "high"),
        ),
        _RowRule(
            "close outside [low, high]",
            (c < lo) | (c > h),
            lambda row: show(row, "close", "low", "high"),
        ),
    ]
