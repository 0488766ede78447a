"""Causal, scale-free features of daily bars: row t uses bars <= t only.

Indicators come from TA-Lib, the long-established C indicator library, rather than hand-written
formulas. Every feature is free of price units (returns, ratios, indicators divided by the close),
so that an agent trained on one market can run on another whose prices differ by orders of
magnitude. The overnight gap (open / previous close) is left out on purpose: in the `sp500` file
the open equals the previous close until 2007, so that feature would change meaning halfway
through the data. TA-Lib's recursive indicators (RSI, ATR, ADX, the EMAs of MACD) start from the
first bar given, so they are computed once on the full history and then cut into splits, never
recomputed on a split alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

FEATURE_NAMES: tuple[str, ...] = (
    "log_return_1",  # log(close_t / close_t-1)
    "log_return_5",
    "log_return_20",
    "realized_vol_20",  # population std of the last 20 daily log returns
    "intraday_range",  # log(high_t / low_t)
    "close_location",  # where the close sits in the day's range, 0 = low, 1 = high
    "rsi_14",  # RSI / 100
    "macd_pct",  # MACD(12, 26) line / close
    "macd_hist_pct",  # MACD line minus its 9-bar signal, / close
    "natr_14",  # average true range / close
    "adx_14",  # trend strength / 100
    "bollinger_percent_b_20",  # (close - lower band) / (upper - lower), 2 std bands
    "bollinger_width_20",  # (upper - lower) / middle band
    "close_to_sma_50",  # log(close / 50-bar simple moving average)
    "volume_zscore_20",  # z-score of log(1 + volume) against its last 20 bars
)

# Leading rows in which some feature is still NaN (the 50-bar SMA needs 49 earlier bars).
WARMUP_BARS = 49


def compute_features(bars: pd.DataFrame) -> pd.DataFrame:
    """One float64 row of FEATURE_NAMES per bar, same index; the first WARMUP_BARS rows hold NaN."""
    h, lo, c, v = (
        np.ascontiguousarray(bars[name].to_numpy(dtype=np.float64))
        for name in ("high", "low", "close", "volume")
    )
    log_close = np.log(c)
    log_return_1 = _log_change(log_close, 1)
    macd, _, macd_hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    log_volume = np.log1p(v)
    columns = {
        "log_return_1": log_return_1,
        "log_return_5": _log_change(log_close, 5),
        "log_return_20": _log_change(log_close, 20),
        "realized_vol_20": talib.STDDEV(log_return_1, timeperiod=20, nbdev=1.0),
        "intraday_range": np.log(h) - np.log(lo),
        "close_location": _ratio_or(c - lo, h - lo, fallback=0.5),
        "rsi_14": talib.RSI(c, timeperiod=14) / 100.0,
        "macd_pct": macd / c,
        "macd_hist_pct": macd_hist / c,
        "natr_14": talib.NATR(h, lo, c, timeperiod=14) / 100.0,
        "adx_14": talib.ADX(h, lo, c, timeperiod=14) / 100.0,
        "bollinger_percent_b_20": _ratio_or(c - lower, upper - lower, fallback=0.5),
        "bollinger_width_20": (upper - lower) / middle,
        "close_to_sma_50": log_close - np.log(talib.SMA(c, timeperiod=50)),
        "volume_zscore_20": _ratio_or(
            log_volume - talib.SMA(log_volume, timeperiod=20),
            talib.STDDEV(log_volume, timeperiod=20, nbdev=1.0),
            fallback=0.0,
        ),
    }
    return pd.DataFrame(columns, index=bars.index, columns=list(FEATURE_NAMES))


def _shifted(values: np.ndarray, lag: int) -> np.ndarray:
    """values[t - lag] at row t, NaN where t < lag."""
    out = np.full_like(values, np.nan)
    out[lag:] = values[:-lag]
    return out


def _log_change(log_values: np.ndarray, lag: int) -> np.ndarray:
    return log_values - _shifted(log_values, lag)


def _ratio_or(numerator: np.ndarray, denominator: np.ndarray, fallback: float) -> np.ndarray:
    """numerator / denominator, `fallback` where the denominator is 0 (a flat window), NaN kept."""
    out = np.where(np.isnan(denominator) | np.isnan(numerator), np.nan, fallback)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out
