"""Read a local CSV or Parquet file, or any raw OHLCV table, into validated bars.

Column names are case-insensitive ('Adj_Close' and 'adj close' match too); extra columns are
dropped. Dates come from the first column named Datetime, Timestamp, Date or Time (a Date column
and a Time column are read together, as MetaTrader writes them), else from an unnamed first column
(what pandas' `df.to_csv()` writes), else from the index; `envs.data.dates` reads their values.

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

from envs.data.contract import OHLCV_COLUMNS, format_date, validate_bars
from envs.data.dates import parse_dates
from envs.errors import MarketDataError

CSV_SUFFIXES: tuple[str, ...] = (".csv", ".txt")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")

_DATE_COLUMNS = ("datetime", "timestamp", "date", "time")
_UNNAMED_FIRST = ("unnamed: 0", "")  # pandas' name for a header cell left empty
_ADJ_CLOSE = "adj close"
_OTHER_DELIMITERS = (";", "\t", "|")


def load_file(path: Path, date_format: str | None = None) -> pd.DataFrame:
    """Validated bars from a local CSV or Parquet file.

    date_format: the strftime format of its dates (None: recognised, see `envs.data.dates`).
    """
    source = str(path)
    if not path.is_file():
        raise MarketDataError("no such file", source=source, rule="file not found")
    if path.stat().st_size == 0:
        raise MarketDataError("the file is 0 bytes", source=source, rule="empty file")
    reader = _read_parquet if path.suffix.lower() in PARQUET_SUFFIXES else _read_csv
    return frame_from_table(reader(path, source), source, date_format)


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


def frame_from_table(
    table: pd.DataFrame, source: str, date_format: str | None = None
) -> pd.DataFrame:
    """Turn a raw table (any column case, date column or index, extras) into validated bars.

    date_format: the strftime format of its dates (None: recognised, see `envs.data.dates`).
    """
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
    index = pd.DatetimeIndex(parse_dates(dates, source, date_format), name="date")
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
    """The date column (see the module docstring), or else the index (Parquet files often hold
    one)."""
    found = [name for name in _DATE_COLUMNS if name in table.columns]
    if found[:2] == ["date", "time"]:
        return table["date"].astype("string") + " " + table["time"].astype("string")
    if found:
        return table[found[0]]
    if len(table.columns) and table.columns[0] in _UNNAMED_FIRST:
        return table.iloc[:, 0]
    index_name = str(table.index.name or "").lower()
    if isinstance(table.index, pd.DatetimeIndex) or index_name in _DATE_COLUMNS:
        return table.index.to_series()
    raise MarketDataError(
        f"no Date, Time, Datetime or Timestamp column, unnamed first column or date index (found:"
        f" {', '.join(map(str, table.columns))})",
        source=source,
        rule="missing column",
    )


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
            f"date={format_date(bars.index[row])} adj close={adj_close[row]:.10g}",
            source=source,
            rule="bad adj close",
            row=row + 1,
        )
    factor = adj_close / bars["close"].to_numpy()
    if np.all(factor == 1.0):
        return bars
    prices = ["open", "high", "low", "close"]
    adjusted = bars.copy()
    adjusted[prices] = bars[prices].to_numpy() * factor[:, None]
    return adjusted
