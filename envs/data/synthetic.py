"""A seeded regime-switching market whose true regimes are known, for tests and quick experiments.

Real data never tells you which regime it was in; this generator does, so that tests can check that
an agent or an analyst reacts to bull, bear and sideways markets the way it should. The model:

- regimes follow a persistent Markov chain (mean stays of a few months);
- each regime has its own drift and long-run volatility; volatility clusters GARCH(1,1)-style
  around that level, with Student-t shocks for fat tails;
- the daily log return is split into an overnight gap (close -> open) and an intraday move
  (open -> close); wicks extend above and below the body, so OHLC always meets the data contract;
- volume rises with |return| relative to volatility and with the volatility level itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from envs.data.contract import validate_bars

DEFAULT_SEED = 7
DEFAULT_N_BARS = 2520  # about ten years of business days
DEFAULT_START = "2005-01-03"
SOURCE_NAME = "synthetic"


class Regime(StrEnum):
    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"


_REGIMES = (Regime.BULL, Regime.BEAR, Regime.SIDEWAYS)
# Row = today's regime, column = tomorrow's; mean stays of about 125, 60 and 80 days.
_TRANSITIONS = np.array(
    [
        [0.992, 0.003, 0.005],
        [0.008, 0.9835, 0.0085],
        [0.007, 0.0055, 0.9875],
    ]
)
_DRIFT = np.array([0.0008, -0.0020, 0.0])  # mean daily log return per regime
_LONG_RUN_VOL = np.array([0.008, 0.016, 0.011])  # daily volatility each regime reverts to
_GARCH_ALPHA = 0.08  # weight of yesterday's squared shock
_GARCH_BETA = 0.90  # persistence of yesterday's variance
_STUDENT_DF = 5.0
_GAP_SHARE = 0.25  # share of daily variance that happens overnight
_WICK_SCALE = 0.6  # wick length in units of the day's volatility
_BASE_VOLUME = 2.0e6
_START_PRICE = 100.0


@dataclass(frozen=True, eq=False)
class SyntheticMarket:
    """Validated bars and the regime that generated each of them (same index)."""

    bars: pd.DataFrame
    regimes: pd.Series


def generate_synthetic_market(
    seed: int = DEFAULT_SEED, n_bars: int = DEFAULT_N_BARS, start: str = DEFAULT_START
) -> SyntheticMarket:
    """Business-day bars from `start`; the same seed always gives the same market."""
    if n_bars < 2:
        raise ValueError(f"n_bars must be at least 2, got {n_bars}")
    rng = np.random.default_rng(seed)
    regime_ids = _simulate_regimes(rng, n_bars)
    returns, vol = _simulate_returns(rng, regime_ids)
    index = pd.bdate_range(start=start, periods=n_bars, name="date").as_unit("ns")
    bars = pd.DataFrame(_ohlcv(rng, returns, vol), index=index)
    validate_bars(bars, SOURCE_NAME)
    regimes = pd.Series(np.asarray(_REGIMES, dtype=object)[regime_ids], index=index, name="regime")
    return SyntheticMarket(bars=bars, regimes=regimes)


def _simulate_regimes(rng: np.random.Generator, n_bars: int) -> np.ndarray:
    cumulative = np.cumsum(_TRANSITIONS, axis=1)
    draws = rng.random(n_bars)
    ids = np.empty(n_bars, dtype=np.int64)
    ids[0] = rng.integers(len(_REGIMES))
    for t in range(1, n_bars):
        ids[t] = min(int(np.searchsorted(cumulative[ids[t - 1]], draws[t])), len(_REGIMES) - 1)
    return ids


def _simulate_returns(rng: np.random.Generator, regime_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Daily log returns and their conditional volatility (GARCH(1,1) around the regime's level)."""
    n_bars = len(regime_ids)
    shocks = rng.standard_t(_STUDENT_DF, n_bars) * np.sqrt((_STUDENT_DF - 2) / _STUDENT_DF)
    long_run_var = _LONG_RUN_VOL[regime_ids] ** 2
    omega = long_run_var * (1 - _GARCH_ALPHA - _GARCH_BETA)
    variance = np.empty(n_bars)
    variance[0] = long_run_var[0]
    for t in range(1, n_bars):
        innovation = variance[t - 1] * shocks[t - 1] ** 2
        variance[t] = omega[t] + _GARCH_ALPHA * innovation + _GARCH_BETA * variance[t - 1]
    vol = np.sqrt(variance)
    return _DRIFT[regime_ids] + vol * shocks, vol


def _ohlcv(rng: np.random.Generator, returns: np.ndarray, vol: np.ndarray) -> dict[str, np.ndarray]:
    n_bars = len(returns)
    gap = rng.normal(0.0, np.sqrt(_GAP_SHARE) * vol)
    gap[0] = 0.0
    close = _START_PRICE * np.exp(np.cumsum(returns))
    previous_close = np.concatenate(([_START_PRICE * np.exp(-returns[0])], close[:-1]))
    open_ = previous_close * np.exp(gap)
    body_top = np.maximum(open_, close)
    body_bottom = np.minimum(open_, close)
    high = body_top * np.exp(np.abs(rng.normal(0.0, _WICK_SCALE * vol)))
    low = body_bottom * np.exp(-np.abs(rng.normal(0.0, _WICK_SCALE * vol)))
    surprise = np.abs(returns) / vol  # how unusual the day was, in its own volatility
    vol_level = np.log(vol / np.median(vol))
    log_volume = 0.35 * surprise + 0.8 * vol_level + rng.normal(0.0, 0.25, n_bars)
    volume = np.round(_BASE_VOLUME * np.exp(log_volume))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
