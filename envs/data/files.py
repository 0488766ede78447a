"""Read a local CSV or Parquet file, or any raw OHLCV table, into validated bars.

Column names are case-insensitive ('Adj_Close' and 'adj close' match too); dates come from a Date
or Datetime column or the index; extra columns are dropped.

Adjusted prices: when a table has an "Adj Close" column, open, high, low and close are all scaled
by adj_close / close, so returns include dividends and splits while every bar keeps its OHLC
consistency (multiplying by one positive factor preserves every order). Volume is left as reported.
For `sp500` and `nasdaq` (price indices) Adj Close equals Close, so this changes nothing there.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from envs.data.contract import OHLCV_COLUMNS, validate_bars
from envs.errors import MarketDataError

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".txt")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")

_DATE_COLUMNS = ("date", "datetime")
_ADJ_CLOSE = "adj close"
_OTHER_DELIMITERS = (";", "\t", "|")


def load_file(path: Path) -> pd.DataFrame:
    """Validated bars from a local CSV or Parquet file."""
    source = str(path)
    if not path.is_file():
        raise MarketDataError("no such file", source=source, rule="file not found")
    if path.stat().st_size == 0:
        raise MarketDataError("the file is 0 bytes", source=source, rule="empty file")
    reader = _read_parquet if path.suffix.lower() in PARQUET_SUFFIXES else _read_csv
    return frame_from_table(reader(path, source), source)


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    """The raw table of a comma-separated file (a spreadsheet's byte-order mark is skipped)."""
    _check_delimiter(path, source)
    try:
        return pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise MarketDataError("no header and no rows", source=source, rule="empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MarketDataError(_first_line(exc), source=source, rule="unreadable CSV") from None


def _check_delimiter(path: Path, source: str) -> None:
    """A header with no comma but a ';', tab or '|' means a file pandas would read as one column."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    if "," in header:
        return
    for mark in _OTHER_DELIMITERS:
        if mark in header:
            raise MarketDataError(
                f"expected comma-separated columns, the header {header.strip()!r} uses {mark!r}",
                source=source,
                rule="wrong delimiter",
            )


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise MarketDataError(_first_line(exc), source=source, rule="unreadable Parquet") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def frame_from_table(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Turn a raw table (any column case, date column or index, extras) into validated bars."""
    columns = _normalised_columns(table, source)
    table = table.set_axis(columns, axis=1)
    dates = _date_values(table, source)
    if table.empty:
        raise MarketDataError("a header but no data rows", source=source, rule="empty file")
    missing = [name for name in OHLCV_COLUMNS if name not in table.columns]
    if missing:
        raise MarketDataError(
            f"{', '.join(missing)} (found: {', '.join(columns) or 'none'})",
            source=source,
            rule="missing column",
        )
    index = pd.DatetimeIndex(_parse_dates(dates, source), name="date")
    bars = pd.DataFrame(
        {name: _numbers(table[name], name, source) for name in OHLCV_COLUMNS}, index=index
    )
    validate_bars(bars, source)
    if _ADJ_CLOSE in table.columns:
        bars = _adjusted(bars, _numbers(table[_ADJ_CLOSE], _ADJ_CLOSE, source), source)
    return bars


def _normalised_columns(table: pd.DataFrame, source: str) -> list[str]:
    """Lower case, single spaces, '_' as a space: 'Adj_Close' and 'adj  close' both match."""
    names = [re.sub(r"[\s_]+", " ", str(name)).strip().lower() for name in table.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen and name in (*OHLCV_COLUMNS, *_DATE_COLUMNS, _ADJ_CLOSE):
            raise MarketDataError(
                f"{name!r} appears more than once (names are case-insensitive)",
                source=source,
                rule="duplicate column",
            )
        seen.add(name)
    return names


def _date_values(table: pd.DataFrame, source: str) -> pd.Series:
    """The dates, from a Date/Datetime column or else the index (Parquet files often carry one)."""
    for name in _DATE_COLUMNS:
        if name in table.columns:
            return table[name].reset_index(drop=True)
    index_name = str(table.index.name or "").lower()
    if isinstance(table.index, pd.DatetimeIndex) or index_name in _DATE_COLUMNS:
        return table.index.to_series().reset_index(drop=True)
    raise MarketDataError(
        f"no Date or Datetime column or index (found: {', '.join(map(str, table.columns))})",
        source=source,
        rule="missing column",
    )


def _parse_dates(values: pd.Series, source: str) -> np.ndarray:
    """datetime64[ns] dates, tz-naive in the exchange's wall-clock time."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise MarketDataError(
            f"the date column holds {values.dtype} numbers, not dates",
            source=source,
            rule="unparseable date",
        )
    else:
        parsed = _parse_date_text(values.astype("string"), source)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise MarketDataError(
            f"date={values.iloc[row]!r}", source=source, rule="unparseable date", row=row + 1
        )
    try:
        return parsed.to_numpy(dtype="datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError) as exc:
        raise MarketDataError(_first_line(exc), source=source, rule="unparseable date") from None


def _parse_date_text(text: pd.Series, source: str) -> pd.Series:
    """ISO 8601 first (it mixes dates and date-times), else the one format pandas infers."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if parsed.isna().any():
            inferred = pd.to_datetime(text, errors="coerce")
            if inferred.isna().sum() < parsed.isna().sum():
                parsed = inferred
    except ValueError as exc:  # pandas refuses rows with different UTC offsets
        raise MarketDataError(
            f"{_first_line(exc)}; write every date with one UTC offset, or none",
            source=source,
            rule="mixed time zones",
        ) from None
    return parsed


def _numbers(column: pd.Series, name: str, source: str) -> np.ndarray:
    """float64 values; text that is not a number is reported by row (empty cells become NaN)."""
    values = pd.to_numeric(column, errors="coerce")
    not_numbers = (values.isna() & column.notna()).to_numpy()
    if not_numbers.any():
        row = int(np.argmax(not_numbers))
        raise MarketDataError(
            f"{name}={column.iloc[row]!r}", source=source, rule="not a number", row=row + 1
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _adjusted(bars: pd.DataFrame, adj_close: np.ndarray, source: str) -> pd.DataFrame:
    bad = ~(np.isfinite(adj_close) & (adj_close > 0))
    if bad.any():
        row = int(np.argmax(bad))
        raise MarketDataError(
            f"adj close={adj_close[row]!r}", source=source, rule="bad adj close", row=row + 1
        )
    factor = adj_close / bars["close"].to_numpy()
    if np.all(factor == 1.0):
        return bars
    prices = ["open", "high", "low", "close"]
    adjusted = bars.copy()
    adjusted[prices] = bars[prices].to_numpy() * factor[:, None]
    return adjusted
