"""From a source name to the MarketArrays of each split: the one path train, backtest and paper use.

Order matters for honesty: features are computed once on the source's whole history (causal, so
row t still sees only bars <= t), then cut to --start/--end and to splits. A test split therefore
starts with fully warmed-up indicators instead of losing its first weeks, and its features are the
same whatever --start was given. The normaliser is fitted on the train split alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from envs.data.bar_size import EXCHANGE_DAYS_PER_YEAR, infer_bar_size
from envs.data.contract import OHLCV_COLUMNS, format_date
from envs.data.market_arrays import MarketArrays
from envs.data.sources import DateLike, load_market_data, select_dates
from envs.data.splits import SplitName, Splits, make_splits
from envs.errors import MarketDataError
from envs.features import FeatureNormalizer, compute_features

_HASH_VERSION = b"hybrid-trader ohlcv v1"
MIN_TRAIN_BARS = 20  # fewer gives a median and IQR too noisy to scale features with


@dataclass(frozen=True, eq=False)
class PreparedMarket:
    """A source ready for the environment: bars, raw features, splits, normaliser and arrays."""

    source: str
    bars: pd.DataFrame  # validated bars after --start/--end
    features: pd.DataFrame  # raw (not normalised) features on the same index
    splits: Splits
    normalizer: FeatureNormalizer
    train: MarketArrays  # warm-up rows dropped, features normalised
    validation: MarketArrays
    test: MarketArrays
    data_hash: str  # market_data_hash(bars), for agent manifests
    periods_per_year: int  # bars in a year, for annualised figures (`envs.data.bar_size`)
    history: pd.DataFrame  # the source's bars up to the last of `bars`, those before --start too

    def split(self, name: SplitName) -> MarketArrays:
        """The arrays of split `name`, refusing an empty one with a message that says why."""
        arrays: MarketArrays = getattr(self, name)
        if arrays.n_bars == 0:
            raise MarketDataError(
                f"no usable {name} bars in {format_date(self.bars.index[0])} to"
                f" {format_date(self.bars.index[-1])} ({self.splits.scheme}); widen --start/--end",
                source=self.source,
                rule="empty split",
            )
        return arrays


def prepare_market(
    source: str,
    start: DateLike = None,
    end: DateLike = None,
    normalizer: FeatureNormalizer | None = None,
    *,
    date_format: str | None = None,
    periods_per_year: int | None = None,
) -> PreparedMarket:
    """Load `source`, compute features once, and build each split's arrays.

    Pass the `normalizer` saved with an agent to evaluate it; leave it None to fit a new one on
    this source's train split. date_format: the strftime format of a file's dates (None:
    recognised). periods_per_year: bars in a year (None: inferred from the whole source's dates).
    """
    history = load_market_data(source, date_format=date_format)
    history_features = compute_features(history)
    bars = select_dates(history, source, start, end)
    features = history_features.loc[bars.index[0] : bars.index[-1]]
    if periods_per_year is None:
        periods_per_year = infer_bar_size(history.index).periods_per_year
    splits = make_splits(source, bars.index)
    return assemble_market(
        source,
        bars,
        features,
        splits,
        normalizer,
        periods_per_year=periods_per_year,
        history=history.loc[: bars.index[-1]],
    )


def assemble_market(
    source: str,
    bars: pd.DataFrame,
    features: pd.DataFrame,
    splits: Splits,
    normalizer: FeatureNormalizer | None = None,
    *,
    periods_per_year: int | None = None,
    history: pd.DataFrame | None = None,
) -> PreparedMarket:
    """Cut `bars` and their raw `features` at `splits` into arrays (e.g. for other split dates).

    Without a `normalizer`, one is fitted on the train split's rows after the warm-up; without
    `periods_per_year` (bars in a year), it is inferred from the dates of `bars`. history: the
    source's bars up to the last of `bars`, earlier ones included (None: `bars`).
    """
    bounds = splits.bounds(bars.index)
    if normalizer is None:
        normalizer = _fit_on_train(source, bars, features.iloc[bounds["train"]], splits)
    if periods_per_year is None:
        periods_per_year = infer_bar_size(bars.index).periods_per_year
    arrays = {
        name: build_market_arrays(
            bars.iloc[rows], features.iloc[rows], normalizer, periods_per_year
        )
        for name, rows in bounds.items()
    }
    return PreparedMarket(
        source=source,
        bars=bars,
        features=features,
        splits=splits,
        normalizer=normalizer,
        train=arrays["train"],
        validation=arrays["validation"],
        test=arrays["test"],
        data_hash=market_data_hash(bars),
        periods_per_year=periods_per_year,
        history=bars if history is None else history,
    )


def _fit_on_train(
    source: str, bars: pd.DataFrame, train_features: pd.DataFrame, splits: Splits
) -> FeatureNormalizer:
    usable = train_features.iloc[_first_complete_row(train_features) :]
    if len(usable) < MIN_TRAIN_BARS:
        raise MarketDataError(
            f"{len(usable)} train bars after the feature warm-up in {format_date(bars.index[0])}"
            f" to {format_date(bars.index[-1])} ({splits.scheme}), need {MIN_TRAIN_BARS} to fit"
            " the feature normaliser; widen --start/--end",
            source=source,
            rule="train split too short",
        )
    return FeatureNormalizer.fit(usable)


def build_market_arrays(
    bars: pd.DataFrame,
    features: pd.DataFrame,
    normalizer: FeatureNormalizer,
    periods_per_year: int = EXCHANGE_DAYS_PER_YEAR,
) -> MarketArrays:
    """Aligned arrays of `bars` with normalised `features`, leading warm-up rows (NaN) dropped;
    `periods_per_year` is the source's bars in a year."""
    if not bars.index.equals(features.index):
        raise ValueError("build_market_arrays: bars and features must share one index")
    names = tuple(str(name) for name in features.columns)
    if names != normalizer.feature_names:
        raise MarketDataError(
            f"the data has features {list(names)}, the normalizer expects"
            f" {list(normalizer.feature_names)}",
            source="feature normalizer",
            rule="feature mismatch",
        )
    first = _first_complete_row(features)
    columns = {
        name: bars[name].to_numpy(dtype=np.float64, copy=True)[first:] for name in OHLCV_COLUMNS
    }
    return MarketArrays(
        dates=bars.index.as_unit("ns").to_numpy(copy=True)[first:],
        features=normalizer.transform(features.to_numpy(dtype=np.float64)[first:]),
        feature_names=names,
        periods_per_year=periods_per_year,
        **columns,
    )


def _first_complete_row(features: pd.DataFrame) -> int:
    """Position of the first row with every feature finite; all later rows must be finite too."""
    complete = np.isfinite(features.to_numpy(dtype=np.float64)).all(axis=1)
    first = int(np.argmax(complete)) if complete.any() else len(complete)
    gaps = ~complete[first:]
    if gaps.any():
        row = first + int(np.argmax(gaps))
        raise MarketDataError(
            f"date={format_date(features.index[row])}", source="features", rule="non-finite feature"
        )
    return first


def market_data_hash(bars: pd.DataFrame) -> str:
    """sha256 of the dates (int64 ns) and the float64 OHLCV values, little-endian, column-major.

    It depends on the numbers only, not on pandas' memory layout or version, so a manifest can
    record exactly which bars an agent saw.
    """
    digest = hashlib.sha256(_HASH_VERSION)
    digest.update(bars.index.as_unit("ns").asi8.astype("<i8").tobytes())
    for name in OHLCV_COLUMNS:
        digest.update(bars[name].to_numpy(dtype="<f8").tobytes())
    return digest.hexdigest()
