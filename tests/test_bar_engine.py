"""The bar engine on hand-made markets: fills, costs, the held target, vetoes, resuming a journal.

Costs are the defaults, k = 1 bp commission and s = 2 bp slippage, so a buy pays
(1 + s)(1 + k) = 1 + b per unit of value at the reference price, b = s + k + s*k = 3.0002e-4.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from envs import CostModel, EnvConfig
from llm import Confirmation
from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.execution.broker import (
    BrokerFill,
    OrderAck,
    OrderStatus,
    client_order_id,
    resubmit_pending,
)
from orchestrator.execution.paper_broker import PaperBroker
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.execution.risk import CheckStatus, OrderCheck, RiskManager
from orchestrator.journal.schema import RestoredState, RunIdentity
from orchestrator.journal.writer import Journal
from orchestrator.runs.bar_engine import NOT_SENT, BarEngine, apply_fill
from orchestrator.runs.engine_state import EngineState, loop_state, resume
from orchestrator.trader.cadence import LLMCadence
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hybrid_trader import HybridDRLLLMTrader, TraderConfig
from orchestrator.trader.market import TradingMarket
from orchestrator.trader.snapshots import MarketSnapshots
from orchestrator.trader.strategy import Strategy
from tests.engine_helpers import (
    FeatureAgent,
    ListRecorder,
    ScriptedStrategy,
    TrendAnalyst,
    trading_market,
)

CASH = 100_000.0
S, K = 2e-4, 1e-4
B = S + K + S * K


@dataclass
class StubConfirmer:
    """Confirms (or vetoes) every order and remembers the bars it was asked at."""

    confirm_all: bool = True
    asked: list[int] = field(default_factory=list)

    def confirm(self, bar: int, check: OrderCheck, intent: str) -> Confirmation:
        self.asked.append(bar)
        return Confirmation(self.confirm_all, "stub says so", model="stub")


def engine_for(
    market: TradingMarket, strategy: Strategy, confirmer: StubConfirmer | None = None
) -> tuple[BarEngine, PaperBroker]:
    broker = PaperBroker(CASH, symbol=market.symbol)
    engine = BarEngine(
        market,
        strategy,
        broker,
        RiskManager(),
        run_id="run",
        state=EngineState.opening(CASH),
        confirmer=confirmer,
    )
    return engine, broker


def run(engine: BarEngine, bars: range) -> list[ListRecorder]:
    recorders = []
    for bar in bars:
        recorder = ListRecorder()
        engine.step(bar, recorder)
        recorders.append(recorder)
    return recorders


def test_an_order_decided_at_t_fills_at_the_next_open_with_exact_costs() -> None:
    market = trading_market(
        open_=[100.0, 100.0, 100.5, 103.0, 101.5, 104.0],
        close=[100.0, 101.0, 103.0, 102.0, 105.0, 104.0],
    )
    engine, _ = engine_for(market, ScriptedStrategy({1: 1.0, 2: 1.0, 3: 1.0}), StubConfirmer())
    bar1, bar2, bar3, bar4, bar5 = run(engine, range(1, 6))

    shares = CASH / 101.0 / (1.0 + B)  # sized at the decision close, costs included
    ((order, ack),) = bar1.of("order")
    assert order.client_order_id == client_order_id("run", 1, "rebalance")
    assert order.quantity == pytest.approx(shares, rel=1e-12) and order.decision_bar == 1
    assert (
        ack.status is OrderStatus.ACCEPTED
        and ack.reason == "execution confirmed by stub: stub says so"
    )
    assert bar1.of("fill") == []

    (fill,) = bar2.of("fill")
    assert fill.bar_index == 2 and fill.reference_price == 100.5
    assert fill.price == pytest.approx(100.5 * (1 + S), rel=1e-12)
    assert fill.commission == pytest.approx(shares * 100.5 * (1 + S) * K, rel=1e-12)
    cash_after_buy = CASH - shares * 100.5 * (1 + S) * (1 + K)
    state2 = bar2.calls[-1][2]["portfolio"]
    assert state2.cash == pytest.approx(cash_after_buy, rel=1e-12) and state2.shares == shares

    # The target repeats: no order, though the position drifted with the price (inside the band).
    for recorder in (bar2, bar3):
        (check,) = recorder.of("risk_check")
        assert check.status is CheckStatus.NO_ORDER and recorder.of("order") == []

    ((exit_order, _),) = bar4.of("order")
    assert exit_order.quantity == -shares  # exactly flat
    (exit_fill,) = bar5.of("fill")
    assert exit_fill.price == pytest.approx(104.0 * (1 - S), rel=1e-12)
    final = engine.state.portfolio
    assert final.shares == 0.0
    assert final.cash == pytest.approx(cash_after_buy + shares * 104.0 * (1 - S) * (1 - K))
    assert engine.state.pending == ()


def test_a_vetoed_order_is_recorded_never_sent_and_asked_again_next_bar() -> None:
    market = trading_market(open_=[100.0] * 5, close=[100.0] * 5)
    confirmer = StubConfirmer(confirm_all=False)
    engine, broker = engine_for(market, ScriptedStrategy({1: 1.0, 2: 1.0}), confirmer)
    bar1, bar2 = run(engine, range(1, 3))

    ((order, ack),) = bar1.of("order")
    assert ack.status is OrderStatus.REJECTED and ack.broker_order_id == NOT_SENT
    assert ack.reason == "execution vetoed by stub: stub says so"
    assert broker.order(order.client_order_id) is None
    assert bar2.of("fill") == [] and len(bar2.of("order")) == 1
    assert confirmer.asked == [1, 2]
    assert engine.state.portfolio.shares == 0.0


def test_a_forced_trim_is_not_put_to_the_execution_check() -> None:
    # The open gaps 7 % above the decision close: the fill costs more than the cash, the position
    # ends at 1.07, more than the 0.05 of drift the limits allow past the max of 1, and the risk
    # manager trims it at the next close. (The gap was 1 % before drift was allowed: a position
    # within it is now held, not trimmed at every bar.)
    market = trading_market(open_=[100.0, 100.0, 108.0, 108.0], close=[100.0, 101.0, 107.0, 107.0])
    confirmer = StubConfirmer()
    engine, _ = engine_for(market, ScriptedStrategy({1: 1.0, 2: 1.0, 3: 1.0}), confirmer)
    _, bar2, _ = run(engine, range(1, 4))

    (check,) = bar2.of("risk_check")
    ((order, ack),) = bar2.of("order")
    assert check.status is CheckStatus.FORCED and check.current_position > 1.0
    assert order.intent == "risk_exit" and order.quantity < 0
    assert ack.reason == "risk manager's forced exit: not put to the execution check"
    assert confirmer.asked == [1]


def test_bars_run_once_each_in_order_from_the_first_full_window() -> None:
    market = trading_market(open_=[100.0] * 5, close=[100.0] * 5, window=3)
    engine, _ = engine_for(market, ScriptedStrategy({}))
    with pytest.raises(InvalidInputError, match="bar 1 cannot be traded now"):
        engine.step(1, ListRecorder())
    engine.step(2, ListRecorder())
    with pytest.raises(InvalidInputError, match="the next is bar 3"):
        engine.step(2, ListRecorder())
    with pytest.raises(InvalidInputError, match="the next is bar 3"):
        engine.step(4, ListRecorder())


def test_the_broker_and_the_risk_manager_must_share_one_cost_model() -> None:
    market = trading_market(open_=[100.0] * 3, close=[100.0] * 3)
    with pytest.raises(ConfigError, match="one cost model"):
        BarEngine(
            market,
            ScriptedStrategy({}),
            PaperBroker(CASH, symbol="TEST", cost_model=CostModel(commission_bps=5.0)),
            RiskManager(),
            run_id="run",
            state=EngineState.opening(CASH),
        )


def test_a_fill_without_a_reference_price_charges_its_own_price_and_commission() -> None:
    account = PortfolioState.opening(10_000.0)
    fill = BrokerFill("f", "o", 3, shares=10.0, price=101.0, commission=2.5)
    after = apply_fill(account, fill, CostModel())
    assert after.cash == pytest.approx(10_000.0 - 1010.0 - 2.5) and after.entry_price == 101.0


# ---- resuming from the journal ---------------------------------------------------------------

N_BARS = 14
TARGETS = [0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.5, 0.5, 0.0, 1.0, 0.0, 0.5]
CONFIDENCES = [0.9, 0.3, 0.8, 0.9, 0.4, 0.9, 0.9, 0.2, 0.8, 0.9, 0.9, 0.5, 0.9, 0.9]


def hybrid_market() -> TradingMarket:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N_BARS)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, N_BARS))
    features = np.column_stack([TARGETS, CONFIDENCES])
    return trading_market(open_=list(open_), close=list(close), window=3, features=features)


def hybrid_engine(
    market: TradingMarket, broker: PaperBroker, restored: RestoredState | None = None
) -> BarEngine:
    """The hybrid on `market`, new or resumed from a journal's `restored` state."""
    config = TraderConfig(cadence=LLMCadence(every_bars=3, below_drl_confidence=0.55))
    drl = DRLAdvisor(
        FeatureAgent(window=3, n_features=2), market.arrays.features, EnvConfig(window_size=3)
    )
    trader = HybridDRLLLMTrader(
        drl,
        TrendAnalyst(),
        MarketSnapshots(market, window=5),
        cost_model=CostModel(),
        config=config,
    )
    state = EngineState.opening(CASH) if restored is None else resume(restored, trader)
    return BarEngine(market, trader, broker, RiskManager(), run_id="paper", state=state)


