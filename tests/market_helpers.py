"""Small valid markets and files for the data tests, built by hand so expected values are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CSV_HEADER = "Date,Open,High,Low,Close,Volume"


def good_rows(n_rows: int = 6) -> list[list[str]]:
    """CSV rows (as text cells) of a valid daily market starting 2020-01-02."""
    dates = pd.bdate_range("2020-01-02", periods=n_rows)
    rows = []
    for i, day in enumerate(dates):
        close = 10.0 + i
        rows.append(
            [
                day.date().isoformat(),
                f"{close - 0.5}",
                f"{close + 1}",
                f"{close - 1}",
                f"{close}",
                f"{1000 + i}",
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]], header: str = CSV_HEADER, sep: str = ",") -> Path:
    lines = [header.replace(",", sep), *(sep.join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def random_bars(
    rng: np.random.Generator, index: pd.DatetimeIndex, start_price: float
) -> pd.DataFrame:
    """Random bars that meet the data contract (used to overwrite 'the future' in tests)."""
    n_bars = len(index)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.02, n_bars)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n_bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, n_bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, n_bars)))
    volume = np.round(rng.uniform(1e5, 1e7, n_bars))
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def exchange_hours(n_bars: int, start: str = "2015-01-02") -> pd.DatetimeIndex:
    """`n_bars` hourly bars of a US stock: 09:30 to 15:30, seven a business day, from `start`."""
    days = pd.bdate_range(start, periods=n_bars // 7 + 1)
    hours = pd.to_timedelta([9.5 + h for h in range(7)], unit="h")
    return pd.DatetimeIndex([day + hour for day in days for hour in hours][:n_bars], name="Date")
