"""The backtest: the strategies over one market, the same fills, costs and limits.

buy_and_hold is pure: `envs.buy_and_hold` (all in at the first fill, the open after the first
decision, held to the end), the same benchmark the paper run's summary and the agent's evaluation
show, through neither the risk manager nor the LLM. Every other strategy, drl (the agent alone),
llm (the analysts alone, on the hybrid's calendar cadence), hybrid_fixed (weights frozen at 50/50)
and hybrid_learned (Hedge weights), gets its own account, `PaperBroker` and `RiskManager` in a
`BarEngine`, all with the agent's cost model and the same limits. hybrid_seed is the first
hybrid's rule (`CombinerConfig.rule == "seed"`) with learned weights; hybrid_market is
hybrid_learned with the extra experts `market` and `cash` beside the two sources, so its
log-wealth stays within its printed regret bound of buy and hold's; hybrid_memory is
hybrid_learned with a trade memory (`BacktestConfig.memory`): beside hybrid_learned, it measures
what the memory is worth. Only the strategies that ask the
analysts (those with an LLM view keeper) put their orders to the LLM execution check: drl alone
never calls an LLM. `BacktestResult.order_checks` says which strategy passed through which. The
engine runs step through the bars in lockstep, so the snapshot of a bar is built once and shared
(see `MarketSnapshots`) and the gateway's calls are drained into the strategy that made them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import pandas as pd
from pydantic import Field, PositiveInt, field_validator

from agents import DRLAgent
from envs import CostModel, buy_and_hold
from llm import AnalystTeam
from orchestrator.checks import Positive, Settings
from orchestrator.execution import PaperBroker, PortfolioState, RiskLimits, RiskManager
from orchestrator.memory import MemoryConfig, MemoryRecords
from orchestrator.runs.activity import Activity
from orchestrator.runs.bar_engine import BarEngine, RebalanceBand
from orchestrator.runs.engine_state import EngineState
from orchestrator.runs.llm_cost import LLMCallLog, hold_run_to_budget
from orchestrator.runs.recorder import BacktestRecorder, TradeFill, held_frame
from orchestrator.runs.strategy_names import BUY_AND_HOLD, STRATEGY_NAMES, StrategyName
from orchestrator.trader import (
    DEFAULT_WINDOW,
    EXTRA_EXPERTS,
    CombinerRule,
    DRLAdvisor,
    DRLAlone,
    ExecutionConfirmer,
    HedgeWeights,
    HybridDRLLLMTrader,
    LLMAlone,
    LLMConfidenceCalibrator,
    LLMViewKeeper,
    MarketSnapshots,
    Strategy,
    TraderConfig,
    TradingMarket,
    trade_memory,
)

RISK_MANAGER = "risk_manager"
EXECUTION_CHECK = "execution_check"


class BacktestConfig(Settings):
    """trader: the hybrid's settings (its cadence also paces `llm`); the combiner's long-only
    switch is set from the agent's mode. initial_cash: each strategy's starting equity.
    rebalance_band: no order for a target within this of the position (`envs.order_needed`);
    None: the agent's own band, so the drl row trades as the agent's evaluation does.
    strategies: which of `STRATEGY_NAMES` to run, in that order. memory: the trade memory's
    settings for hybrid_memory."""

    trader: TraderConfig = Field(default_factory=TraderConfig)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    initial_cash: Positive = 100_000.0
    rebalance_band: RebalanceBand | None = None
    snapshot_window: PositiveInt = DEFAULT_WINDOW
    strategies: Annotated[tuple[StrategyName, ...], Field(min_length=1)] = STRATEGY_NAMES
    memory: MemoryConfig = Field(default_factory=MemoryConfig)

    @field_validator("strategies")
    @classmethod
    def _distinct(cls, strategies: tuple[StrategyName, ...]) -> tuple[StrategyName, ...]:
        if len(set(strategies)) != len(strategies):
            raise ValueError(f"strategies must be distinct, got {strategies!r}")
        return strategies


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's run: per-bar `frame` (see `BacktestRecorder.frame`), its activity, how many
    times it asked the analyst team, its weight learner at the end (None if it learns none), the
    LLM's confidence calibrator at the end (a hybrid's; None for the others), its fills in order
    and the last close (for the trade list; a trade still open is marked there); and what its
    trade memory holds at the end (None without one)."""

    name: str
    frame: pd.DataFrame
    activity: Activity
    llm_asks: int
    learner: HedgeWeights | None = None
    llm_calibrator: LLMConfidenceCalibrator | None = None
    fills: tuple[TradeFill, ...] = ()
    last_close: float | None = None
    memory: MemoryRecords | None = None


