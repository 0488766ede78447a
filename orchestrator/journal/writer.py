"""The paper-trade journal: one SQLite file per run that a crashed run resumes from exactly.

Crash safety rests on three things:
- one transaction per bar (`record_bar`): the bar row and all of its records commit together, so
  after a crash the journal holds every bar up to some bar t, whole, and nothing of t+1;
- `synchronous=FULL` with WAL: every commit fsyncs the WAL before it returns. (NORMAL would
  survive a killed process but may lose the last commits on a power cut or OS crash, since WAL
  is then synced only at checkpoints.) The commit that matters is the bar's, which records the
  order the broker has already accepted: losing it would make the resumed run decide that bar
  again, against an order that exists. One fsync per bar costs nothing at bar frequencies;
- idempotent client order ids (`broker.client_order_id`): an order sent before a crash and not
  journaled is sent again with the same id on resume, and the broker returns the original; an
  order journaled whose fill was not is still pending (`restore_state().pending_orders`), and
  its fills are found by client id (`Broker.fills`).

One run writes a journal at a time (`JournalLock`); reports read it with `JournalReader`, which
never writes and needs no lock (WAL lets it read while a run writes).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from pydantic import ValidationError

from agents import DRLDecision
from llm import LedgerEntry, TradingDecision
from orchestrator.errors import (
    InvalidInputError,
    JournalCorruptError,
    JournalError,
    JournalIdentityError,
)
from orchestrator.execution import (
    BrokerFill,
    OrderAck,
    OrderCheck,
    OrderRequest,
    OrderStatus,
    PortfolioState,
)
from orchestrator.journal.reader import JournalQueries, JournalReader
from orchestrator.journal.schema import (
    FileState,
    JournalLock,
    RestoredState,
    RunIdentity,
    canonical_json,
    create_schema,
    drl_record,
    inspect_file,
)
from orchestrator.memory import MemoryRecords, insert_records, read_records
from orchestrator.trader import BarSeen, HedgeWeights, HybridDecision, LLMView, WeightUpdate

Clock = Callable[[], dt.datetime]
# The account's fields, one column each in `positions`.
_PORTFOLIO_COLUMNS = tuple(PortfolioState.model_fields)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Journal(JournalQueries):
    """The journal a run writes: created or resumed by `open`, one `record_bar` block per bar."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, lock: JournalLock, clock: Clock
    ) -> None:
        super().__init__(path, connection)
        self._lock = lock
        self._clock = clock

    @classmethod
    def open(cls, path: Path | str, identity: RunIdentity, *, clock: Clock = utc_now) -> Journal:
        """Create the journal at `path`, or resume it if it was made by this same run.

        Raises `JournalIdentityError` for a journal of another agent, data or configuration,
        `JournalLockedError` while another run writes it, and `JournalCorruptError` for a file
        that is not a sound journal. In every refused case the file is left as it was.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the folder of journal {path}: {exc}") from None
        lock = JournalLock.acquire(path)
        connection: sqlite3.Connection | None = None
        try:
            _finish_interrupted_transaction(path)
            state = inspect_file(path)
            if state is FileState.JOURNAL:
                with JournalReader.open(path) as existing:  # refuse before opening to write
                    _check_identity(path, identity, existing.identity)
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            if state is not FileState.JOURNAL:
                _create(connection, identity, clock())
            return cls(path, connection, lock, clock)
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            lock.release()
            raise JournalError(f"journal {path} cannot be opened: {exc}") from None
        except BaseException:
            if connection is not None:
                connection.close()
            lock.release()
            raise

    @contextmanager
    def record_bar(self, bar: BarSeen) -> Iterator[BarWriter]:
        """One bar's transaction: everything recorded in the block commits together, or nothing.

        The bar must come after the last completed one (a bar is never decided twice), and the
        block must call `record_state`. Leaving the block by an exception rolls the bar back.
        """
        self._check_next(bar)
        connection = self.connection
        writer = BarWriter(connection, bar, self._clock().isoformat())
        connection.execute("BEGIN IMMEDIATE")
        try:
            writer.start()
            yield writer
            writer.complete()
            connection.execute("COMMIT")
        except BaseException:
            writer.abandon()
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def restore_state(self) -> RestoredState | None:
        """The state after the last completed bar, or None if no bar was completed yet."""
        last = self.last_completed_bar()
        if last is None:
            return None
        n_weight_updates, llm_asked_at_bar, loop_state_json = self.connection.execute(
            "SELECT n_weight_updates, llm_asked_at_bar, loop_state_json FROM states"
            " WHERE bar_index = ?",
            (last,),
        ).fetchone()
        history = self.weight_history()
        if len(history) != n_weight_updates:
            raise JournalCorruptError(
                f"journal {self.path}: bar {last}'s state was saved after {n_weight_updates}"
                f" weight updates, but it holds {len(history)} weight-update rows"
            )
        return RestoredState(
            bar=self.bar(last),
            portfolio=self._portfolio_after(last),
            weight_history=history,
            llm_view=None if llm_asked_at_bar is None else self._llm_view(llm_asked_at_bar),
            pending_orders=self.pending_orders(),
            loop_state=json.loads(loop_state_json),
            memory=read_records(self.connection),
        )

    def _portfolio_after(self, bar_index: int) -> PortfolioState:
        row = self.connection.execute(
            f"SELECT {', '.join(_PORTFOLIO_COLUMNS)} FROM positions WHERE bar_index = ?",
            (bar_index,),
        ).fetchone()
        fields = dict(zip(_PORTFOLIO_COLUMNS, row, strict=True))
        for latch in ("halted", "daily_loss_breached"):  # stored as 0 / 1
            fields[latch] = bool(fields[latch])
        try:
            return PortfolioState.from_mapping(fields)
        except InvalidInputError as exc:
            raise JournalCorruptError(
                f"journal {self.path}: bar {bar_index}'s account is malformed: {exc}"
            ) from None

    def _llm_view(self, asked_at_bar: int) -> LLMView:
        (decision_json,) = self.connection.execute(
            "SELECT decision_json FROM llm_views WHERE asked_at_bar = ?", (asked_at_bar,)
        ).fetchone()
        try:
            decision = TradingDecision.model_validate(json.loads(decision_json))
        except ValidationError as exc:
            raise JournalCorruptError(
                f"journal {self.path}: the LLM view asked at bar {asked_at_bar} is malformed: {exc}"
            ) from None
        return LLMView(asked_at_bar=asked_at_bar, decision=decision)

    def close(self) -> None:
        """Close the file and give the lock back (another run may then open it)."""
        super().close()
        self._lock.release()

    def _check_next(self, bar: BarSeen) -> None:
        last = self.last_completed_bar()
        if last is None:
            return
        if bar.index <= last:
            raise JournalError(
                f"bar {bar.index} is not after bar {last}, the last one journal {self.path}"
                " completed: a bar is never decided twice"
            )
        previous = self.bar(last).timestamp
        try:
            in_order = bar.timestamp > previous
        except TypeError:
            in_order = False  # one timestamp has a time zone and the other not
        if not in_order:
            raise JournalError(
                f"bar {bar.index} at {bar.timestamp.isoformat()} does not come after bar {last}"
                f" at {previous.isoformat()}"
            )


def _finish_interrupted_transaction(path: Path) -> None:
    """Let SQLite roll back a write transaction a killed run left behind.

    Only the journal's creation writes in rollback mode (before WAL is switched on), so a run
    killed right then leaves `<journal>-journal` beside the file, which a read-only connection
    cannot roll back ("attempt to write a readonly database"). SQLite rolls it back on the next
    read-write open; the caller holds the journal's lock, so no one else is writing.
    """
    if not Path(f"{path}-journal").exists():
        return
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()


def _check_identity(path: Path, identity: RunIdentity, journaled: RunIdentity) -> None:
    mismatches = identity.mismatches(journaled)
    if mismatches:
        raise JournalIdentityError(
            f"journal {path} was made by another run, so it is not resumed: "
            + "; ".join(mismatches)
            + ". Give this run another --journal file."
        )


def _create(connection: sqlite3.Connection, identity: RunIdentity, now: dt.datetime) -> None:
    """Schema and run record in one transaction: a crash leaves an empty file, made again later."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        create_schema(connection)
        connection.execute(
            "INSERT INTO run (id, run_id, agent_hash, data_source, data_hash, config_json,"
            " created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                identity.agent_hash,
                identity.data_source,
                identity.data_hash,
                identity.config_json,
                now.isoformat(),
            ),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


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
        if llm is not None:
            self._record_llm_view(llm)
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
                "reasoning": decision.reasoning,
                "drl_json": None if drl is None else canonical_json(drl_record(drl), "DRL view"),
                "llm_asked_at_bar": None if llm is None else llm.asked_at_bar,
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
        fields = {name: value for name, value in asdict(update).items() if name != "extras"}
        extras = {name: score.model_dump() for name, score in update.extras.items()}
        self._insert(
            "weight_updates",
            {
                **fields,
                "extras_json": canonical_json(extras, "weight update extras"),
                "bar_index": self.bar.index,
                "decision_bar": decision_bar,
            },
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

    def record_memory(self, records: MemoryRecords) -> None:
        """The trades the memory closed in this bar, their lessons and the recall shown to the
        analysts: in this bar's transaction, so they survive exactly as the bar does."""
        self._require_open()
        insert_records(self._connection, records)

    def record_state(
        self,
        *,
        portfolio: PortfolioState,
        weights: HedgeWeights,
        llm_view: LLMView | None,
        loop_state: Mapping[str, object] | None = None,
        bars_to_trade: int | None = None,
    ) -> None:
        """The state after this bar, marked at its close: what `restore_state` gives back.

        portfolio: stored field by field, with its equity and position at the close. weights:
        their updates must all be recorded (`record_weight_update`); the count is kept to check
        the history on restore. llm_view: the view held after the bar (stored once, at the bar
        that asked it). loop_state: the loop's other JSON values, the ones no table holds.
        bars_to_trade: the bars the run's data held to trade (from its first decision on) when
        this bar was traded, kept in the run record, so a report on the journal alone can say how
        much of its data a run covered (a followed file grows, so it is no part of the bar's state).
        """
        self._require_open()
        recorded = self._connection.execute("SELECT COUNT(*) FROM weight_updates").fetchone()[0]
        if weights.n_updates != recorded:
            raise JournalError(
                f"bar {self.bar.index}: the weights have {weights.n_updates} updates but the"
                f" journal recorded {recorded}; record every update with record_weight_update"
            )
        if llm_view is not None:
            self._record_llm_view(llm_view)
        close = self.bar.close
        equity = portfolio.equity(close)
        account = portfolio.model_dump()
        self._insert(
            "positions",
            {
                "bar_index": self.bar.index,
                **account,
                "day": None if portfolio.day is None else portfolio.day.isoformat(),
                "halted": int(portfolio.halted),
                "daily_loss_breached": int(portfolio.daily_loss_breached),
                "equity": equity,
                "position_fraction": portfolio.position_fraction(close) if equity > 0 else None,
            },
        )
        self._insert(
            "states",
            {
                "bar_index": self.bar.index,
                "n_weight_updates": recorded,
                "llm_asked_at_bar": None if llm_view is None else llm_view.asked_at_bar,
                "loop_state_json": canonical_json(dict(loop_state or {}), "loop_state"),
            },
        )
        if bars_to_trade is not None:
            self._connection.execute(
                "UPDATE run SET bars_to_trade = ? WHERE id = 1", (bars_to_trade,)
            )
        self._state_recorded = True

    def _record_llm_view(self, view: LLMView) -> None:
        """Store a view asked at this bar (once); a view asked earlier must be stored already."""
        asked = view.asked_at_bar
        if asked > self.bar.index:
            raise JournalError(
                f"bar {self.bar.index}: the LLM view was asked at a later bar, {asked}"
            )
        stored = self._connection.execute(
            "SELECT 1 FROM llm_views WHERE asked_at_bar = ?", (asked,)
        ).fetchone()
        if stored is not None:
            return
        if asked < self.bar.index:
            raise JournalError(
                f"bar {self.bar.index}: the LLM view asked at bar {asked} was never recorded;"
                " record a view with the bar that asked it"
            )
        decision = view.decision.model_dump(mode="json")
        self._insert(
            "llm_views",
            {"asked_at_bar": asked, "decision_json": canonical_json(decision, "LLM view")},
        )

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
