"""One bar of trading, the same for the backtest and the paper-trade loop.

At bar t, in this order (nothing after bar t's close is read):
1. the broker opens bar t: the account rolls to bar t's day, orders pending from t-1 fill at
   open[t] (`PaperBroker`), and each fill is recorded and applied to the account with the fill
   model's costs (so it counts against the day it fills on);
2. the account is marked at close[t];
3. the strategy learns from the return open[t-1] -> open[t], the interval over which the position
   decided at close t-2 was held (from its fill to the next fill);
4. the strategy decides at close t; a target the env would not trade (`envs.order_needed`: within
   `rebalance_band` of the position at close t, an exit to flat always trades) is not traded, nor
   anything while an order is still working; the target is compared as the position limit leaves
   it (`RiskManager.capped`), so a strategy asking for more than the limit holds the limit rather
   than re-ordering it every bar;
5. the risk manager checks the proposal (`RiskManager.check`), told the day the order would fill
   (the next bar's), on which `max_trades_per_day` counts it;
6. a non-zero order the strategy chose goes to the execution confirmation, where the engine has
   one (the backtest gives one only to the strategies that ask the LLM; forced risk exits never
   go: a model must never keep open what the hard limits close); a veto is recorded as a
   rejected order with its reason, a confirmed order is submitted with
   `client_order_id(run_id, t, intent)` and recorded with the broker's ack;
7. what the strategy's trade memory added during the bar (trades closed, lessons, the recall the
   analysts were shown) is recorded, then the LLM calls made during the bar, then the state after
   the bar.

Everything goes through a `BarRecorder` (the journal's `BarWriter` is one; the backtest passes an
in-memory one). The engine's own state is a plain value, `EngineState`, saved with every bar
(`record_state`, see `engine_state`) so that a run resumes exactly from its last bar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Protocol

from pydantic import Field

from agents import DRLDecision
from envs import CostModel, EnvConfig, order_needed
from llm import Confirmation, LedgerEntry
from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.execution import (
    Broker,
    BrokerFill,
    CheckStatus,
    OrderAck,
    OrderCheck,
    OrderRequest,
    OrderStatus,
    PortfolioState,
    RiskManager,
    client_order_id,
)
from orchestrator.memory import MemoryRecords, TradeMemory
from orchestrator.runs.engine_state import EngineState, PendingOrder, loop_state
from orchestrator.runs.llm_cost import LLMCallLog
from orchestrator.trader import (
    HedgeWeights,
    HybridDecision,
    LLMView,
    Strategy,
    TradingMarket,
    WeightUpdate,
)

REBALANCE_INTENT = "rebalance"
RISK_EXIT_INTENT = "risk_exit"
NOT_SENT = "not-sent"
"""The broker order id recorded for an order the execution check vetoed (never sent)."""
RebalanceBand = Annotated[float, Field(ge=0.0, le=2.0)]
DEFAULT_REBALANCE_BAND: float = EnvConfig().rebalance_band
"""The env's default band; the runs pass the band of the agent they trade."""
"""The settings' range of the band: 2 is the widest move there is, from -1 to +1."""
_NO_COSTS = CostModel(commission_bps=0.0, slippage_bps=0.0)


class BarRecorder(Protocol):
    """Where one bar's records go; `orchestrator.journal.writer.BarWriter` satisfies it."""

    def record_decision(
        self,
        decision: HybridDecision,
        *,
        drl: DRLDecision | None = None,
        llm: LLMView | None = None,
    ) -> None: ...

    def record_risk_check(self, check: OrderCheck) -> None: ...

    def record_order(self, order: OrderRequest, ack: OrderAck) -> None: ...

    def record_order_closed(self, ack: OrderAck) -> None: ...

    def record_fill(self, fill: BrokerFill) -> None: ...

    def record_weight_update(self, update: WeightUpdate, *, decision_bar: int) -> None: ...

    def record_llm_call(self, entry: LedgerEntry) -> None: ...

    def record_memory(self, records: MemoryRecords) -> None: ...

    def record_state(
        self,
        *,
        portfolio: PortfolioState,
        weights: HedgeWeights,
        llm_view: LLMView | None,
        loop_state: Mapping[str, object] | None = None,
        bars_to_trade: int | None = None,
    ) -> None: ...


