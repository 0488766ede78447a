"""Performance of one strategy over one period: equity and positions in, a flat metrics dict out.

The ratios come from empyrical (Quantopian's reference implementations, kept alive as
empyrical-reloaded) so that our Sharpe means what everybody else's does. Shared by the agents'
out-of-sample evaluation and the orchestrator's backtest, so both report the same numbers.
"""

from __future__ import annotations

import math

import empyrical
import numpy as np

TRADING_DAYS_PER_YEAR = 252

METRIC_NAMES = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "turnover",
    "n_trades",
    "n_bars",
)


def performance_metrics(
    equity: np.ndarray,
    positions: np.ndarray,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> dict[str, float | None]:
    """Metrics of an equity curve and the target positions that produced it.

    `equity[0]` is the starting value and `equity[i]` the value after bar i, so there are
    `len(equity) - 1` periodic returns. `positions[i]` is the target position fraction held over
    bar i (before the first bar the strategy is flat), so `turnover` is the sum of absolute
    position changes in units of equity and `n_trades` the number of bars whose target changed.
    Ratios are annualised with `periods_per_year`. A strategy that never moves (all returns zero)
    has Sharpe and Sortino 0; a ratio that is otherwise undefined (Sortino with no losing bar) is
    None, so that the dict serialises to strict JSON.
    """
    equity = np.asarray(equity, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    if equity.ndim != 1 or len(equity) < 2:
        raise ValueError(f"equity must be 1-D with at least 2 values, got shape {equity.shape}")
    if positions.shape != (len(equity) - 1,):
        raise ValueError(
            f"positions must have one value per bar, shape ({len(equity) - 1},),"
            f" got {positions.shape}"
        )
    if not np.all(np.isfinite(equity)) or np.any(equity <= 0.0):
        raise ValueError("equity must be finite and positive")

    returns = equity[1:] / equity[:-1] - 1.0
    position_changes = np.abs(np.diff(positions, prepend=0.0))
    never_moved = not np.any(returns)
    return {
        "total_return": float(equity[-1] / equity[0] - 1.0),
        "annual_return": _finite_or_none(
            empyrical.annual_return(returns, annualization=periods_per_year)
        ),
        "annual_volatility": float(
            empyrical.annual_volatility(returns, annualization=periods_per_year)
        ),
        "sharpe": 0.0
        if never_moved
        else _finite_or_none(empyrical.sharpe_ratio(returns, annualization=periods_per_year)),
        "sortino": 0.0
        if never_moved
        else _finite_or_none(empyrical.sortino_ratio(returns, annualization=periods_per_year)),
        "max_drawdown": float(empyrical.max_drawdown(returns)),
        "turnover": float(position_changes.sum()),
        "n_trades": int(np.count_nonzero(position_changes)),
        "n_bars": len(returns),
    }


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
