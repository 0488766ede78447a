"""What a paper run is: its settings, the identity its journal is bound to, where its LLM files go.

A journal resumes only under the identity it was made with (`RunIdentity`): the agent (hash of its
manifest), the data (source and hash of its bars) and every setting that changes the results: the
LLM mode, the trader's and the risk manager's settings, the cash, the rebalance band, the snapshot
window and the bars traded. Display and pacing are left out, so a run can be resumed with others.

The LLM ledger and response cache of a paper run sit beside its journal (`FILE.llm-ledger.sqlite`,
`FILE.llm-cache.sqlite`) unless LLM_LEDGER_PATH / LLM_CACHE_PATH are set: each run then keeps its
own spend, and a bar decided again after a crash finds the answer it was given in the cache. A
user who wants one budget over several runs sets LLM_LEDGER_PATH to a shared file.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import Field, PositiveInt

from agents import DRLAgent
from envs import SOURCE_NAMES
from llm import LLMMode, LLMSettings
from orchestrator.checks import Positive, Settings
from orchestrator.execution import RiskLimits
from orchestrator.journal import RunIdentity, canonical_hash
from orchestrator.runs.bar_engine import DEFAULT_REBALANCE_BAND, RebalanceBand
from orchestrator.trader import DEFAULT_WINDOW, TraderConfig, TradingMarket

LEDGER_SUFFIX = ".llm-ledger.sqlite"
CACHE_SUFFIX = ".llm-cache.sqlite"


class PaperConfig(Settings):
    """Every setting of a paper run that changes its results; the defaults are the backtest's
    (`BacktestConfig`), so a paper run over a test split trades as the backtest's hybrid_learned.

    trader: the hybrid's settings (the combiner's long-only switch is set from the agent's mode).
    initial_cash: the account's starting cash, in the account currency.
    """

    trader: TraderConfig = Field(default_factory=TraderConfig)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    initial_cash: Positive = 100_000.0
    rebalance_band: RebalanceBand = DEFAULT_REBALANCE_BAND
    snapshot_window: PositiveInt = DEFAULT_WINDOW

    def for_agent(self, agent: DRLAgent) -> PaperConfig:
        """These settings with the trader's set for `agent` (`TraderConfig.for_agent`)."""
        return self.copy_with(trader=self.trader.for_agent(agent))

    def identity_values(self) -> dict[str, object]:
        """JSON values for the run identity; an infinite limit ("no limit") is the string "inf"."""
        values = self.model_dump()
        values["risk"] = {name: _json_number(value) for name, value in values["risk"].items()}
        return values


def run_identity(
    agent: DRLAgent, market: TradingMarket, llm_mode: LLMMode, config: PaperConfig
) -> RunIdentity:
    """The identity of a paper run of `agent` over `market` (see the module docstring).

    The bars traded are named by their dates, so `--start 2015` and `--start 2015-01-01` are the
    same run when they select the same bars (the data hash covers the bars before them)."""
    bars = {
        "first_decision": str(market.day(market.first_bar)),
        "last": str(market.day(market.n_bars - 1)),
        "count": market.n_bars - market.first_bar,
    }
    return RunIdentity(
        agent_hash=canonical_hash(agent.manifest.to_dict(), "agent manifest"),
        data_source=source_label(market.source),
        data_hash=market.data_hash,
        config={"llm": llm_mode, "bars": bars, **config.identity_values()},
    )


def source_label(source: str) -> str:
    """A source name as is, a file as its absolute path (the same file from any folder)."""
    return source if source in SOURCE_NAMES else str(Path(source).resolve())


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
