"""The market a trained agent trades in a backtest or a paper run, checked against the agent.

Both runs use the agent's saved normaliser on the new source's causal features, the test split
preceded by its window of history (`agents.training.market_data.split_with_history`, so the first
decision is made at the close of the bar before the split), and the source's whole bar history up to
each bar for the LLM snapshots. Only a mismatch of features or observation shape is refused, and it
is the agent's error (`AgentError`), naming the features that differ.

On the source the agent was trained on, the splits are the agent's own (its manifest's dates), not
the source's defaults: an agent trained with `--validation-start/--test-start` is tested on the bars
after its validation, never on bars it learned from. A copy of that source under another name (a
file cut to fewer years, or the packaged series saved to CSV) is recognised by its bars: on every
date both hold, the same open and close. Its own default split would put a "test" period inside the
agent's validation years.

A paper run pins its first decision (`first_decision`): the bars from there on are its bars however
the file grows, although a chronological test split would move with every bar appended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import NonNegativeInt

from agents import DRLAgent, split_with_history
from envs import (
    FEATURE_NAMES,
    PORTFOLIO_STATE_NAMES,
    SOURCE_NAMES,
    DateLike,
    MarketArrays,
    MarketDataError,
    PreparedMarket,
    SplitName,
    Splits,
    assemble_market,
    canonical_source,
    format_date,
    load_market_data,
    market_data_hash,
    prepare_market,
)
from orchestrator.checks import NonNegative, Positive, Value
from orchestrator.errors import JournalError, OrchestratorError


@dataclass(frozen=True, eq=False)
class TradingMarket:
    """One asset ready to trade: the bars the engine steps through and everything before them.

    arrays: the bars traded (row t = engine bar t), features normalised with the agent's statistics.
    history: every bar of the source up to the last traded one (lower-case OHLCV), those before
    `--start` too, for snapshots: the analysts see the same past as the agent's features.
    first_bar: the first bar with a full feature window: the first decision.
    data_hash: hash of the source's bars up to the first decision (`market_data_hash`): the past
    a run starts from, which bars appended later leave as it is.
    in_sample: whether the agent trained or was selected on some of these bars (its own source,
    dates within its train and validation splits), so that reports can say so.
    """

    source: str
    symbol: str
    arrays: MarketArrays
    history: pd.DataFrame
    first_bar: int
    data_hash: str
    in_sample: bool = False

    @property
    def n_bars(self) -> int:
        return self.arrays.n_bars

    def day(self, bar: int) -> dt.date:
        return pd.Timestamp(self.arrays.dates[bar]).date()

    def timestamp(self, bar: int) -> pd.Timestamp:
        return pd.Timestamp(self.arrays.dates[bar])

    def bar_seen(self, bar: int) -> BarSeen:
        """Bar `bar` as the journal records it (its index is the engine's bar index)."""
        a = self.arrays
        return BarSeen(
            index=bar,
            timestamp=self.timestamp(bar).to_pydatetime(),
            open=float(a.open[bar]),
            high=float(a.high[bar]),
            low=float(a.low[bar]),
            close=float(a.close[bar]),
            volume=float(a.volume[bar]),
        )


def symbol_for(source: str) -> str:
    """The name orders and snapshots use: `SP500` for `sp500`, the file's stem for a path."""
    name = source if source in SOURCE_NAMES else Path(source).stem
    return name.upper() or "ASSET"


def load_trading_market(
    agent: DRLAgent,
    source: str,
    start: DateLike = None,
    end: DateLike = None,
    split: SplitName = "test",
    *,
    date_format: str | None = None,
    periods_per_year: int | None = None,
    first_decision: pd.Timestamp | None = None,
) -> TradingMarket:
    """`split` of `source` (cut to [start, end]) as `agent` sees it; a mismatch is an AgentError.

    date_format: the strftime format of a file's dates (None: recognised). periods_per_year: bars
    in a year, for annualised figures (None: inferred from the source's dates). first_decision:
    the date of a run's first decision, from which its bars run in place of `split`'s (None:
    `split`'s first bar, with the window before it).
    """
    window = agent.env_config.window_size
    observation_size = window * len(FEATURE_NAMES) + len(PORTFOLIO_STATE_NAMES)
    agent.check_compatible(FEATURE_NAMES, (observation_size,))
    prepared = prepare_market(
        source,
        start,
        end,
        normalizer=agent.feature_normalizer(),
        date_format=date_format,
        periods_per_year=periods_per_year,
    )
    own = _is_agents_series(agent, prepared)
    if own:
        prepared = _with_agent_splits(agent, prepared)
    if first_decision is None and _from_start(prepared, start, window):
        first_decision = prepared.bars.index[window - 1]  # the period --start names, whole
    if first_decision is not None:
        prepared = _pinned(prepared, first_decision, window)
        split = "test"
    arrays = split_with_history(prepared, split, window)
    if arrays.n_bars <= window:
        raise MarketDataError(
            f"{arrays.n_bars} bars in the {split} split with its history, need more than the"
            f" agent's window of {window} (one decision and one bar to trade it)",
            source=source,
            rule=f"{split} split too short",
        )
    history = prepared.history.loc[: pd.Timestamp(arrays.dates[-1])]
    return TradingMarket(
        source=source,
        symbol=symbol_for(source),
        arrays=arrays,
        history=history,
        first_bar=window - 1,
        data_hash=market_data_hash(prepared.history.loc[: pd.Timestamp(arrays.dates[window - 1])]),
        in_sample=_in_sample(agent, source, own, arrays.dates[window], arrays.dates[-1]),
    )


MIN_SHARED_BARS = 20
"""Bars on the same dates with the same prices that make another source a copy of the agent's."""


def _is_agents_series(agent: DRLAgent, prepared: PreparedMarket) -> bool:
    """Whether `prepared` is the source whose splits validated and tested the agent
    (`AgentManifest.data_source`), by name or as a copy: at least `MIN_SHARED_BARS` dates in
    common with it, and on every one the same open and close (an unreadable source is no copy)."""
    own_source = agent.manifest.data_source
    if _named_as_agents_source(agent, prepared.source):
        return True
    try:
        own_bars = load_market_data(
            own_source, date_format=agent.manifest.train_config.get("date_format")
        )
    except MarketDataError:
        return False
    shared = prepared.bars.index.intersection(own_bars.index)
    if len(shared) < MIN_SHARED_BARS:
        return False
    prices = ["open", "close"]
    theirs, ours = prepared.bars.loc[shared, prices], own_bars.loc[shared, prices]
    return bool(np.allclose(theirs.to_numpy(), ours.to_numpy(), rtol=1e-9, atol=0.0))


def _named_as_agents_source(agent: DRLAgent, source: str) -> bool:
    """Whether `source`, however it was typed, names the agent's own (`data_source`)."""
    return canonical_source(source) == canonical_source(agent.manifest.data_source)


def _with_agent_splits(agent: DRLAgent, prepared: PreparedMarket) -> PreparedMarket:
    """`prepared`, the agent's own series (`_is_agents_series`), cut at the agent's own split
    dates."""
    manifest = agent.manifest
    if not {"validation", "test"} <= set(manifest.splits):
        return prepared
    copy = not _named_as_agents_source(agent, prepared.source)
    splits = Splits(
        validation_start=pd.Timestamp(manifest.splits["validation"][0]),
        test_start=pd.Timestamp(manifest.splits["test"][0]),
        scheme="the agent's own splits (its manifest)"
        + (
            f": these are the bars of {manifest.data_source}, which it was trained on"
            if copy
            else ""
        ),
    )
    index = prepared.bars.index
    if splits.bounds(index) == prepared.splits.bounds(index):
        return prepared  # the same cut (the default-trained agent's case)
    return _recut(prepared, splits)


def _from_start(prepared: PreparedMarket, start: DateLike, window: int) -> bool:
    """Whether to trade from `--start` on rather than the test split: a start was given and the
    selection holds bars before its test split (or no test split at all), so the user asked for a
    period the test split alone would not cover."""
    if start is None or len(prepared.bars) < window:
        return False
    test = prepared.test.dates
    return len(test) == 0 or prepared.bars.index[window - 1] < pd.Timestamp(test[0])


def _in_sample(agent: DRLAgent, source: str, own: bool, first: object, last: object) -> bool:
    """Whether the bars traded, `first` to `last` of `source` (`own`: the agent's own series, or
    a copy), overlap the agent's train or validation split (the manifest's dates for its own
    sources). The first decision's bar is not traded: on the test split it is validation's last
    bar."""
    manifest = agent.manifest
    trained = own or canonical_source(source) in map(canonical_source, manifest.training_sources)
    if not trained:
        return False
    seen = [manifest.splits[name] for name in ("train", "validation") if name in manifest.splits]
    if not seen:
        return False
    begin, end = pd.Timestamp(seen[0][0]), pd.Timestamp(seen[-1][1])
    return bool(pd.Timestamp(first) <= end and pd.Timestamp(last) >= begin)


def _pinned(prepared: PreparedMarket, first_decision: pd.Timestamp, window: int) -> PreparedMarket:
    """`prepared` split so that the test split starts at the bar after `first_decision` and the
    validation split holds the `window` bars that end with it."""
    index = prepared.bars.index
    position = int(index.get_indexer([first_decision])[0])
    if position < window - 1:
        raise MarketDataError(
            f"the run's first decision at {format_date(first_decision)} is not a bar of the data"
            f" with {window - 1} bars before it: the data's past was edited",
            source=prepared.source,
            rule="edited past",
        )
    after = position + 1
    splits = Splits(
        validation_start=index[position - window + 1],
        test_start=index[after] if after < len(index) else first_decision + pd.Timedelta(1),
        scheme="the run's bars, from its first decision",
    )
    return _recut(prepared, splits)


def _recut(prepared: PreparedMarket, splits: Splits) -> PreparedMarket:
    """The same bars, features and normaliser cut at `splits`."""
    return assemble_market(
        prepared.source,
        prepared.bars,
        prepared.features,
        splits,
        prepared.normalizer,
        periods_per_year=prepared.periods_per_year,
        history=prepared.history,
    )


class BarSeen(Value):
    """One bar of the live feed, with its position in the feed (`index`, from 0)."""

    invalid_error: ClassVar[type[OrchestratorError]] = JournalError

    index: NonNegativeInt
    timestamp: dt.datetime
    open: Positive
    high: Positive
    low: Positive
    close: Positive
    volume: NonNegative
