"""Small builders for journal tests: an identity, bars, votes and decisions, and one whole bar."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Collection, Iterable
from pathlib import Path

from llm import Action, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.execution.broker import Broker, BrokerFill
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.journal.schema import RunIdentity
from orchestrator.journal.writer import BarWriter, Journal
from orchestrator.trader.cadence import LLMView
from orchestrator.trader.combiner import HybridDecision, combine
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate
from orchestrator.trader.market import BarSeen
from orchestrator.trader.votes import SourceVote

IDENTITY = RunIdentity(
    agent_hash="agent-1",
    data_source="synthetic",
    data_hash="data-1",
    config={
        "combiner": {"agree_threshold": 0.7},
        "cash": 10_000.0,
        "trader": {"combiner": {"rule": "mixture"}},
    },
)
START = dt.datetime(2020, 1, 1)
# Each bar's table rows, for checking that a bar is wholly present or wholly absent.
PER_BAR_TABLES = ("bars", "decisions", "risk_checks", "orders", "fills", "positions", "states")


def bar(index: int, open_: float = 100.0, close: float | None = None) -> BarSeen:
    close = open_ if close is None else close
    return BarSeen(
        index=index,
        timestamp=START + dt.timedelta(days=index),
        open=open_,
        high=max(open_, close) + 1.0,
        low=min(open_, close) - 1.0,
        close=close,
        volume=1_000.0,
    )


def decision(drl_signal: float, llm_signal: float, drl_weight: float = 0.5) -> HybridDecision:
    return combine(
        SourceVote(signal=drl_signal, confidence=0.8),
        SourceVote(signal=llm_signal, confidence=0.6),
        drl_weight=drl_weight,
    )


def llm_view(asked_at_bar: int) -> LLMView:
    trading = TradingDecision(
        action=Action.BUY,
        size=0.5,
        confidence=0.6,
        risk_level=RiskLevel.MEDIUM,
        reasoning="trend up",
        models=["offline"],
        cost_usd=0.0,
    )
    return LLMView(asked_at_bar=asked_at_bar, decision=trading)


def weights_with(updates: list[WeightUpdate], drl_weight: float) -> HedgeWeights:
    """Weights whose history is `updates` and whose current DRL weight is `drl_weight`: a learner
    state with Delta = ln 2 (so eta = 1) and the LLM's summed loss ahead by logit(drl_weight)."""
    weights = HedgeWeights()
    state = {
        "experts": ["drl", "llm"],
        "cumulative_loss": [0.0, math.log(drl_weight) - math.log(1.0 - drl_weight)],
        "gap": math.log(2.0),
        "steps": len(updates),
    }
    weights.load_state_dict(state, updates)
    return weights


def unrecorded_fills(
    broker: Broker, client_order_ids: Iterable[str], recorded_fill_ids: Collection[str]
) -> tuple[BrokerFill, ...]:
    """The broker's fills of these orders that the journal has not recorded yet, oldest first."""
    return tuple(
        fill
        for client_id in client_order_ids
        for fill in broker.fills(client_id)
        if fill.fill_id not in recorded_fill_ids
    )


def fill_ids(path: Path) -> set[str]:
    """Ids of every fill the journal at `path` recorded."""
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT fill_id FROM fills")}
    finally:
        connection.close()


def record_plain_bar(
    journal: Journal, index: int, *, cash: float = 10_000.0, weights: HedgeWeights | None = None
) -> None:
    """A bar with a decision and the state only: a flat account holding `cash`."""
    with journal.record_bar(bar(index)) as writer:
        writer.record_decision(decision(0.5, 0.5))
        finish(writer, PortfolioState.opening(cash), weights or HedgeWeights())


def finish(writer: BarWriter, portfolio: PortfolioState, weights: HedgeWeights) -> None:
    writer.record_state(portfolio=portfolio, weights=weights, llm_view=None)


def rows_of_bar(path: Path, index: int) -> dict[str, int]:
    """How many rows each per-bar table holds for bar `index` (read with plain sqlite3)."""
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(
                f"SELECT COUNT(*) FROM {table} WHERE bar_index = ?", (index,)
            ).fetchone()[0]
            for table in (*PER_BAR_TABLES, "weight_updates", "llm_calls")
        }
    finally:
        connection.close()
