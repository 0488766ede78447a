"""The paper-trade loop: a data source replayed bar by bar as a live feed, journaled, resumable.

`run_paper` builds the hybrid trader on an agent and a source's test split (with the window of
history before it), opens the journal and steps the bar engine through the bars the journal does
not hold yet, each inside its own journal transaction:

    with journal.record_bar(market.bar_seen(t)) as writer:
        engine.step(t, writer)

A new journal starts from cash; an existing one (same run identity, `paper_config.run_identity`)
is resumed: the engine's state after the last committed bar is restored, the paper broker is
rebuilt with that account and the orders still working (`resubmit_pending`), and the run goes on
at the next bar. Killed at any point, even inside a bar, the run loses at most the bar in
progress, which is decided again, the same way, on resume (see `orchestrator.journal.writer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import Field

from agents import DRLAgent
from envs import DateLike, buy_and_hold
from llm import AnalystTeam, LLMMode, LLMSettings, build_analyst_team, load_settings
from orchestrator.checks import checked_args
from orchestrator.errors import ConfigError, InvalidInputError, JournalCorruptError
from orchestrator.execution import Broker, PaperBroker, RiskManager, resubmit_pending
from orchestrator.journal import (
    Journal,
    JournalQueries,
    RestoredState,
    canonical_hash,
    lock_path_for,
)
from orchestrator.memory import TradeMemory
from orchestrator.runs.activity import Activity
from orchestrator.runs.backtest import BacktestConfig, BacktestResult, StrategyResult, run_backtest
from orchestrator.runs.bar_engine import BarEngine
from orchestrator.runs.display import PaperDisplay
from orchestrator.runs.engine_state import EngineState, resume
from orchestrator.runs.follow import FileFeed, IdlePoller
from orchestrator.runs.llm_cost import LLMCallLog, hold_run_to_budget
from orchestrator.runs.paper_config import (
    PaperConfig,
    check_past,
    first_decision_of,
    journaled_first_decision,
    paper_llm_settings,
    run_identity,
)
from orchestrator.runs.progress import BarProgress, PaperResult, RunHeader
from orchestrator.runs.recorder import FRAME_COLUMNS, TradeFill
from orchestrator.runs.strategy_names import StrategyName
from orchestrator.trader import (
    DRLAdvisor,
    ExecutionConfirmer,
    HybridDRLLLMTrader,
    MarketSnapshots,
    Strategy,
    TradingMarket,
    load_trading_market,
    trade_memory,
)


def run_paper(
    agent_dir: Path | str,
    source: str,
    llm_mode: LLMMode,
    journal_path: Path | str,
    *,
    start: DateLike = None,
    end: DateLike = None,
    pace_s: float = 0.0,
    display: PaperDisplay | None = None,
    config: PaperConfig | None = None,
    settings: LLMSettings | None = None,
    date_format: str | None = None,
    periods_per_year: int | None = None,
    follow: IdlePoller | None = None,
    max_cost_usd: float | None = None,
    say: Callable[[str], None] = print,
) -> PaperResult:
    """Paper trade `agent_dir`'s agent over `source`'s test split (cut to [start, end]) into the
    journal at `journal_path`, creating it or resuming it; returns the whole run's result.

    pace_s: seconds per bar, for a real-time feed (0: as fast as it goes). settings: the LLM
    configuration (default: the environment's), its ledger and cache put beside the journal.
    date_format: the strftime format of a file's dates (None: recognised). periods_per_year: bars
    in a year (None: inferred from the source's dates); it sets the LLM's weekly cadence.
    follow: treat the file as a feed that grows, trading each new bar as it arrives, looking at
    the file as often and as long as it says (None: trade the bars there are, then return).
    A gateway run says its estimated LLM cost for the bars left through `say` before its first
    call, and stops there when that exceeds what the budgets leave, unless `max_cost_usd`
    (dollars, the whole run's: a resumed run's earlier calls count) caps it.
    """
    pacer = Pacer(pace_s)
    config = config or PaperConfig()
    journal_path = Path(journal_path)
    settings = paper_llm_settings(settings or load_settings(), journal_path)
    feed = None if follow is None else FileFeed.of(source, follow)  # watching before any read
    # What the user named is checked before any file is made: a file that is not a journal is
    # refused here, a bad agent directory next.
    journaled = journaled_first_decision(journal_path)
    agent = DRLAgent.load(agent_dir)
    run_files = (
        journal_path,
        lock_path_for(journal_path),
        settings.ledger_path,
        settings.cache_path,
    )
    # The LLM side first: a missing key is reported before any data is loaded or journal opened.
    with (
        _removed_on_failure(run_files) as keep_files,
        build_analyst_team(llm_mode, settings=settings) as team,
    ):
        load = partial(
            load_trading_market,
            agent,
            source,
            start,
            end,
            date_format=date_format,
            periods_per_year=periods_per_year,
        )
        market = load(first_decision=journaled)
        config = config.for_run(agent, market.arrays.periods_per_year)
        identity = run_identity(agent, market, llm_mode, config)
        account = _account(config, market.symbol)  # before the journal, as a missing key
        with Journal.open(journal_path, identity) as journal:
            # One call log for the whole run: calls before a bar belong to none.
            run = _Run(agent, team, config, LLMCallLog.listen_to(team.gateway), account)
            engine = run.engine(journal, market)
            resumed = _bars_done(engine, market)
            next_bar = min(market.first_bar + resumed, market.n_bars - 1)
            price = float(market.arrays.close[next_bar])
            hold_run_to_budget(
                team,
                MarketSnapshots(market, config.snapshot_window).at(
                    next_bar, engine.state.portfolio, price
                ),
                bars=market.n_bars - market.first_bar - resumed,
                asking_strategies=1,
                max_cost_usd=_left_of(max_cost_usd, Activity.of(journal)),
                say=say,
                remembering_strategies=int(engine.memory is not None),
            )
            keep_files()  # from here on, the journal is a run to resume
            header = _header(journal_path, market, llm_mode, resumed)
            _replay(engine, journal, header, pacer, display)
            first_decision = market.timestamp(market.first_bar)
            while feed is not None and feed.wait():
                grown = load(first_decision=first_decision)
                if grown.n_bars > engine.market.n_bars:
                    engine = run.engine(journal, grown)  # resumed from the journal
                    header = _header(journal_path, grown, llm_mode, _bars_done(engine, grown))
                    _replay(engine, journal, header, pacer, display)
            return _result(engine, journal, agent, config, resumed)


@contextmanager
def _removed_on_failure(paths: Iterable[Path]) -> Iterator[Callable[[], None]]:
    """Remove those of `paths` (and their SQLite side files) that the block created, if it fails
    before it calls the function it is given: a refused run leaves nothing behind, while a
    journal that the run has begun to trade stays to be resumed."""
    created = [
        path
        for main in paths
        for path in (main, Path(f"{main}-wal"), Path(f"{main}-shm"), Path(f"{main}-journal"))
        if not path.exists()
    ]
    kept = False

    def keep() -> None:
        nonlocal kept
        kept = True

    try:
        yield keep
    except BaseException:
        if not kept:
            for path in created:
                path.unlink(missing_ok=True)
        raise


def _left_of(max_cost_usd: float | None, done: Activity) -> float | None:
    """What a hard cap of `max_cost_usd` dollars on the whole run leaves after the bars `done`
    (a resumed run's earlier calls count against it)."""
    return None if max_cost_usd is None else max(0.0, max_cost_usd - done.llm_cost_usd)


def _account(config: PaperConfig, symbol: str) -> Broker | None:
    """The broker account orders of `symbol` go to, or None for the simulated broker."""
    if config.broker == "paper":
        return None
    try:
        from orchestrator.execution import AlpacaBroker
    except ImportError:
        raise ConfigError(
            "the Alpaca broker needs alpaca-py: pip install 'hybrid-trader[alpaca]'"
        ) from None
    return AlpacaBroker.from_environment(symbol)


def _header(journal: Path, market: TradingMarket, llm_mode: LLMMode, resumed: int) -> RunHeader:
    return RunHeader(
        journal=journal,
        symbol=market.symbol,
        llm_mode=llm_mode,
        first_day=market.day(market.first_bar),
        last_day=market.day(market.n_bars - 1),
        total=market.n_bars - market.first_bar,
        resumed=resumed,
        in_sample=market.in_sample,
    )


def _result(
    engine: BarEngine, journal: Journal, agent: DRLAgent, config: PaperConfig, resumed: int
) -> PaperResult:
    """The whole run's result: its last bar's account against buy and hold over its bars."""
    market = engine.market
    total = market.n_bars - market.first_bar
    return PaperResult(
        journal=journal.path,
        total=total,
        bars_resumed=resumed,
        bars_new=total - resumed,
        initial_cash=config.initial_cash,
        final_equity=engine.state.portfolio.equity(float(market.arrays.close[-1])),
        buy_and_hold_equity=buy_and_hold(
            market.arrays, market.first_bar, config.initial_cash, agent.env_config.cost_model
        ).final_equity,
        drl_weight=engine.strategy.weights.drl_weight,
        activity=Activity.of(journal),
    )


# Per bar: the account at the close, the DRL weight of the decision, and the target held over the
# bar as `BacktestRecorder` keeps it (the approved position of the last order filled by then).
_ACCOUNT_BARS = """
SELECT b.timestamp, p.equity, COALESCE(p.position_fraction, 0.0) AS position,
    COALESCE((
        SELECT r.approved_position FROM fills AS f
        JOIN orders AS o ON o.client_order_id = f.client_order_id
        JOIN risk_checks AS r ON r.bar_index = o.bar_index
        WHERE f.bar_index <= b.bar_index ORDER BY f.bar_index DESC, f.rowid DESC LIMIT 1
    ), 0.0) AS held_position,
    COALESCE(d.drl_weight, 0.5) AS drl_weight,
    COALESCE(c.llm_usd, 0.0) AS llm_usd,
    p.halted
FROM bars AS b JOIN positions AS p ON p.bar_index = b.bar_index
LEFT JOIN decisions AS d ON d.bar_index = b.bar_index
LEFT JOIN (
    SELECT bar_index, SUM(cost_usd) AS llm_usd FROM llm_calls GROUP BY bar_index
) AS c ON c.bar_index = b.bar_index
ORDER BY b.bar_index
"""
_ACCOUNT_FILLS = """
SELECT b.timestamp, f.shares, f.price, f.commission FROM fills AS f
JOIN bars AS b ON b.bar_index = f.bar_index ORDER BY f.bar_index, f.rowid
"""


def journaled_account(journal: JournalQueries, name: str = "hybrid_account") -> StrategyResult:
    """The journal's account as a backtest strategy's result, bar for bar what the backtest's
    recorder would have kept for it, so that its metrics come from the backtest's own code."""
    connection = journal.connection
    bars = pd.read_sql_query(_ACCOUNT_BARS, connection)
    dates = pd.DatetimeIndex(pd.to_datetime(bars.pop("timestamp")), name="date").as_unit("ns")
    bars["halted"] = bars["halted"].astype(bool)  # stored as 0 / 1
    fills = tuple(
        TradeFill(pd.Timestamp(date), shares, price, commission)
        for date, shares, price, commission in connection.execute(_ACCOUNT_FILLS)
    )
    (asks,) = connection.execute("SELECT COUNT(*) FROM llm_views").fetchone()
    last = connection.execute("SELECT close FROM bars ORDER BY bar_index DESC LIMIT 1").fetchone()
    return StrategyResult(
        name=name,
        frame=bars.set_axis(dates)[list(FRAME_COLUMNS)],
        activity=Activity.of(journal),
        llm_asks=int(asks),
        fills=fills,
        last_close=None if last is None else float(last[0]),
    )


SOURCES_ALONE: tuple[StrategyName, ...] = ("buy_and_hold", "drl", "llm")


def backtest_sources_alone(
    journal: JournalQueries,
    agent_dir: Path | str,
    *,
    settings: LLMSettings | None = None,
    max_cost_usd: float | None = None,
    say: Callable[[str], None] = print,
) -> BacktestResult:
    """Buy and hold, the DRL alone and the LLM alone over the bars `journal` traded, with the
    settings and LLM mode its run was made with: the rows `hybrid-trader backtest` gives for that
    period, from the same code, beside which the journal's account (`journaled_account`) is read.

    agent_dir: the agent the run traded (checked against the journal's run identity); the data
    comes from the source the run named and must still hold the bars it traded (`check_past`).
    A gateway run asks the gateway again for LLM alone, under `run_backtest`'s cost estimate.
    """
    agent = DRLAgent.load(agent_dir)
    identity = journal.identity
    if canonical_hash(agent.manifest.to_dict(), "agent manifest") != identity.agent_hash:
        raise InvalidInputError(
            f"agent {agent_dir} is not the agent that traded journal {journal.path}; give the"
            " agent directory its paper run was given"
        )
    seen = journal.bars_seen()
    if seen.empty:
        raise InvalidInputError(f"journal {journal.path} holds no bar to backtest")
    market = load_trading_market(
        agent,
        identity.data_source,
        end=pd.Timestamp(seen["timestamp"].iloc[-1]),
        first_decision=first_decision_of(identity),
    )
    check_past(journal, market)
    paper = PaperConfig.of_identity(identity)
    config = BacktestConfig(
        trader=paper.trader,
        risk=paper.risk,
        initial_cash=paper.initial_cash,
        rebalance_band=paper.rebalance_band,
        snapshot_window=paper.snapshot_window,
        strategies=SOURCES_ALONE,
    )
    llm_mode: LLMMode = "gateway" if identity.config.get("llm") == "gateway" else "offline"
    with build_analyst_team(llm_mode, settings=settings) as team:
        return run_backtest(agent, market, team, config, max_cost_usd=max_cost_usd, say=say)


class Pacer:
    """Holds the loop to `seconds_per_bar` per bar, from one bar's start to the next (a slow bar
    is not made up for by rushing the next ones)."""

    @checked_args(ConfigError)
    def __init__(
        self,
        seconds_per_bar: Annotated[float, Field(ge=0.0, le=86_400.0)],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.seconds_per_bar = seconds_per_bar
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        """Return when the next bar is due (at once for the first bar, or without a pace)."""
        if self.seconds_per_bar == 0.0:
            return
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.seconds_per_bar


@dataclass(frozen=True)
class _Run:
    """What every engine of one paper run shares: the agent, the analysts, the settings, the
    log of the gateway's calls and the broker account (None: the simulated broker, rebuilt from
    the journal for each engine)."""

    agent: DRLAgent
    team: AnalystTeam
    config: PaperConfig
    llm_calls: LLMCallLog | None
    account: Broker | None

    def engine(self, journal: Journal, market: TradingMarket) -> BarEngine:
        """The engine for a new journal, or restored from the last bar the journal committed,
        whose bars must be `market`'s (`check_past`)."""
        check_past(journal, market)
        agent, team, config = self.agent, self.team, self.config
        cost_model = agent.env_config.cost_model
        snapshots = MarketSnapshots(market, config.snapshot_window)
        memory = trade_memory(config.trader, market, team.gateway, cost_model)
        trader = HybridDRLLLMTrader(
            DRLAdvisor(agent, market.arrays.features, agent.env_config),
            team,
            snapshots,
            cost_model=cost_model,
            config=config.trader,
            memory=memory,
        )
        restored = journal.restore_state()
        if restored is None:
            state = EngineState.opening(config.initial_cash)
        else:
            state = _resumed(journal, restored, trader, memory)
        broker = self.account or PaperBroker(
            state.portfolio.cash,
            shares=state.portfolio.shares,
            symbol=market.symbol,
            cost_model=cost_model,
        )
        if restored is not None:
            resubmit_pending(broker, restored.pending_orders)
        return BarEngine(
            market,
            trader,
            broker,
            RiskManager(config.risk, cost_model),
            run_id=journal.run_id,
            state=state,
            confirmer=ExecutionConfirmer(team.gateway, snapshots),
            llm_calls=self.llm_calls,
            rebalance_band=_resolved_band(config),
            memory=memory,
        )


def _resumed(
    journal: Journal, restored: RestoredState, strategy: Strategy, memory: TradeMemory | None
) -> EngineState:
    """The engine state after the journal's last bar, `strategy` (and its `memory`) loaded; a
    saved state that does not read back means the file was tampered with or damaged, and is
    refused as such."""
    try:
        return resume(restored, strategy, memory)
    except InvalidInputError as exc:
        raise JournalCorruptError(f"journal {journal.path}: {exc}; left untouched") from None


def _bars_done(engine: BarEngine, market: TradingMarket) -> int:
    last = engine.state.last_bar
    return 0 if last is None else last - market.first_bar + 1


def _replay(
    engine: BarEngine,
    journal: Journal,
    header: RunHeader,
    pacer: Pacer,
    display: PaperDisplay | None,
) -> None:
    """Trade every bar the journal does not hold yet, one transaction each, in order."""
    market = engine.market
    first = market.first_bar + header.resumed
    if first == market.n_bars:
        return  # a complete journal: nothing to trade, nothing to show
    if display is not None:
        display.start(header)
    try:
        for bar in range(first, market.n_bars):
            pacer.wait()
            with journal.record_bar(market.bar_seen(bar)) as writer:
                engine.step(bar, writer)
            if display is not None:
                display.update(_progress(engine, journal, header, bar))
    finally:
        if display is not None:
            display.stop()


def _progress(engine: BarEngine, journal: Journal, header: RunHeader, bar: int) -> BarProgress:
    market = engine.market
    close = float(market.arrays.close[bar])
    portfolio = engine.state.portfolio
    equity = portfolio.equity(close)
    return BarProgress(
        day=market.day(bar),
        done=bar - market.first_bar + 1,
        total=header.total,
        position=portfolio.position_fraction(close) if equity > 0.0 else 0.0,
        equity=equity,
        drl_weight=engine.strategy.weights.drl_weight,
        activity=Activity.of(journal),
    )


def _resolved_band(config: PaperConfig) -> float:
    """The band `PaperConfig.for_agent` resolved (a config not yet resolved is a bug)."""
    if config.rebalance_band is None:
        raise ConfigError("the paper run's rebalance band was not resolved for its agent")
    return config.rebalance_band
