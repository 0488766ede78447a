"""Markets and snapshots for the analyst-graph tests; what a ledger holds."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from llm import AccountView, Ledger, LedgerEntry, MarketSnapshot, snapshot_from_frame
from llm.gateway.ledger import day_start, month_start


def trend_frame(n_bars: int = 120, drift: float = 0.0, seed: int = 7) -> pd.DataFrame:
    """Daily OHLCV bars whose log price drifts by `drift` per bar plus seeded noise."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2021-01-04", periods=n_bars)
    close = 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.002, n_bars))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.004, n_bars)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.004, n_bars)))
    volume = np.round(rng.uniform(1e6, 2e6, n_bars))
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def trend_snapshot(drift: float, *, news: str | None = None, seed: int = 7) -> MarketSnapshot:
    frame = trend_frame(drift=drift, seed=seed)
    return snapshot_from_frame(
        frame, frame.index[-1], symbol="TEST", news=news, portfolio=AccountView(equity=1e5)
    )


def spend_totals(ledger: Ledger) -> tuple[float, float]:
    """(dollars since midnight UTC, dollars since the first of the month) by the ledger's clock."""
    now = ledger.now()
    return ledger.spend_since(day_start(now)), ledger.spend_since(month_start(now))


def ledger_rows(path: Path) -> list[LedgerEntry]:
    """Every row of the ledger file at `path`, oldest first, read through a connection of its own
    (what a second process would see)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT task, model_requested, model_served, input_tokens, output_tokens, cost_usd, "
            "latency_s, cache_hit, error, at FROM calls ORDER BY id"
        ).fetchall()
    return [
        LedgerEntry(
            *row[:7], cache_hit=bool(row[7]), error=row[8], at=datetime.fromisoformat(row[9])
        )
        for row in rows
    ]
