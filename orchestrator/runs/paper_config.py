"""What a paper run is: its settings, the identity its journal is bound to, where its LLM files go.

A journal resumes only under the identity it was made with (`RunIdentity`): the agent (hash of its
manifest), the data (source, and hash of its bars up to the first decision), the first decision's
date, and every setting that changes the results: the LLM mode, the trader's and the risk
manager's settings, the cash, the rebalance band and the snapshot window. Display, pacing and the
last bar are left out, so a run can be resumed with others, and bars appended to its file extend
it; the bars it traded already are checked against the data when it resumes (`check_past`).

The LLM ledger and response cache of a paper run sit beside its journal (`FILE.llm-ledger.sqlite`,
`FILE.llm-cache.sqlite`) unless LLM_LEDGER_PATH / LLM_CACHE_PATH are set: each run then keeps its
own spend, and a bar decided again after a crash finds the answer it was given in the cache. A
user who wants one budget over several runs sets LLM_LEDGER_PATH to a shared file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, PositiveInt

from agents import DRLAgent
from envs import canonical_source, format_date
from llm import LLMMode, LLMSettings
from orchestrator.checks import Positive, Settings
from orchestrator.errors import JournalIdentityError
from orchestrator.execution import RiskLimits
from orchestrator.journal import (
    FileState,
    JournalQueries,
    JournalReader,
    RunIdentity,
    canonical_hash,
    inspect_file,
)
from orchestrator.runs.bar_engine import RebalanceBand
from orchestrator.trader import DEFAULT_WINDOW, TraderConfig, TradingMarket

BrokerName = Literal["paper", "alpaca"]
LEDGER_SUFFIX = ".llm-ledger.sqlite"
CACHE_SUFFIX = ".llm-cache.sqlite"
FIRST_DECISION = "first_decision"  # the key of the run identity's bars that names it
_BAR_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


class PaperConfig(Settings):
    """Every setting of a paper run that changes its results; the defaults are the backtest's
    (`BacktestConfig`), so a paper run over a test split trades as the backtest's hybrid_learned.

    trader: the hybrid's settings (the combiner's long-only switch is set from the agent's mode).
    initial_cash: the account's starting cash, in the account currency.
    broker: where orders go: "paper", the simulated broker filling at the next open, or "alpaca",
    an Alpaca paper-trading account (`AlpacaBroker.from_environment`, keys from the environment).
    """

    trader: TraderConfig = Field(default_factory=TraderConfig)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    initial_cash: Positive = 100_000.0
    rebalance_band: RebalanceBand | None = None
    snapshot_window: PositiveInt = DEFAULT_WINDOW
    broker: BrokerName = "paper"

    def for_run(self, agent: DRLAgent, periods_per_year: int) -> PaperConfig:
        """These settings with the trader's set for `agent` (`TraderConfig.for_agent`), the LLM's
        window a week of a market of `periods_per_year` bars a year, and the agent's rebalance
        band, unless set: the identity then names what the run trades with, so a run resumed with
        another `--periods-per-year` (another LLM window) is refused."""
        band = self.rebalance_band
        if band is None:
            band = agent.env_config.rebalance_band
        trader = self.trader.for_agent(agent)
        trader = trader.copy_with(cadence=trader.cadence.for_market(periods_per_year))
        return self.copy_with(trader=trader, rebalance_band=band)

    def identity_values(self) -> dict[str, object]:
        """JSON values for the run identity; an infinite limit ("no limit") is the string "inf"."""
        values = self.model_dump()
        values["risk"] = {name: _json_number(value) for name, value in values["risk"].items()}
        return values

    @classmethod
    def of_identity(cls, identity: RunIdentity) -> PaperConfig:
        """The settings a journaled run was made with (the inverse of `identity_values`)."""
        values = {
            name: value for name, value in identity.config.items() if name in cls.model_fields
        }
        risk = values.get("risk", {})
        if isinstance(risk, Mapping):
            values["risk"] = {name: _number_of_json(value) for name, value in risk.items()}
        return cls.model_validate_json(json.dumps(values))  # JSON mode: lists read as tuples


IN_SAMPLE = "in_sample"
"""Key of the run identity's bars: the period overlaps the agent's train or validation dates."""


def run_identity(
    agent: DRLAgent, market: TradingMarket, llm_mode: LLMMode, config: PaperConfig
) -> RunIdentity:
    """The identity of a paper run of `agent` over `market` (see the module docstring).

    The first decision is named by its date, so `--start 2015` and `--start 2015-01-01` are the
    same run when they select the same bars (the data hash covers the bars up to it). Whether the
    agent trained or was selected on some of the bars traded is kept beside it (`IN_SAMPLE`), so
    the weights report, which reads the journal only, can say so."""
    bars = {
        FIRST_DECISION: format_date(market.timestamp(market.first_bar)),
        IN_SAMPLE: market.in_sample,
    }
    return RunIdentity(
        agent_hash=canonical_hash(agent.manifest.to_dict(), "agent manifest"),
        data_source=canonical_source(market.source),
        data_hash=market.data_hash,
        config={"llm": llm_mode, "bars": bars, **config.identity_values()},
    )


def journaled_first_decision(journal: Path) -> pd.Timestamp | None:
    """The first decision's date of the run in `journal`, or None where there is no journal yet
    (or a file that is not one, which `Journal.open` refuses, or one whose creation was cut short,
    which it rolls back)."""
    if Path(f"{journal}-journal").exists() or inspect_file(journal) is not FileState.JOURNAL:
        return None
    with JournalReader.open(journal) as reader:
        return first_decision_of(reader.identity)


def first_decision_of(identity: RunIdentity) -> pd.Timestamp | None:
    """The date of the first decision of the run `identity` names (None in one that names none)."""
    bars = identity.config.get("bars")
    day = bars.get(FIRST_DECISION) if isinstance(bars, Mapping) else None
    return None if day is None else pd.Timestamp(day)


def check_past(journal: JournalQueries, market: TradingMarket) -> None:
    """Refuse a market whose bars are not those `journal` traded: the data now ends before the
    journal's last bar (an earlier --end, or rows removed), or its past was edited since."""
    seen = journal.bars_seen()
    if seen.empty:
        return
    last = int(seen.index[-1])
    if last >= market.n_bars:
        raise JournalIdentityError(
            f"journal {journal.path} traded bars up to {seen['timestamp'].iloc[-1]}, the data"
            f" given ends at {format_date(market.timestamp(market.n_bars - 1))}, so the run is"
            " not resumed: give it the data it traded (no earlier --end), or another --journal"
        )
    for bar, row in zip(seen.index, seen.itertuples(index=False), strict=True):
        now = market.bar_seen(bar).model_dump()
        then = row._asdict() | {"timestamp": dt.datetime.fromisoformat(row.timestamp)}
        if any(now[name] != then[name] for name in _BAR_FIELDS):
            raise JournalIdentityError(
                f"journal {journal.path}: bar {bar} was {_bar_text(then)} when it was traded,"
                f" {market.source} now has {_bar_text(now)}: the data's past was edited, so the"
                " run is not resumed. Restore the file, or give this run another --journal file."
            )


def _bar_text(bar: Mapping[str, object]) -> str:
    return " ".join(f"{name}={bar[name]}" for name in _BAR_FIELDS)


def paper_llm_settings(settings: LLMSettings, journal: Path) -> LLMSettings:
    """`settings` with the ledger and cache beside `journal`, unless the user chose their paths."""
    chosen = settings.model_fields_set
    update: dict[str, object] = {}
    if "ledger_path" not in chosen:
        update["ledger_path"] = journal.with_name(journal.name + LEDGER_SUFFIX)
    if "cache_path" not in chosen:
        update["cache_path"] = journal.with_name(journal.name + CACHE_SUFFIX)
    return settings.model_copy(update=update)


def _json_number(value: object) -> object:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _number_of_json(value: object) -> object:
    return float(value) if value in ("inf", "-inf") else value
