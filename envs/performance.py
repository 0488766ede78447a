"""Performance of one strategy over one period: equity and positions in, a flat metrics dict out.

The ratios come from empyrical (Quantopian's reference implementations, kept alive as
empyrical-reloaded) so that our Sharpe means what everybody else's does. Shared by the agents'
out-of-sample evaluation and the orchestrator's backtest, so both report the same numbers.
The Sharpe ratio's confidence interval resamples the returns with `arch`'s stationary bootstrap
(Politis & Romano 1994), whose random-length blocks keep the serial dependence of daily returns
(volatility clustering) that an i.i.d. bootstrap would destroy; the mean block length is Politis
& White's (2004) automatic choice, also from `arch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import empyrical
import numpy as np
from arch.bootstrap import StationaryBootstrap, optimal_block_length

TRADING_DAYS_PER_YEAR = 252
MIN_BOOTSTRAP_RETURNS = 20
"""Fewer returns give no interval: the automatic block length needs about 12, and an interval
from a few weeks of returns would only dress noise up as a range."""


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
    `calmar` is the annual return over |max drawdown|; `win_rate` is the share of bars with a
    position held (positions != 0) whose return was positive (None when never in the market).
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
        "calmar": _finite_or_none(empyrical.calmar_ratio(returns, annualization=periods_per_year)),
        "win_rate": _win_rate(returns, positions),
        "turnover": float(position_changes.sum()),
        "n_trades": int(np.count_nonzero(position_changes)),
        "n_bars": len(returns),
    }


def sharpe_confidence_interval(
    returns: np.ndarray,
    *,
    level: float = 0.95,
    reps: int = 1000,
    seed: int = 0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> tuple[float, float] | None:
    """Percentile interval of the annualised Sharpe ratio of periodic `returns` at `level`
    (`bootstrap_interval`); a strategy that never moves (all returns zero) has (0, 0)."""
    return bootstrap_interval(
        returns,
        lambda sample: _sharpe(sample, periods_per_year),
        level=level,
        reps=reps,
        seed=seed,
    )


def bootstrap_interval(
    returns: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    level: float = 0.95,
    reps: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile interval at `level` of `statistic` of periodic `returns` (e.g. an annual
    return or a max drawdown computed from them).

    Stationary block bootstrap (module docstring), `reps` resamples drawn from `seed`, so the
    same returns always give the same interval. None with fewer than `MIN_BOOTSTRAP_RETURNS`
    returns; returns that never move (all zero) give the statistic of that one series twice.
    """
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 1 or not np.all(np.isfinite(returns)):
        raise ValueError("returns must be a 1-D array of finite values")
    if not 0.0 < level < 1.0 or reps < 1:
        raise ValueError(f"level must be in (0, 1) and reps >= 1, got {level} and {reps}")
    if len(returns) < MIN_BOOTSTRAP_RETURNS:
        return None
    if not np.any(returns):
        value = float(statistic(returns))
        return (value, value)
    block = float(optimal_block_length(returns)["stationary"].iloc[0])
    bootstrap = StationaryBootstrap(max(1, math.ceil(block)), returns, seed=seed)
    low, high = bootstrap.conf_int(
        lambda sample: np.array([statistic(sample)]),
        reps=reps,
        method="percentile",
        size=level,
    )[:, 0]
    return float(low), float(high)


def _sharpe(returns: np.ndarray, periods_per_year: int) -> float:
    std = returns.std(ddof=1)
    return 0.0 if std == 0.0 else float(returns.mean() / std * math.sqrt(periods_per_year))


def _win_rate(returns: np.ndarray, positions: np.ndarray) -> float | None:
    in_market = positions != 0.0
    return float(np.mean(returns[in_market] > 0.0)) if in_market.any() else None


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
