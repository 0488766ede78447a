"""prepare_market, the normaliser (train-only, exact round trip) and the data hash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs import (
    FEATURE_NAMES,
    FeatureNormalizer,
    MarketDataError,
    PreparedMarket,
    Splits,
    assemble_market,
    prepare_market,
)
from envs.data.dataset import build_market_arrays, market_data_hash
from envs.data.sources import load_market_data
from envs.features.indicators import WARMUP_BARS, compute_features

SP500_HASH = "c501299dfe295acaef7d61fb1352fd9d0569995dc9532b43380f5e183f8854b6"


@pytest.fixture(scope="module")
def sp500() -> PreparedMarket:
    return prepare_market("sp500")


def test_sp500_splits_as_arrays(sp500: PreparedMarket) -> None:
    counts = [
        (a.n_bars, str(a.dates[0])[:10], str(a.dates[-1])[:10])
        for a in (sp500.train, sp500.validation, sp500.test)
    ]
    assert counts == [
        (3521 - WARMUP_BARS, "1999-03-16", "2012-12-31"),
        (504, "2013-01-02", "2014-12-31"),
        (1006, "2015-01-02", "2018-12-31"),
    ]
    test = sp500.test
    assert test.features.dtype == np.float32 and test.feature_names == FEATURE_NAMES
    assert np.abs(test.features).max() <= 5.0
    assert test.dates.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(test.close, sp500.bars["close"].loc["2015":].to_numpy())
    for array in (test.dates, test.close, test.volume, test.features):
        assert array.flags.c_contiguous and array.flags.writeable


def test_start_option_does_not_change_features(sp500: PreparedMarket) -> None:
    """Features come from the whole history, so a later --start has no warm-up gap."""
    late = prepare_market("sp500", start="2015-01-02", normalizer=sp500.normalizer)
    assert late.test.n_bars == 1006
    np.testing.assert_array_equal(late.test.features, sp500.test.features)


def test_empty_split_is_refused_with_a_clear_error(sp500: PreparedMarket) -> None:
    late = prepare_market("sp500", start="2016", normalizer=sp500.normalizer)
    assert late.split("test").n_bars == late.test.n_bars > 0
    with pytest.raises(
        MarketDataError, match=r"^sp500: empty split: no usable train bars in 2016-01-04"
    ):
        late.split("train")
    with pytest.raises(MarketDataError, match=r"^sp500: train split too short: 0 train bars"):
        prepare_market("sp500", start="2016")  # nothing to fit a normaliser on


def test_assemble_market_with_other_split_dates(sp500: PreparedMarket) -> None:
    splits = Splits(pd.Timestamp("2010-01-01"), pd.Timestamp("2016-01-01"), scheme="given")
    moved = assemble_market("sp500", sp500.bars, sp500.features, splits)
    assert [moved.train.n_bars, moved.validation.n_bars, moved.test.n_bars] == [
        2767 - WARMUP_BARS,
        1510,
        754,
    ]
    assert not np.array_equal(moved.normalizer.center, sp500.normalizer.center)
    np.testing.assert_array_equal(moved.bars, sp500.bars)


def test_normalizer_is_fitted_on_train_only(tmp_path: Path) -> None:
    bars = load_market_data("synthetic")
    bars.to_parquet(tmp_path / "a.parquet")
    reference = prepare_market(str(tmp_path / "a.parquet")).normalizer.to_dict()

    changed_test = bars.copy()
    changed_test.iloc[-300:, :4] *= 3.0  # test bars (the last 20%) tripled
    changed_test.to_parquet(tmp_path / "b.parquet")
    assert prepare_market(str(tmp_path / "b.parquet")).normalizer.to_dict() == reference

    changed_train = bars.copy()
    changed_train.iloc[1000:1300, :4] *= 3.0
    changed_train.to_parquet(tmp_path / "c.parquet")
    assert prepare_market(str(tmp_path / "c.parquet")).normalizer.to_dict() != reference


def test_robust_zscore_by_hand() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0], "flat": [7.0] * 5})
    normalizer = FeatureNormalizer.fit(train, clip=2.0)
    assert normalizer.center.tolist() == [3.0, 7.0]
    assert normalizer.scale.tolist() == [2.0 / 1.349, 1.0]  # IQR 4 - 2; a constant keeps scale 1
    out = normalizer.transform(np.array([[3.0 + 2.0 / 1.349, 7.0], [100.0, -100.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[1.0, 0.0], [2.0, -2.0]], rtol=1e-6)


def test_normalizer_json_round_trip_is_exact(sp500: PreparedMarket) -> None:
    restored = FeatureNormalizer.from_dict(json.loads(json.dumps(sp500.normalizer.to_dict())))
    assert restored.feature_names == sp500.normalizer.feature_names
    assert np.array_equal(restored.center, sp500.normalizer.center)
    assert np.array_equal(restored.scale, sp500.normalizer.scale)
    raw = sp500.features.to_numpy()[-50:]
    assert np.array_equal(restored.transform(raw), sp500.normalizer.transform(raw))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d | {"kind": "minmax"},
        lambda d: {k: v for k, v in d.items() if k != "scale"},
        lambda d: d | {"scale": d["scale"][:-1]},
        lambda d: d | {"scale": [0.0] * len(d["scale"])},
        lambda d: d | {"center": ["x"] * len(d["center"])},
    ],
)
def test_bad_normalizer_dict_is_refused(sp500: PreparedMarket, mangle) -> None:
    with pytest.raises(MarketDataError, match=r"^feature normalizer: bad normalizer"):
        FeatureNormalizer.from_dict(mangle(sp500.normalizer.to_dict()))


def test_build_market_arrays_drops_warmup_and_checks_feature_names() -> None:
    bars = load_market_data("synthetic").iloc[:200]
    features = compute_features(bars)
    normalizer = FeatureNormalizer.fit(features.iloc[WARMUP_BARS:])
    arrays = build_market_arrays(bars, features, normalizer)
    assert arrays.n_bars == 200 - WARMUP_BARS
    assert arrays.dates[0] == bars.index[WARMUP_BARS].to_datetime64()
    with pytest.raises(MarketDataError, match="feature mismatch"):
        build_market_arrays(bars, features.drop(columns=["rsi_14"]), normalizer)
    with pytest.raises(MarketDataError, match="feature mismatch"):
        normalizer.transform(np.zeros((3, 4)))


def test_data_hash_is_stable_and_content_only(sp500: PreparedMarket) -> None:
    bars = sp500.bars
    assert sp500.data_hash == market_data_hash(bars) == SP500_HASH
    assert market_data_hash(bars[["volume", "close", "low", "high", "open"]].copy()) == SP500_HASH
    nudged = bars.copy()
    nudged.iloc[2000, 3] = np.nextafter(nudged.iloc[2000, 3], np.inf)
    assert market_data_hash(nudged) != SP500_HASH
