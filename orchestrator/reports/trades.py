"""Round trips: each strategy's fills read as trades, and the per-trade statistics beside the
per-bar ones.

A trade opens when a fill takes the position away from flat and closes when a fill brings it back
(a fill that flips the side closes one trade and opens the next). Fills in between that add to or
trim the position belong to the trade: its entry price is the average price of what it bought (a
long; sold, a short), its exit price that of what it sold, its shares the most it held, and its
net return its profit after commissions and slippage over what its entries cost. A trade still
open at the end is marked at the last close and listed as open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from orchestrator.runs import BacktestResult, StrategyResult, TradeFill

TRADE_COLUMNS = (
    "strategy",
    "side",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "shares",
    "net_return",
    "bars_held",
    "open",
)


@dataclass
class _Trade:
    side: float  # +1 long, -1 short
    entry_date: pd.Timestamp
    bought: float = 0.0  # shares entered, and what they cost
    entry_value: float = 0.0
    sold: float = 0.0  # shares exited, and what they fetched
    exit_value: float = 0.0
    commission: float = 0.0
    held: float = 0.0  # shares held now, and the most held
    most_held: float = 0.0

    def enter(self, shares: float, price: float, commission: float) -> None:
        self.bought += shares
        self.entry_value += shares * price
        self.commission += commission
        self.held += shares
        self.most_held = max(self.most_held, self.held)

    def exit(self, shares: float, price: float, commission: float) -> None:
        self.sold += shares
        self.exit_value += shares * price
        self.commission += commission
        self.held -= shares

    def row(self, exit_date: pd.Timestamp, bars: pd.DatetimeIndex, still_open: bool) -> dict:
        pnl = self.side * (self.exit_value - self.entry_value) - self.commission
        return {
            "side": "long" if self.side > 0 else "short",
            "entry_date": self.entry_date,
            "entry_price": self.entry_value / self.bought,
            "exit_date": exit_date,
            "exit_price": self.exit_value / self.sold,
            "shares": self.most_held,
            "pnl": pnl,
            "net_return": pnl / self.entry_value,
            "bars_held": int(bars.get_loc(exit_date) - bars.get_loc(self.entry_date)),
            "open": still_open,
        }


def round_trips(
    fills: Iterable[TradeFill], bars: pd.DatetimeIndex, last_close: float | None
) -> pd.DataFrame:
    """One row per trade (see the module docstring) from `fills` in order, dated on `bars`."""
    rows: list[dict[str, Any]] = []
    trade: _Trade | None = None
    for fill in fills:
        shares, commission = fill.shares, fill.commission
        while abs(shares) > 1e-9:
            if trade is None:
                trade = _Trade(np.sign(shares), fill.date)
            part = abs(shares) if np.sign(shares) == trade.side else min(abs(shares), trade.held)
            cost = commission * part / abs(shares)
            if np.sign(shares) == trade.side:
                trade.enter(part, fill.price, cost)
            else:
                trade.exit(part, fill.price, cost)
            shares -= np.sign(shares) * part
            commission -= cost
            if trade.held <= 1e-9 * trade.most_held:
                rows.append(trade.row(fill.date, bars, still_open=False))
                trade = None
    if trade is not None and last_close is not None:
        trade.exit(trade.held, last_close, 0.0)
        rows.append(trade.row(bars[-1], bars, still_open=True))
    table = pd.DataFrame(rows, columns=[c for c in TRADE_COLUMNS if c != "strategy"] + ["pnl"])
    # dates typed even with no trade: an untyped empty column makes every table it joins untyped
    return table.astype({"entry_date": bars.dtype, "exit_date": bars.dtype})


def trade_metrics(run: StrategyResult) -> dict[str, Any]:
    """The per-trade statistics of one strategy and its time in the market; strict-JSON values
    (None where a figure is undefined, e.g. a profit factor without a losing trade)."""
    trades = round_trips(run.fills, run.frame.index, run.last_close)
    held = run.frame["held_position"].to_numpy()[1:]
    wins, losses = trades[trades["pnl"] > 0.0], trades[trades["pnl"] <= 0.0]
    return {
        "round_trips": len(trades),
        "trade_win_rate": _mean(trades["pnl"] > 0.0),
        "avg_win": _mean(wins["net_return"]),
        "avg_loss": _mean(losses["net_return"]),
        "profit_factor": (
            float(wins["pnl"].sum() / -losses["pnl"].sum()) if losses["pnl"].sum() < 0 else None
        ),
        "avg_bars_held": _mean(trades["bars_held"]),
        "exposure": float(np.mean(held != 0.0)) if len(held) else None,
        "avg_abs_position": float(np.mean(np.abs(held))) if len(held) else None,
    }


def trades_table(result: BacktestResult) -> pd.DataFrame:
    """trades.csv: every strategy's trades, one row each (dates as equity.csv writes them)."""
    parts = [
        round_trips(run.fills, run.frame.index, run.last_close).assign(strategy=name)
        for name, run in result.strategies.items()
    ]
    table = pd.concat(parts, ignore_index=True)[list(TRADE_COLUMNS)]
    return table.astype({"bars_held": int, "open": bool})


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None