@dataclass(frozen=True)
class BacktestResult:
    source: str
    symbol: str
    agent: str
    initial_cash: float
    periods_per_year: int  # bars in a year of the market, for annualised metrics
    strategies: dict[str, StrategyResult]
    order_checks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Which strategies' orders passed through what: `RISK_MANAGER` and `EXECUTION_CHECK` (the
    LLM's), each to the names it checked, in run order."""
    in_sample: bool = False  # the agent trained or was selected on some of these bars
    learner: str = "hedge"  # how the hybrids learned their weights (`TraderConfig.learner`)


@dataclass
class _Run:
    engine: BarEngine
    recorder: BacktestRecorder
    keeper: LLMViewKeeper | None


def run_backtest(
    agent: DRLAgent,
    market: TradingMarket,
    team: AnalystTeam,
    config: BacktestConfig | None = None,
    *,
    max_cost_usd: float | None = None,
    say: Callable[[str], None] = print,
) -> BacktestResult:
    """Run every configured strategy over `market` (first decision at `market.first_bar`).

    A gateway run says its estimated LLM cost through `say` before its first call, and stops
    there when that exceeds what the budgets leave, unless `max_cost_usd` (dollars) caps it.
    """
    config = config or BacktestConfig()
    snapshots = MarketSnapshots(market, config.snapshot_window)
    gateway = team.gateway
    llm_calls = LLMCallLog.listen_to(gateway)  # calls made before the run belong to no strategy
    builders = _strategy_builders(agent, market, team, snapshots, config)
    cost_model = agent.env_config.cost_model
    runs: dict[str, _Run] = {}
    checks: dict[str, list[str]] = {RISK_MANAGER: [], EXECUTION_CHECK: []}
    for name in config.strategies:
        if name == BUY_AND_HOLD:
            continue
        strategy, keeper = builders[name]()
        memory = strategy.memory if isinstance(strategy, HybridDRLLLMTrader) else None
        asks_llm = keeper is not None  # only a strategy that asks the analysts pays for a check
        checks[RISK_MANAGER].append(name)
        if asks_llm:
            checks[EXECUTION_CHECK].append(name)
        engine = BarEngine(
            market,
            strategy,
            PaperBroker(config.initial_cash, symbol=market.symbol, cost_model=cost_model),
            RiskManager(config.risk, cost_model),
            run_id=f"backtest-{name}",
            state=EngineState.opening(config.initial_cash),
            confirmer=ExecutionConfirmer(gateway, snapshots) if asks_llm else None,
            llm_calls=llm_calls,
            rebalance_band=_band(config, agent),
            memory=memory,
        )
        runs[name] = _Run(engine, BacktestRecorder(), keeper)
    closes = market.arrays.close
    first = market.first_bar
    hold_run_to_budget(
        team,
        snapshots.at(first, PortfolioState.opening(config.initial_cash), float(closes[first])),
        bars=market.n_bars - first,
        asking_strategies=len(checks[EXECUTION_CHECK]),
        max_cost_usd=max_cost_usd,
        say=say,
        remembering_strategies=sum(run.engine.memory is not None for run in runs.values()),
    )
    for bar in range(market.first_bar, market.n_bars):
        for run in runs.values():
            run.recorder.begin_bar(market.timestamp(bar), float(closes[bar]))
            run.engine.step(bar, run.recorder)
    return BacktestResult(
        source=market.source,
        symbol=market.symbol,
        agent=agent.source,
        initial_cash=config.initial_cash,
        periods_per_year=market.arrays.periods_per_year,
        strategies=_in_order(
            config.strategies,
            _pure_runs(market, config, cost_model)
            | {
                name: StrategyResult(
                    name,
                    run.recorder.frame(),
                    run.recorder.activity,
                    0 if run.keeper is None else run.keeper.asks,
                    run.engine.strategy.weights if run.engine.strategy.weights.n_updates else None,
                    _calibrator(run.engine.strategy),
                    tuple(run.recorder.fills),
                    run.recorder.last_close,
                    None if run.engine.memory is None else run.recorder.memory,
                )
                for name, run in runs.items()
            },
        ),
        order_checks={check: tuple(names) for check, names in checks.items()},
        in_sample=market.in_sample,
        learner=config.trader.learner,
    )