class OrderConfirmer(Protocol):
    """The last check of an order (`orchestrator.trader.confirmation.ExecutionConfirmer`)."""

    def confirm(self, bar: int, check: OrderCheck, intent: str) -> Confirmation: ...


def apply_fill(
    portfolio: PortfolioState, fill: BrokerFill, cost_model: CostModel
) -> PortfolioState:
    """The account after `fill`: the fill model's costs at the reference price when the broker
    reports one (the paper broker does), else the executed price and the reported commission."""
    if fill.reference_price is not None:
        return portfolio.filled(fill.shares, fill.reference_price, cost_model)
    filled = portfolio.filled(fill.shares, fill.price, _NO_COSTS)
    return filled.copy_with(cash=filled.cash - fill.commission)


class BarEngine:
    """Steps one strategy through a market, bar by bar (see the module docstring).

    `state` is where to start: `EngineState.opening(cash)` for a new run, or the state after the
    journal's last bar (`engine_state.resume`, which also loads the strategy). `rebalance_band`:
    a `RebalanceBand`, checked by the run's settings (the runs pass the agent's, the band it
    trained with, unless told otherwise). `confirmer`: the execution check of the
    strategy's orders; None sends them unconfirmed (a strategy that calls no LLM). `memory`: the
    strategy's trade memory, whose additions each bar records (None: the strategy keeps none).
    """

    def __init__(
        self,
        market: TradingMarket,
        strategy: Strategy,
        broker: Broker,
        risk: RiskManager,
        *,
        run_id: str,
        state: EngineState,
        confirmer: OrderConfirmer | None = None,
        llm_calls: LLMCallLog | None = None,
        rebalance_band: float = DEFAULT_REBALANCE_BAND,
        memory: TradeMemory | None = None,
    ) -> None:
        broker_costs = getattr(broker, "cost_model", risk.cost_model)
        if broker_costs != risk.cost_model:
            raise ConfigError(
                f"the broker charges {broker_costs} but the risk manager sizes orders with"
                f" {risk.cost_model}: use one cost model"
            )
        client_order_id(run_id, 0, REBALANCE_INTENT)  # refuses a bad run id now, not mid-run
        self.market = market
        self.strategy = strategy
        self.broker = broker
        self.risk = risk
        self.run_id = run_id
        self.confirmer = confirmer
        self.llm_calls = llm_calls
        self.rebalance_band = rebalance_band
        self.memory = memory
        self._state = state

    @property
    def state(self) -> EngineState:
        """The state after the last completed bar (or the starting state)."""
        return self._state

    def step(self, bar: int, recorder: BarRecorder) -> EngineState:
        """Trade bar `bar` (the next one after the state's last bar) and record all of it."""
        state = self._state
        self._check_next(bar, state)
        market, day = self.market.arrays, self.market.day(bar)
        self.broker.on_bar_open(bar, float(market.open[bar]))
        portfolio, pending = self._collect_fills(state, day, recorder)
        close = float(market.close[bar])
        portfolio = portfolio.marked(close, day)
        if state.last_bar is not None:
            # open to open: the interval a position decided two closes ago was held, fill to fill
            held_return = float(market.open[bar]) / float(market.open[state.last_bar]) - 1.0
            update = self.strategy.learn(bar, held_return, label=str(day))
            if update is not None:
                recorder.record_weight_update(update, decision_bar=state.last_bar)
        decision = self.strategy.decide(bar, portfolio, close)
        if decision.hybrid is not None:
            recorder.record_decision(decision.hybrid, drl=decision.drl, llm=decision.llm_view)
        target = decision.target_position
        current = _current_position(portfolio, close)
        wanted = self.risk.capped(target)  # what the account holds for `target`
        holding = bool(pending) or not order_needed(current, wanted, self.rebalance_band)
        proposed = current if holding else target
        check = self.risk.check(proposed, portfolio, close, day, fill_day=self._fill_day(bar))
        recorder.record_risk_check(check)
        if check.order_shares != 0.0:
            order = self._send(bar, check, recorder)
            if order is not None:
                pending = (*pending, PendingOrder(order=order))
        if self.memory is not None and not (added := self.memory.drain()).empty:
            recorder.record_memory(added)
        if self.llm_calls is not None:
            for entry in self.llm_calls.drain():
                recorder.record_llm_call(entry)
        self._state = EngineState(portfolio=check.portfolio, last_bar=bar, pending=pending)
        recorder.record_state(
            portfolio=check.portfolio,
            weights=self.strategy.weights,
            llm_view=self.strategy.llm_view,
            loop_state=loop_state(self._state, self.strategy),
            bars_to_trade=self.market.n_bars - self.market.first_bar,
        )
        return self._state

    def _check_next(self, bar: int, state: EngineState) -> None:
        first, n_bars = self.market.first_bar, self.market.n_bars
        if state.last_bar is None:
            if first <= bar < n_bars:
                return
            expected = f"a bar in {first}..{n_bars - 1} (the first with a full feature window)"
        else:
            if bar == state.last_bar + 1 < n_bars:
                return
            expected = f"bar {state.last_bar + 1} of {first}..{n_bars - 1}"
        raise InvalidInputError(
            f"bar {bar} cannot be traded now: the next is {expected}; each bar once, in order"
        )

    def _fill_day(self, bar: int) -> dt.date:
        """The day an order decided at `bar` fills: the next bar's (the last bar's own if none)."""
        return self.market.day(min(bar + 1, self.market.n_bars - 1))

    def _collect_fills(
        self, state: EngineState, day: dt.date, recorder: BarRecorder
    ) -> tuple[PortfolioState, tuple[PendingOrder, ...]]:
        """Record and apply the new fills of pending orders to the account on `day` (the bar's,
        so each fill counts on the day it fills); keep the orders still working (an order the
        broker closed before it filled whole leaves the account short of its target, which the
        next decision sees in the position)."""
        still_pending: list[PendingOrder] = []
        portfolio = state.portfolio.on_day(day)
        for item in state.pending:
            client_id = item.order.client_order_id
            fills = [f for f in self.broker.fills(client_id) if f.fill_id not in item.fill_ids]
            for fill in fills:
                recorder.record_fill(fill)
                portfolio = apply_fill(portfolio, fill, self.risk.cost_model)
            ack = self.broker.order(client_id)
            if ack is None:
                raise InvalidInputError(
                    f"the broker does not know pending order {client_id}: rebuild it with"
                    " broker.resubmit_pending before resuming"
                )
            if ack.status in (OrderStatus.REJECTED, OrderStatus.CANCELED):
                recorder.record_order_closed(ack)
            elif ack.status is not OrderStatus.FILLED:
                fill_ids = item.fill_ids + tuple(f.fill_id for f in fills)
                still_pending.append(PendingOrder(order=item.order, fill_ids=fill_ids))
        return portfolio, tuple(still_pending)

    def _send(self, bar: int, check: OrderCheck, recorder: BarRecorder) -> OrderRequest | None:
        """Confirm (unless forced) and submit the order of `check`; None when it was vetoed."""
        forced = check.status is CheckStatus.FORCED
        # Labelled by who decided it: a forced order the strategy asked for itself is its own.
        by_risk = forced and check.approved_position != check.proposed_position
        intent = RISK_EXIT_INTENT if by_risk else REBALANCE_INTENT
        order = OrderRequest(
            client_order_id=client_order_id(self.run_id, bar, intent),
            symbol=self.market.symbol,
            quantity=check.order_shares,
            decision_bar=bar,
            intent=intent,
        )
        note = "risk manager's forced exit: not put to the execution check" if by_risk else None
        if forced and not by_risk:
            note = "the strategy's own risk-reducing order: not put to the execution check"
        if not forced and self.confirmer is not None:
            confirmation = self.confirmer.confirm(bar, check, intent)
            note = confirmation.describe()
            if not confirmation.confirmed:
                recorder.record_order(order, _vetoed(order, note))
                return None
        ack = self.broker.submit(order)
        recorder.record_order(order, replace(ack, reason=ack.reason or note))
        return order


def _current_position(portfolio: PortfolioState, price: float) -> float:
    return portfolio.position_fraction(price) if portfolio.equity(price) > 0.0 else 0.0


def _vetoed(order: OrderRequest, reason: str) -> OrderAck:
    """The record of an order the execution check stopped: rejected, never sent to the broker."""
    return OrderAck(
        client_order_id=order.client_order_id,
        broker_order_id=NOT_SENT,
        symbol=order.symbol,
        quantity=order.quantity,
        status=OrderStatus.REJECTED,
        reason=reason,
    )
