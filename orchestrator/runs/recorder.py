"""The backtest's `BarRecorder`: keeps in memory what the metrics and plots need, bar by bar.

Where the paper loop writes the journal, a backtest collects per bar: the equity and position at
the close, the target position held over the bar (the approved target of the last order that
filled), the DRL weight, and counts of LLM calls and dollars, orders, vetoes and fills.
`held_frame` gives pure buy-and-hold, which runs in no engine, the same frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from agents import DRLDecision
from envs import BuyAndHoldRun
from llm import LedgerEntry, Task
from orchestrator.execution import BrokerFill, OrderAck, OrderCheck, OrderRequest, PortfolioState
from orchestrator.memory import MemoryRecords
from orchestrator.runs.activity import Activity
from orchestrator.runs.bar_engine import NOT_SENT
from orchestrator.trader import HedgeWeights, HybridDecision, LLMView, WeightUpdate

FRAME_COLUMNS = ("equity", "position", "held_position", "drl_weight", "llm_usd", "halted")


@dataclass(frozen=True)
class TradeFill:
    """One fill as the trade list reads it: the bar it filled in (its open), signed shares, the
    price per share with slippage, and the commission in currency."""

    date: pd.Timestamp
    shares: float
    price: float
    commission: float


class BacktestRecorder:
    """Collects one strategy's bars; call `begin_bar` before each `BarEngine.step`."""

    def __init__(self) -> None:
        self.activity = Activity()
        self._rows: list[tuple[float, float, float, float, float, bool]] = []
        self._dates: list[pd.Timestamp] = []
        self._close = 0.0
        self._held = 0.0
        self._bar_llm_usd = 0.0
        self._last_check: OrderCheck | None = None
        self._approved: dict[str, float] = {}
        self.fills: list[TradeFill] = []
        self._memory: list[MemoryRecords] = []

    def begin_bar(self, timestamp: pd.Timestamp, close: float) -> None:
        self._dates.append(timestamp)
        self._close = close
        self._bar_llm_usd = 0.0

    def record_decision(
        self,
        decision: HybridDecision,
        *,
        drl: DRLDecision | None = None,
        llm: LLMView | None = None,
    ) -> None:
        """Nothing to keep: the weights come with the state, the target with the risk check."""

    def record_risk_check(self, check: OrderCheck) -> None:
        self._last_check = check

    def record_order(self, order: OrderRequest, ack: OrderAck) -> None:
        activity = self.activity
        if ack.broker_order_id == NOT_SENT:
            self.activity = replace(activity, orders_vetoed=activity.orders_vetoed + 1)
            return
        self.activity = replace(activity, orders_sent=activity.orders_sent + 1)
        if self._last_check is not None:
            self._approved[order.client_order_id] = self._last_check.approved_position

    def record_order_closed(self, ack: OrderAck) -> None:
        """A closed order changes nothing held."""

    def record_fill(self, fill: BrokerFill) -> None:
        self.activity = replace(self.activity, fills=self.activity.fills + 1)
        self._held = self._approved.get(fill.client_order_id, self._held)
        self.fills.append(TradeFill(self._dates[-1], fill.shares, fill.price, fill.commission))

    def record_weight_update(self, update: WeightUpdate, *, decision_bar: int) -> None:
        """Nothing to keep: the weights come with the state."""

    def record_llm_call(self, entry: LedgerEntry) -> None:
        self._bar_llm_usd += entry.cost_usd
        activity = self.activity
        answered = entry.error is None
        check = entry.task == Task.TRADE_EXECUTION
        self.activity = replace(
            activity,
            llm_calls=activity.llm_calls + answered,
            llm_failed=activity.llm_failed + (not answered),
            llm_cost_usd=activity.llm_cost_usd + entry.cost_usd,
            llm_check_cost_usd=activity.llm_check_cost_usd + entry.cost_usd * check,
        )

    def record_memory(self, records: MemoryRecords) -> None:
        self._memory.append(records)

    @property
    def memory(self) -> MemoryRecords:
        """Everything the strategy's trade memory added, in bar order (for the memory file)."""
        parts = self._memory
        return MemoryRecords(
            trades=tuple(t for part in parts for t in part.trades),
            lessons=tuple(lesson for part in parts for lesson in part.lessons),
            recalls=tuple(r for part in parts for r in part.recalls),
        )

    def record_state(
        self,
        *,
        portfolio: PortfolioState,
        weights: HedgeWeights,
        llm_view: LLMView | None,
        loop_state: Mapping[str, object] | None = None,
        bars_to_trade: int | None = None,
    ) -> None:
        close = self._close
        equity = portfolio.equity(close)
        position = portfolio.position_fraction(close) if equity > 0.0 else 0.0
        self._rows.append(
            (equity, position, self._held, weights.drl_weight, self._bar_llm_usd, portfolio.halted)
        )

    @property
    def last_close(self) -> float:
        """The close of the last bar begun: where a trade still open at the end is marked."""
        return self._close

    def frame(self) -> pd.DataFrame:
        """One row per bar, indexed by date: equity and position at the close, the target held
        over the bar, the DRL weight after the bar, the dollars its LLM calls cost in the bar
        (paid from no account: the reports show them beside it), and whether the drawdown kill
        switch held the account flat after the bar's check."""
        return pd.DataFrame(
            self._rows, index=pd.DatetimeIndex(self._dates, name="date"), columns=FRAME_COLUMNS
        )


def held_frame(dates: np.ndarray, hold: BuyAndHoldRun) -> pd.DataFrame:
    """`BacktestRecorder.frame` of pure buy and hold, from its decision bar (`dates`, one per
    close of `hold`): nothing is held over the decision bar, `hold.target` after; the DRL weight
    is that of a strategy that learns none (the untouched start); it asks no LLM."""
    held = np.concatenate([[0.0], hold.held])
    columns = {
        "equity": hold.equity,
        "position": hold.position,
        "held_position": held,
        "drl_weight": np.full(len(held), HedgeWeights().drl_weight),
        "llm_usd": np.zeros(len(held)),
        "halted": np.zeros(len(held), dtype=bool),
    }
    return pd.DataFrame(columns, index=pd.DatetimeIndex(dates, name="date"))[list(FRAME_COLUMNS)]