def _pure_runs(
    market: TradingMarket, config: BacktestConfig, cost_model: CostModel
) -> dict[str, StrategyResult]:
    """buy_and_hold's run, if configured: `envs.buy_and_hold` from the first decision, with the
    frame a recorder would give (`held_frame`) and its one order and fill."""
    if BUY_AND_HOLD not in config.strategies:
        return {}
    hold = buy_and_hold(market.arrays, market.first_bar, config.initial_cash, cost_model)
    frame = held_frame(market.arrays.dates[market.first_bar :], hold)
    activity = Activity(orders_sent=1, fills=1)
    shares = float(hold.fill.shares)
    fill = TradeFill(
        market.timestamp(market.first_bar + 1),
        shares,
        float(hold.fill.traded_notional) / abs(shares) if shares else 0.0,
        float(hold.fill.commission),
    )
    last_close = float(market.arrays.close[-1])
    return {
        BUY_AND_HOLD: StrategyResult(
            BUY_AND_HOLD, frame, activity, 0, fills=(fill,) if shares else (), last_close=last_close
        )
    }


def _band(config: BacktestConfig, agent: DRLAgent) -> float:
    """The run's rebalance band: the configured one, else the band the agent trained with."""
    if config.rebalance_band is None:
        return agent.env_config.rebalance_band
    return config.rebalance_band


def _calibrator(strategy: Strategy) -> LLMConfidenceCalibrator | None:
    return strategy.llm_calibrator if isinstance(strategy, HybridDRLLLMTrader) else None


def _in_order(
    names: tuple[StrategyName, ...], results: dict[str, StrategyResult]
) -> dict[str, StrategyResult]:
    return {name: results[name] for name in names}


StrategyBuilder = Callable[[], tuple[Strategy, LLMViewKeeper | None]]


def _strategy_builders(
    agent: DRLAgent,
    market: TradingMarket,
    team: AnalystTeam,
    snapshots: MarketSnapshots,
    config: BacktestConfig,
) -> dict[str, StrategyBuilder]:
    """A fresh strategy (and its LLM view keeper, to count asks) for each name run in the
    engine (not buy_and_hold: see `_pure_runs`)."""
    drl = DRLAdvisor(agent, market.arrays.features, agent.env_config)
    trader = config.trader.for_agent(agent)
    cost_model = agent.env_config.cost_model

    def hybrid(
        learn: bool,
        rule: CombinerRule | None = None,
        extras: tuple[str, ...] = (),
        memory: MemoryConfig | None = None,
    ) -> tuple[Strategy, LLMViewKeeper]:
        combiner = trader.combiner.copy_with(rule=rule or trader.combiner.rule)
        settings = trader.copy_with(
            learn_weights=learn, combiner=combiner, extra_experts=extras, memory=memory
        )
        strategy = HybridDRLLLMTrader(
            drl,
            team,
            snapshots,
            cost_model=cost_model,
            config=settings,
            memory=trade_memory(settings, market, team.gateway, cost_model),
        )
        return strategy, strategy.llm

    def llm_alone() -> tuple[Strategy, LLMViewKeeper]:
        strategy = LLMAlone(team, snapshots, trader.cadence.every_bars, trader.combiner)
        return strategy, strategy.llm

    return {
        "drl": lambda: (DRLAlone(drl), None),
        "llm": llm_alone,
        "hybrid_fixed": lambda: hybrid(learn=False),
        "hybrid_learned": lambda: hybrid(learn=True),
        "hybrid_seed": lambda: hybrid(learn=True, rule="seed"),
        "hybrid_market": lambda: hybrid(learn=True, rule="mixture", extras=EXTRA_EXPERTS),
        "hybrid_memory": lambda: hybrid(learn=True, memory=config.memory),
    }
