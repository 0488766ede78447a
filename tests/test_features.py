"""Features: hand-checked values, scale-freeness, warm-up, and the no-look-ahead proof."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs import FEATURE_NAMES, MarketArrays, prepare_market
from envs.data.contract import validate_bars
from envs.data.sources import load_market_data
from envs.features.indicators import WARMUP_BARS, compute_features
from tests.market_helpers import exchange_hours, random_bars


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_market_data("sp500")


@pytest.fixture(scope="module")
def features(bars: pd.DataFrame) -> pd.DataFrame:
    return compute_features(bars)


def with_random_future(bars: pd.DataFrame, t: int, seed: int) -> pd.DataFrame:
    """`bars` with every row after position t replaced by random valid bars."""
    future = random_bars(np.random.default_rng(seed), bars.index[t + 1 :], bars["close"].iloc[t])
    changed = pd.concat([bars.iloc[: t + 1], future])
    validate_bars(changed, "perturbed")
    return changed


def test_columns_index_and_warmup(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    assert tuple(features.columns) == FEATURE_NAMES
    assert features.index.equals(bars.index)
    complete = np.isfinite(features.to_numpy()).all(axis=1)
    assert not complete[:WARMUP_BARS].any()
    assert complete[WARMUP_BARS:].all()


def test_values_match_hand_computation(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    t = 1234
    close = bars["close"].to_numpy()
    high, low = bars["high"].to_numpy()[t], bars["low"].to_numpy()[t]
    returns = np.diff(np.log(close))[t - 20 : t]  # the 20 returns ending at bar t
    log_volume = np.log1p(bars["volume"].to_numpy()[t - 19 : t + 1])
    window = close[t - 19 : t + 1]
    lower, upper = window.mean() - 2 * window.std(), window.mean() + 2 * window.std()
    expected = {
        "log_return_1": np.log(close[t] / close[t - 1]),
        "log_return_5": np.log(close[t] / close[t - 5]),
        "log_return_20": np.log(close[t] / close[t - 20]),
        "realized_vol_20": returns.std(),
        "intraday_range": np.log(high / low),
        "close_location": (close[t] - low) / (high - low),
        "bollinger_percent_b_20": (close[t] - lower) / (upper - lower),
        "bollinger_width_20": (upper - lower) / window.mean(),
        "close_to_sma_50": np.log(close[t] / close[t - 49 : t + 1].mean()),
        "volume_zscore_20": (log_volume[-1] - log_volume.mean()) / log_volume.std(),
    }
    row = features.iloc[t]
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-7, abs=1e-9), name
    assert 0 < row["rsi_14"] < 1 and 0 < row["adx_14"] < 1 and 0 < row["natr_14"] < 0.1


def test_features_are_scale_free(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 1000.0
    np.testing.assert_allclose(compute_features(scaled), features, rtol=1e-6, atol=1e-9)


def test_flat_market_gives_finite_features_after_warmup() -> None:
    index = pd.bdate_range("2020-01-01", periods=80)
    flat = pd.DataFrame(
        {name: np.ones(80) for name in ("open", "high", "low", "close")} | {"volume": np.zeros(80)},
        index=index,
    )
    assert np.isfinite(compute_features(flat).to_numpy()[WARMUP_BARS:]).all()


@pytest.mark.parametrize("t", [5, WARMUP_BARS, 700, 3520, 4000, 5029])
def test_no_look_ahead_in_features(bars: pd.DataFrame, features: pd.DataFrame, t: int) -> None:
    changed = compute_features(with_random_future(bars, t, seed=t)).to_numpy()
    original = features.to_numpy()
    assert np.array_equal(changed[: t + 1], original[: t + 1], equal_nan=True)
    assert not np.array_equal(changed[t + 1 :], original[t + 1 :], equal_nan=True)


def rows_up_to(arrays: MarketArrays, last: np.datetime64) -> tuple[np.ndarray, ...]:
    keep = arrays.dates <= last
    prices = (arrays.open, arrays.high, arrays.low, arrays.close, arrays.volume)
    return (arrays.dates[keep], arrays.features[keep], *(column[keep] for column in prices))


@pytest.mark.parametrize("hourly", [False, True], ids=["daily", "hourly"])
@pytest.mark.parametrize("t", [1500, 3400, 4800])
def test_no_look_ahead_in_prepared_arrays(
    bars: pd.DataFrame, tmp_path: Path, t: int, hourly: bool
) -> None:
    """The whole pipeline (features on full history, split cut, train-only normaliser) is causal,
    on hourly bars as on daily ones."""
    if hourly:
        bars = bars.set_axis(exchange_hours(len(bars)))
    bars.to_parquet(tmp_path / "original.parquet")
    with_random_future(bars, t, seed=t).to_parquet(tmp_path / "changed.parquet")
    original = prepare_market(str(tmp_path / "original.parquet"))
    changed = prepare_market(str(tmp_path / "changed.parquet"), normalizer=original.normalizer)
    last = bars.index[t].to_datetime64()
    for name in ("train", "validation", "test"):
        before = rows_up_to(getattr(original, name), last)
        after = rows_up_to(getattr(changed, name), last)
        assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)), name
    assert not np.array_equal(original.test.features, changed.test.features)
    assert original.periods_per_year == (7 * 252 if hourly else 252)
