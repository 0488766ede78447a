"""The synthetic market: deterministic per seed, all three regimes, regimes that mean something."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from envs.data.contract import validate_bars
from envs.data.sources import load_market_data
from envs.data.synthetic import DEFAULT_N_BARS, Regime, SyntheticMarket, generate_synthetic_market


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return generate_synthetic_market()


def log_returns(market: SyntheticMarket) -> pd.Series:
    return np.log(market.bars["close"]).diff()


def test_same_seed_same_market_other_seed_other_market(market: SyntheticMarket) -> None:
    again = generate_synthetic_market()
    pd.testing.assert_frame_equal(again.bars, market.bars)
    pd.testing.assert_series_equal(again.regimes, market.regimes)
    assert not np.array_equal(generate_synthetic_market(seed=8).bars.to_numpy(), market.bars)


def test_default_is_ten_years_of_valid_business_days(market: SyntheticMarket) -> None:
    bars = market.bars
    assert len(bars) == DEFAULT_N_BARS == 2520
    assert (bars.index.day_of_week < 5).all()
    validate_bars(bars, "synthetic")
    assert market.regimes.index.equals(bars.index)
    pd.testing.assert_frame_equal(load_market_data("synthetic"), bars)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_every_regime_appears_and_bull_drifts_up_bear_down(seed: int) -> None:
    market = generate_synthetic_market(seed=seed)
    assert set(market.regimes) == {Regime.BULL, Regime.BEAR, Regime.SIDEWAYS}
    mean_return = log_returns(market).groupby(market.regimes).mean()
    assert mean_return[Regime.BULL] > 0 > mean_return[Regime.BEAR]
    assert mean_return[Regime.BULL] > mean_return[Regime.SIDEWAYS] > mean_return[Regime.BEAR]


def test_regimes_persist(market: SyntheticMarket) -> None:
    switches = (market.regimes != market.regimes.shift()).sum() - 1
    assert len(market.regimes) / (switches + 1) > 30  # mean stay of weeks, not days


def test_volatility_clusters_and_volume_follows_activity(market: SyntheticMarket) -> None:
    returns = log_returns(market).iloc[1:]
    assert (returns**2).autocorr(lag=1) > 0.1  # i.i.d. returns would give about 0
    assert returns.autocorr(lag=1) == pytest.approx(0.0, abs=0.1)
    log_volume = np.log(market.bars["volume"].iloc[1:])
    assert np.corrcoef(returns.abs(), log_volume)[0, 1] > 0.3


def test_bars_have_gaps_and_wicks(market: SyntheticMarket) -> None:
    bars = market.bars
    assert (bars["open"].iloc[1:].to_numpy() != bars["close"].iloc[:-1].to_numpy()).all()
    assert (bars["high"] > bars[["open", "close"]].max(axis=1)).mean() > 0.95
    assert (bars["low"] < bars[["open", "close"]].min(axis=1)).mean() > 0.95
