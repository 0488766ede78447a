"""The date column of a user's table as tz-naive UTC instants, or one error naming row and rule.

What files hold, and how each is read:
- ISO 8601 text (`2017-01-02`, `2017-01-02 22:00`, `2017-01-02T22:00:00Z`, with an offset or
  not): read as it is.
- Other text (`01.01.2017 22:00:00.000`, `01/02/2017`, `Jan 2, 2017`): pandas guesses the format
  from the first row (`guess_datetime_format`), month first and day first. A guess must read
  every row; of two that do and disagree, the one whose dates strictly increase wins, and dotted
  dates (`01.02.2017`) are day first, the only convention that writes them. Two readings still
  left are refused as ambiguous, naming the first row they read differently and `--date-format`.
- Numbers: Unix epoch seconds, milliseconds, microseconds or nanoseconds (told apart by size:
  each unit's values for the years 1973 to 5138 do not overlap), or YYYYMMDD integers.
- `date_format` (the `--date-format` option, a strftime format such as `%d/%m/%Y`) replaces the
  guessing: every row must match it.
Offsets are converted to UTC and then dropped (the data contract's index is tz-naive), so a file
whose offset changes with summer time reads as one clock. One exception: when every row carries
an offset and falls at local midnight (daily bars stamped with their exchange's zone, as yfinance
writes them), the local calendar dates are kept. In UTC, a Tokyo session's midnight (+09:00) is
15:00 the day before, and every bar would trade on the wrong date. This holds for ISO 8601 text
and for tz-aware columns (Parquet); text read with a guessed or given format is converted to UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from envs.errors import MarketDataError

# Epoch values of 1973-03 to 5138-11 in each unit: 1e8 s, 1e11 ms, 1e14 us, 1e17 ns and up.
_EPOCH_UNITS: tuple[tuple[float, str], ...] = ((1e8, "s"), (1e11, "ms"), (1e14, "us"), (1e17, "ns"))
_YYYYMMDD = (19000101, 21001231)
_ISO_LOCAL_MIDNIGHT = (
    r"(\d{4}-?\d{2}-?\d{2})[T ]00(?::?00(?::?00(?:[.,]0+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)"
)
"""ISO 8601 midnight with an offset; group 1 is the date."""
_HINT = "pass --date-format, e.g. --date-format '%d/%m/%Y'"


def parse_dates(values: pd.Series, source: str, date_format: str | None = None) -> np.ndarray:
    """datetime64[ns] values of the date column `values` of `source` (see the module docstring).

    date_format: a strftime format every row must match (None: recognise the format).
    """
    values = values.reset_index(drop=True)
    if date_format is not None:
        try:
            parsed = _with_format(values.astype("string"), date_format)
        except ValueError as exc:  # a directive strptime does not know, e.g. %Q
            raise MarketDataError(
                f"--date-format {date_format!r}: {str(exc).splitlines()[0]}",
                source=source,
                rule="bad date format",
            ) from None
        _refuse_unread(parsed, values, source, f"does not match --date-format {date_format!r}")
    elif pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            parsed = _local_midnights(values.dt.tz_localize(None), parsed)
    elif pd.api.types.is_bool_dtype(values):
        raise MarketDataError(
            "the date column holds true/false values", source=source, rule="unparseable date"
        )
    elif pd.api.types.is_numeric_dtype(values):
        parsed = _from_numbers(values, source)
    else:
        parsed = _from_text(values.astype("string"), source)
    try:
        return parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        detail = str(exc).splitlines()[0]
        raise MarketDataError(detail, source=source, rule="unparseable date") from None


def _with_format(text: pd.Series, date_format: str) -> pd.Series:
    return pd.to_datetime(text, format=date_format, utc=True, errors="coerce")


def _refuse_unread(parsed: pd.Series, values: pd.Series, source: str, why: str) -> None:
    """Raise naming the first row `parsed` could not read (NaT), if there is one."""
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise MarketDataError(
            f"date={_cell(values, row)} {why}", source=source, rule="unparseable date", row=row + 1
        )


def _cell(values: pd.Series, row: int) -> str:
    """Row `row` of `values` as the file shows it: text quoted, numbers plain."""
    value = values.iloc[row]
    return repr(str(value)) if isinstance(value, str) else str(value)


def _from_numbers(values: pd.Series, source: str) -> pd.Series:
    """Epoch times in one unit, or YYYYMMDD integers."""
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    first = numbers[0]
    if _YYYYMMDD[0] <= first <= _YYYYMMDD[1] and float(first).is_integer():
        text = pd.Series(numbers).map(lambda n: f"{n:.0f}" if np.isfinite(n) else "")
        parsed = _with_format(text.astype("string"), "%Y%m%d")
        _refuse_unread(parsed, values, source, "is not a YYYYMMDD date like row 1")
        return parsed
    units = np.searchsorted([low for low, _ in _EPOCH_UNITS], np.abs(numbers), side="right")
    if not np.isfinite(first) or units[0] == 0:
        raise MarketDataError(
            f"date={_cell(values, 0)}: numbers that are neither epoch times (seconds to"
            " nanoseconds since 1970) nor YYYYMMDD dates",
            source=source,
            rule="unparseable date",
            row=1,
        )
    other = (units != units[0]) | ~np.isfinite(numbers)
    if other.any():
        row = int(np.argmax(other))
        raise MarketDataError(
            f"date={_cell(values, row)} is not an epoch time in the unit of row 1"
            f" ({_EPOCH_UNITS[units[0] - 1][1]})",
            source=source,
            rule="unparseable date",
            row=row + 1,
        )
    return pd.Series(pd.to_datetime(numbers, unit=_EPOCH_UNITS[units[0] - 1][1], utc=True))


def _from_text(text: pd.Series, source: str) -> pd.Series:
    """ISO 8601, else the one reading of a guessed format (see the module docstring)."""
    try:
        iso = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    except ValueError:  # pandas <2.2 refused mixed offsets even with utc=True
        iso = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if pd.notna(iso.iloc[0]):
        _refuse_unread(iso, text, source, "is not an ISO 8601 date like row 1")
        return _local_midnights(_iso_local_dates(text), iso)
    readings = _readings(str(text.iloc[0]), text)
    complete = [parsed for parsed in readings if parsed.notna().all()]
    if not complete:
        best = max(readings, key=lambda parsed: int(parsed.notna().sum()), default=iso)
        _refuse_unread(best, text, source, f"is not a date pandas can read; {_HINT}")
    increasing = [parsed for parsed in complete if parsed.is_monotonic_increasing]
    candidates = increasing or complete
    first, *others = candidates
    for other in others:
        differ = (first != other).to_numpy()
        if differ.any():
            row = int(np.argmax(differ))
            raise MarketDataError(
                f"date={_cell(text, row)} reads as {first.iloc[row]:%Y-%m-%d} month first and"
                f" {other.iloc[row]:%Y-%m-%d} day first; {_HINT}",
                source=source,
                rule="ambiguous date",
                row=row + 1,
            )
    return first


def _iso_local_dates(text: pd.Series) -> pd.Series | None:
    """The dates of ISO 8601 text every row of which is midnight with an offset, else None."""
    if not text.str.fullmatch(_ISO_LOCAL_MIDNIGHT).all():
        return None
    return pd.to_datetime(text.str.extract(_ISO_LOCAL_MIDNIGHT)[0], format="ISO8601")


def _local_midnights(local: pd.Series | None, utc: pd.Series) -> pd.Series:
    """`local` (local wall-clock times) as UTC-labelled dates if every one is at midnight, else
    the instants `utc` (see the module docstring)."""
    if local is None or not (local == local.dt.normalize()).all():
        return utc
    return pd.Series(local.to_numpy(), index=utc.index).dt.tz_localize("UTC")


def _readings(sample: str, text: pd.Series) -> list[pd.Series]:
    """The column read with each format guessed from `sample`: month first, then day first;
    day first only for dotted dates."""
    dotted = "." in sample.split(" ", maxsplit=1)[0].strip(".")
    guesses = [guess_datetime_format(sample, dayfirst=True)]
    if not dotted:
        guesses.insert(0, guess_datetime_format(sample))
    formats = list(dict.fromkeys(guess for guess in guesses if guess is not None))
    return [_with_format(text, date_format) for date_format in formats]