IDENTITY = RunIdentity(agent_hash="a", data_source="hand", data_hash="hand", config={"k": 3})


def journaled(engine: BarEngine, journal: Journal, bars: range) -> None:
    for bar in bars:
        with journal.record_bar(engine.market.bar_seen(bar)) as writer:
            engine.step(bar, writer)


def test_a_run_resumed_from_its_journal_ends_exactly_as_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    market = hybrid_market()
    whole = hybrid_engine(market, PaperBroker(CASH, symbol="TEST"))
    with Journal.open(tmp_path / "whole.sqlite", IDENTITY) as journal:
        journaled(whole, journal, range(2, N_BARS))
        expected_tables = {
            t: journal.table(t)
            for t in ("decisions", "llm_views", "orders", "fills", "positions", "weight_updates")
        }
        expected_states = journal.table("states")

    path = tmp_path / "resumed.sqlite"
    first = hybrid_engine(market, PaperBroker(CASH, symbol="TEST"))
    with Journal.open(path, IDENTITY) as journal:
        journaled(first, journal, range(2, 8))
    with Journal.open(path, IDENTITY) as journal:  # a new process: everything from the journal
        restored = journal.restore_state()
        assert restored is not None
        account = restored.portfolio
        broker = PaperBroker(account.cash, shares=account.shares, symbol="TEST")
        resubmit_pending(broker, restored.pending_orders)
        resumed = hybrid_engine(market, broker, restored)
        journaled(resumed, journal, range(8, N_BARS))
        tables = {t: journal.table(t) for t in expected_tables}
        states = journal.table("states")

    assert resumed.state == whole.state
    assert resumed.strategy.state_dict() == whole.strategy.state_dict()
    for name, table in tables.items():
        assert table.equals(expected_tables[name]), name
    assert states.equals(expected_states)
    # A position is scored once held from its fill to the next (open to open): 4 bars in, one a bar.
    assert len(tables["weight_updates"]) == N_BARS - 4 and len(tables["fills"]) > 3
    assert len(tables["llm_views"]) < len(tables["decisions"])  # views reused, stored once


