"""The market an agent trains and is judged on: `envs.prepare_market` plus two agent-side needs.

1. Split dates chosen by the user (`--validation-start`, `--test-start`) instead of the source's.
2. Evaluation over a whole split: an observation needs `window_size` bars of features, so a split
   evaluated on its own bars would lose its first weeks. `split_with_history` prepends the
   previous split's last `window_size` bars, whose features are known before the split begins,
   so the first decision is made at the close of the bar before the split and the first bar of
   profit and loss is the split's first bar. Nothing after a decision's bar is read.
3. The calibration hold-out: the last bars of the train split, kept out of training, on which the
   confidence map is fitted (`hold_out_calibration`), so that the validation split that selects
   the model is not also the data the confidence is fitted on.
4. The env of training (`training_setup`): what the data must hold for it (every split, the
   hold-out, one episode of the part left to train on) is checked here, before any training and
   without torch, so that a planner can refuse a run before handing it to a worker.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from agents.config import TrainConfig, option_flag
from agents.errors import AgentError
from envs import (
    SPLIT_NAMES,
    CostModel,
    EnvConfig,
    EnvSetupError,
    MarketArrays,
    PreparedMarket,
    SplitName,
    Splits,
    assemble_market,
    format_date,
    parse_date_option,
    prepare_market,
)

_PREVIOUS_SPLIT: dict[SplitName, SplitName] = {"validation": "train", "test": "validation"}


def prepare_training_markets(config: TrainConfig) -> list[PreparedMarket]:
    """Load, featurise and split each source of `config`, honouring its split-date overrides;
    each source is normalised on its own train split.

    Every split must hold bars: an empty test split is refused before training, not after.
    """
    markets = []
    for source in config.sources:
        market = prepare_market(
            source,
            config.start,
            config.end,
            date_format=config.date_format,
            periods_per_year=config.periods_per_year,
        )
        prepared = _with_split_dates(config, market)
        for name in SPLIT_NAMES:
            prepared.split(name)  # raises MarketDataError naming the empty split and the dates
        markets.append(prepared)
    return markets


def training_setup(config: TrainConfig) -> tuple[list[PreparedMarket], EnvConfig]:
    """Every source of `config` prepared and the env that trains on them, refusing (AgentError,
    MarketDataError) whatever training would refuse about its data."""
    markets = prepare_training_markets(config)
    return markets, training_env_config(config, markets)


def training_env_config(config: TrainConfig, markets: list[PreparedMarket]) -> EnvConfig:
    """The env of training on `markets`: random-start episodes of `episode_length` bars (default:
    a year of the first market's bars, or as many as the shortest part left to train on holds
    after a window: its train split less the calibration hold-out), costs as given. A part too
    short for the episode is refused, naming its source."""
    parts = {
        market.source: hold_out_calibration(market, config.calibration_bars, config.window_size)[0]
        for market in markets
    }
    shortest = min(part.n_bars for part in parts.values()) - config.window_size
    year = min(markets[0].periods_per_year, shortest)
    try:
        env_config = EnvConfig(
            window_size=config.window_size,
            mode=config.mode,
            cost_model=CostModel(config.commission_bps, config.slippage_bps),
            rebalance_band=config.rebalance_band,
            turnover_penalty=config.turnover_penalty,
            episode_length=config.episode_length or max(1, year),
        )
    except (EnvSetupError, ValueError) as exc:
        raise AgentError(_named_as_options(str(exc))) from None
    for source, part in parts.items():
        try:
            env_config.check_market_length(part.n_bars)
        except EnvSetupError as exc:
            part_name = f"{source}, train split less the calibration hold-out"
            raise AgentError(f"{part_name}: {exc}") from None
    return env_config


def _named_as_options(message: str) -> str:
    """`EnvConfig.window_size must be ...` as `--window-size must be ...`: the option the user
    typed, not the class that checked it."""
    return re.sub(
        r"\b(?:EnvConfig|CostModel)\.(\w+)",
        lambda match: option_flag(match[1], TrainConfig.model_fields.get(match[1])),
        message,
    )


def _with_split_dates(config: TrainConfig, prepared: PreparedMarket) -> PreparedMarket:
    if config.validation_start is None and config.test_start is None:
        return prepared
    source = prepared.source
    validation_start = parse_date_option(
        config.validation_start, "--validation-start", source, "start"
    )
    test_start = parse_date_option(config.test_start, "--test-start", source, "start")
    try:
        splits = Splits(
            validation_start=validation_start or prepared.splits.validation_start,
            test_start=test_start or prepared.splits.test_start,
            scheme="dates given: --validation-start / --test-start",
        )
    except ValueError as exc:
        raise AgentError(f"split dates: {exc}") from None
    # The same bars and features cut at the given dates, the normaliser refitted on train.
    return assemble_market(
        prepared.source,
        prepared.bars,
        prepared.features,
        splits,
        periods_per_year=prepared.periods_per_year,
        history=prepared.history,
    )


def split_with_history(prepared: PreparedMarket, name: SplitName, window_size: int) -> MarketArrays:
    """Split `name` preceded by up to `window_size` bars of the split before it."""
    arrays = prepared.split(name)
    previous = _PREVIOUS_SPLIT.get(name)
    if previous is None:
        return arrays
    before = getattr(prepared, previous)
    history = before.slice(max(0, before.n_bars - window_size), before.n_bars)
    return concatenate(history, arrays)


def hold_out_calibration(
    prepared: PreparedMarket, calibration_bars: int, window_size: int
) -> tuple[MarketArrays, MarketArrays]:
    """(the train split less its last `calibration_bars` bars, those bars preceded by
    `window_size` bars of history), the markets of training and of the confidence fit."""
    train = prepared.split("train")
    cut = train.n_bars - calibration_bars
    if cut < window_size + 1:
        raise AgentError(
            f"{prepared.source}: the train split has {train.n_bars} bars: too few to hold out"
            f" {calibration_bars} for calibration and still train on a {window_size}-bar window"
            " (lower --calibration-bars)"
        )
    return train.slice(0, cut), train.slice(max(0, cut - window_size), train.n_bars)


def concatenate(first: MarketArrays, second: MarketArrays) -> MarketArrays:
    """`first` then `second`, which must have the same features and follow it in time."""
    if first.feature_names != second.feature_names:
        raise ValueError("concatenate: the two markets have different features")
    if first.n_bars and second.n_bars and not first.dates[-1] < second.dates[0]:
        raise ValueError("concatenate: the second market must start after the first ends")
    fields = ("dates", "open", "high", "low", "close", "volume", "features")
    return MarketArrays(
        **{f: np.concatenate([getattr(first, f), getattr(second, f)]) for f in fields},
        feature_names=first.feature_names,
        periods_per_year=second.periods_per_year,
    )


def split_date_ranges(
    prepared: PreparedMarket, calibration_bars: int
) -> dict[str, tuple[str, str]]:
    """First and last bar date of every non-empty split, for the manifest, and of the
    calibration hold-out (the last `calibration_bars` bars of train, which the model never saw)."""
    ranges: dict[str, tuple[str, str]] = {}
    named: dict[str, np.ndarray] = {name: getattr(prepared, name).dates for name in SPLIT_NAMES}
    named["calibration"] = prepared.train.dates[-calibration_bars:]
    for name, dates in named.items():
        if len(dates):
            ranges[name] = (
                format_date(pd.Timestamp(dates[0])),
                format_date(pd.Timestamp(dates[-1])),
            )
    return ranges
