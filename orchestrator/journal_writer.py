"""Everything that happened at one bar, written inside that bar's single transaction.

`Journal.record_bar` opens the transaction, writes the bar row and hands out a `BarWriter`; the
bar commits only when the block ends normally and `record_state` was called (a bar without the
state to resume from is not complete). The writer checks the rules that make a resume exact:
orders belong to the bar that sent them, fills to the bar they happened in, weight updates score
an earlier decision (never this bar's: its outcome is not known yet) and come in unbroken steps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import asdict

from agents.decision import DRLDecision
from llm.ledger import LedgerEntry
from orchestrator.broker import BrokerFill, OrderAck, OrderRequest, OrderStatus
from orchestrator.combiner import HybridDecision
from orchestrator.journal_errors import JournalError
from orchestrator.journal_records import BarSeen, LLMView, canonical_json, drl_record
from orchestrator.portfolio import PortfolioState
from orchestrator.risk import OrderCheck
from orchestrator.weights import HedgeWeights, WeightUpdate

# Statuses an order can end in without fills; otherwise the journal's status follows its fills.
_CLOSED_UNFILLED = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELED})
# A fill sum this close to the order quantity (relative) completes the order: float noise.
_FILLED_TOLERANCE = 1e-9


class BarWriter:
    """Records of one bar; valid only inside its `Journal.record_bar` block."""

    def __init__(self, connection: sqlite3.Connection, bar: BarSeen, recorded_at: str) -> None:
        self.bar = bar
        self._connection = connection
        self._recorded_at = recorded_at
        self._state_recorded = False
        self._open = True

    def record_decision(
        self,
        decision: HybridDecision,
        *,
        drl: DRLDecision | None = None,
        llm: LLMView | None = None,
    ) -> None:
        """The hybrid decision with both votes and weights; `drl` / `llm`: the raw source views."""
        self._insert(
            "decisions",
            {
                "bar_index": self.bar.index,
                "drl_signal": decision.drl.signal,
                "drl_confidence": decision.drl.confidence,
                "llm_signal": decision.llm.signal,
                "llm_confidence": decision.llm.confidence,
                "drl_weight": decision.drl_weight,
                "llm_weight": decision.llm_weight,
                "score": decision.score,
                "agreed": int(decision.agreed),
                "action": decision.action.value,
                "target_position": decision.target_position,
                "llm_asked_at_bar": None if llm is None else llm.asked_at_bar,
                "decision_json": canonical_json(decision.to_record(), "decision"),
                "drl_json": None if drl is None else canonical_json(drl_record(drl), "DRL view"),
                "llm_json": None if llm is None else canonical_json(llm.to_record(), "LLM view"),
            },
        )

    def record_risk_check(self, check: OrderCheck) -> None:
        """The risk manager's verdict (approved, clipped, rejected, forced, no order) and why."""
        self._insert(
            "risk_checks",
            {
                "bar_index": self.bar.index,
                "status": check.status.value,
                "current_position": check.current_position,
                "proposed_position": check.proposed_position,
                "approved_position": check.approved_position,
                "order_shares": check.order_shares,
                "order_notional": check.order_notional,
                "price": check.price,
                "equity": check.equity,
                "reasons_json": canonical_json(list(check.reasons), "risk reasons"),
                "check_json": canonical_json(check.to_record(), "risk check"),
            },
        )

    def record_order(self, order: OrderRequest, ack: OrderAck) -> None:
        """An order this bar sent, with the broker's answer (its quantity is the one that stands).

        The journal's status of an order follows its recorded fills: it stays accepted (pending)
        until they add up, even if the broker's ack already said filled, so no fill is skipped.
        """
        if order.decision_bar != self.bar.index:
            raise JournalError(
                f"order {order.client_order_id} was decided at bar {order.decision_bar}; only"
                f" bar {self.bar.index}'s orders can be recorded with it"
            )
        if ack.client_order_id != order.client_order_id:
            raise JournalError(
                f"ack for {ack.client_order_id} recorded with order {order.client_order_id}"
            )
        self._insert(
            "orders",
            {
                "client_order_id": order.client_order_id,
                "bar_index": self.bar.index,
                "intent": order.intent,
                "symbol": order.symbol,
                "requested_quantity": order.quantity,
                "quantity": ack.quantity,
                "broker_order_id": ack.broker_order_id,
                "status": (
                    ack.status if ack.status in _CLOSED_UNFILLED else OrderStatus.ACCEPTED
                ).value,
                "duplicate": int(ack.duplicate),
                "reason": ack.reason,
            },
        )

    def record_order_closed(self, ack: OrderAck) -> None:
        """A recorded order the broker closed unfilled (or part filled): canceled or rejected."""
        if ack.status not in _CLOSED_UNFILLED:
            raise JournalError(
                f"order {ack.client_order_id}: only a canceled or rejected order can be closed,"
                f" got {ack.status.value} (fills close an order by themselves)"
            )
        self._require_open()
        cursor = self._connection.execute(
            "UPDATE orders SET status = ?, reason = ? WHERE client_order_id = ?",
            (ack.status.value, ack.reason, ack.client_order_id),
        )
        if cursor.rowcount != 1:
            raise JournalError(f"bar {self.bar.index}: no order {ack.client_order_id} to close")

    def record_fill(self, fill: BrokerFill) -> None:
        """A fill that happened at this bar; the order becomes filled once its fills add up."""
        if fill.bar_index != self.bar.index:
            raise JournalError(
                f"fill {fill.fill_id} happened at bar {fill.bar_index}; it must be recorded with"
                f" that bar, not bar {self.bar.index}"
            )
        self._require_open()
        row = self._connection.execute(
            "SELECT quantity, (SELECT COALESCE(SUM(shares), 0) FROM fills"
            " WHERE client_order_id = ?) FROM orders WHERE client_order_id = ?",
            (fill.client_order_id, fill.client_order_id),
        ).fetchone()
        if row is None:
            raise JournalError(
                f"fill {fill.fill_id} is for order {fill.client_order_id}, which the journal"
                " never recorded: record the order in the bar that sent it"
            )
        quantity, filled = row
        total = filled + fill.shares
        tolerance = _FILLED_TOLERANCE * abs(quantity)
        if fill.shares * quantity <= 0.0 or abs(total) > abs(quantity) + tolerance:
            raise JournalError(
                f"fill {fill.fill_id} of {fill.shares:+g} shares does not fit order"
                f" {fill.client_order_id} of {quantity:+g} ({filled:+g} filled before)"
            )
        self._insert(
            "fills",
            {
                "fill_id": fill.fill_id,
                "client_order_id": fill.client_order_id,
                "bar_index": self.bar.index,
                "shares": fill.shares,
                "price": fill.price,
                "commission": fill.commission,
                "reference_price": fill.reference_price,
                "slippage_cost": fill.slippage_cost,
            },
        )
        complete = abs(quantity - total) <= tolerance
        status = OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED
        self._connection.execute(
            "UPDATE orders SET status = ? WHERE client_order_id = ?",
            (status.value, fill.client_order_id),
        )

    def record_weight_update(self, update: WeightUpdate, *, decision_bar: int) -> None:
        """A Hedge update scoring the positions decided at `decision_bar` (an earlier bar)."""
        if not isinstance(decision_bar, int) or not 0 <= decision_bar < self.bar.index:
            raise JournalError(
                f"bar {self.bar.index}: a weight update must score an earlier bar's decision"
                f" (its outcome is known now), got decision_bar={decision_bar!r}"
            )
        self._require_open()
        if self._state_recorded:
            raise JournalError(
                f"bar {self.bar.index}: record weight updates before record_state, whose saved"
                " weights must already include them"
            )
        steps = self._connection.execute("SELECT COUNT(*) FROM weight_updates").fetchone()[0]
        if update.step != steps + 1:
            raise JournalError(
                f"bar {self.bar.index}: weight update step {update.step} does not follow the"
                f" journal's {steps} updates"
            )
        self._insert(
            "weight_updates",
            {**asdict(update), "bar_index": self.bar.index, "decision_bar": decision_bar},
        )

    def record_llm_call(self, entry: LedgerEntry) -> None:
        """One LLM attempt made for this bar (paid, failed or a cache hit) and its cost."""
        self._insert(
            "llm_calls",
            {
                "bar_index": self.bar.index,
                "at": None if entry.at is None else entry.at.isoformat(),
                "task": entry.task,
                "model_requested": entry.model_requested,
                "model_served": entry.model_served,
                "input_tokens": entry.input_tokens,
                "output_tokens": entry.output_tokens,
                "cost_usd": entry.cost_usd,
                "latency_s": entry.latency_s,
                "cache_hit": int(entry.cache_hit),
                "error": entry.error,
            },
        )

    def record_state(
        self,
        *,
        portfolio: PortfolioState,
        weights: HedgeWeights,
        llm_view: LLMView | None,
        loop_state: Mapping[str, object] | None = None,
    ) -> None:
        """The state after this bar, marked at its close: what `restore_state` gives back.

        The weights are stored as `weights.state_dict()`, of constant size: their history is
        the journal's weight-update rows, so a bar's state costs the same at bar 10 and bar 10,000.
        loop_state: any other JSON values the loop needs to continue exactly.
        """
        self._require_open()
        recorded = self._connection.execute("SELECT COUNT(*) FROM weight_updates").fetchone()[0]
        if weights.n_updates != recorded:
            raise JournalError(
                f"bar {self.bar.index}: the weights have {weights.n_updates} updates but the"
                f" journal recorded {recorded}; record every update with record_weight_update"
            )
        close = self.bar.close
        equity = portfolio.equity(close)
        self._insert(
            "positions",
            {
                "bar_index": self.bar.index,
                "cash": portfolio.cash,
                "shares": portfolio.shares,
                "mark_price": close,
                "equity": equity,
                "position_fraction": portfolio.position_fraction(close) if equity > 0 else None,
                "portfolio_json": canonical_json(portfolio.to_dict(), "portfolio"),
            },
        )
        self._insert(
            "snapshots",
            {
                "bar_index": self.bar.index,
                "weights_json": canonical_json(weights.state_dict(), "weights"),
                "n_weight_updates": recorded,
                "llm_view_json": None
                if llm_view is None
                else canonical_json(llm_view.to_record(), "LLM view"),
                "loop_state_json": canonical_json(dict(loop_state or {}), "loop_state"),
            },
        )
        self._state_recorded = True

    def start(self) -> None:
        """Write the bar row, the first statement of the bar's transaction (`Journal` calls it)."""
        bar = self.bar
        self._insert(
            "bars",
            {
                "bar_index": bar.index,
                "timestamp": bar.timestamp.isoformat(),
                "open": bar.open,
                "high": bar.high,
                "low": bar.low,
                "close": bar.close,
                "volume": bar.volume,
                "recorded_at": self._recorded_at,
            },
        )

    def complete(self) -> None:
        """Check the bar is complete and close the writer; `Journal` commits right after."""
        if not self._state_recorded:
            raise JournalError(
                f"bar {self.bar.index}: record_state was not called, and a bar without the state"
                " to resume from is not complete; nothing of it was kept"
            )
        self._open = False

    def abandon(self) -> None:
        """Close the writer without completing the bar; `Journal` rolls the bar back."""
        self._open = False

    def _require_open(self) -> None:
        if not self._open:
            raise JournalError(f"bar {self.bar.index} is closed: record inside its `with` block")

    def _insert(self, table: str, row: Mapping[str, object]) -> None:
        self._require_open()
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            self._connection.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values())
            )
        except sqlite3.IntegrityError as exc:
            raise JournalError(
                f"bar {self.bar.index}: cannot record into {table} ({exc}); each bar records one"
                " decision, one risk check and one state, ids are unique, and references must"
                " exist"
            ) from None