def test_the_loop_state_reads_back_the_engine_and_the_strategy() -> None:
    market = hybrid_market()
    engine = hybrid_engine(market, PaperBroker(CASH, symbol="TEST"))
    # Trade until a bar leaves an order waiting for the next open (the state with most to save).
    for last in range(2, market.n_bars - 1):
        run(engine, range(last, last + 1))
        if engine.state.pending:
            break
    state = engine.state
    assert state.pending
    saved = json.loads(json.dumps(loop_state(state, engine.strategy)))
    restored = RestoredState(
        bar=market.bar_seen(last),
        portfolio=state.portfolio,
        weight_history=engine.strategy.weights.history,
        llm_view=engine.strategy.llm_view,
        pending_orders=tuple(item.order for item in state.pending),
        loop_state=saved,
    )
    again = hybrid_engine(market, PaperBroker(CASH, symbol="TEST"), restored)
    assert again.state == state
    assert again.strategy.state_dict() == engine.strategy.state_dict()
    with pytest.raises(InvalidInputError, match=r"SavedLoop\.pending\.0\.order"):
        resume(
            replace(restored, loop_state={**saved, "pending": [{"fill_ids": []}]}), again.strategy
        )


def test_an_ack_the_broker_closed_unfilled_is_recorded_as_closed() -> None:
    market = trading_market(open_=[100.0] * 4, close=[100.0] * 4)
    engine, broker = engine_for(market, ScriptedStrategy({1: 1.0, 2: 1.0}))
    run(engine, range(1, 2))
    (pending,) = engine.state.pending
    client_id = pending.order.client_order_id
    closed = OrderAck(client_id, "paper-x", "TEST", pending.order.quantity, OrderStatus.CANCELED)
    broker.fills = lambda _id: ()  # type: ignore[method-assign]
    broker.order = lambda _id: closed  # type: ignore[method-assign]
    (bar2,) = run(engine, range(2, 3))
    assert bar2.of("order_closed") == [closed]
    ((order, _),) = bar2.of("order")  # the target is no longer held: it is traded again
    assert order.decision_bar == 2 and [p.order for p in engine.state.pending] == [order]
