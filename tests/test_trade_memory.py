"""The trade memory: trades priced from the bars, recall of similar situations and of lessons,
what the analysts are shown, no look-ahead, and the records kept in SQLite.

Unit checks use hand-made markets and the offline analyst behind an in-process gateway, so every
number is computed by hand; the look-ahead and backtest checks run the tiny test agent.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents import DRLAgent
from envs import CostModel
from llm import (
    AnalystTeam,
    HashingEmbedder,
    MarketSnapshot,
    PastTrade,
    RecalledLesson,
    TradeMemoryView,
    snapshot_from_frame,
)
from llm.gateway.types import LLMCallError
from llm.team import prompt_sections
from llm.team.analysts import meta
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.analysts.offline_rules import meta_rule
from llm.team.schemas import AgentSignal
from llm.team.snapshot import SnapshotError
from llm.testing.in_process_gateway import InProcessGateway
from orchestrator.errors import InvalidInputError
from orchestrator.memory import (
    MEMORY_SCHEMA,
    MemoryConfig,
    TradeMemory,
    insert_records,
    read_records,
    write_memory_file,
)
from orchestrator.reports.backtest import backtest_metrics, metrics_markdown
from orchestrator.runs.backtest import BacktestConfig, BacktestResult, run_backtest
from orchestrator.trader.market import TradingMarket, load_trading_market
from tests.engine_helpers import trading_market
from tests.paper_helpers import END, tiny_agent

COSTS = CostModel()
ROUND_TRIP = COSTS.buy_cost_rate + COSTS.sell_cost_rate
CONTEXT = {"regime": "bull", "drl_signal": 0.8, "llm_signal": 0.4, "drl_weight": 0.5}


def memory_over(market: TradingMarket, config: MemoryConfig | None = None) -> TradeMemory:
    return TradeMemory(
        market.arrays,
        market.symbol,
        COSTS,
        gateway=InProcessGateway(OfflineAnalystChatModel()),
        embedder=HashingEmbedder(),
        config=config,
    )


def steps(memory: TradeMemory, targets: dict[int, float], bars: range) -> None:
    """Each bar as the hybrid does it: close what is due, then observe the decided target."""
    for bar in bars:
        memory.close_due(bar)
        memory.observe(bar, targets.get(bar, 0.0), CONTEXT)  # type: ignore[arg-type]


def test_a_trade_is_priced_fill_to_fill_and_known_only_once_its_exit_filled() -> None:
    opens = [100.0, 100.0, 102.0, 104.0, 101.0, 103.0]
    market = trading_market(opens, opens)
    memory = memory_over(market)
    steps(memory, {1: 1.0, 2: 1.0}, range(1, 4))  # long decided at 1, flat at 3: exit at open 4
    assert memory.trades == []  # the exit fills at bar 4's open: not known at bar 3
    memory.close_due(4)

    (trade,) = memory.trades
    assert (trade.context.entry_bar, trade.exit_bar, trade.known_at_bar) == (1, 3, 4)
    assert trade.bars_held == 2  # held over bars 2 and 3
    assert trade.net_return == pytest.approx(101.0 / 102.0 - 1.0 - ROUND_TRIP)
    highs, lows = market.arrays.high[2:4], market.arrays.low[2:4]
    assert trade.best_excursion == pytest.approx(highs.max() / 102.0 - 1.0)
    assert trade.worst_excursion == pytest.approx(min(0.0, lows.min() / 102.0 - 1.0))
    assert trade.context.side == "long" and trade.context.regime == "bull"
    (lesson,) = memory.lessons
    assert lesson.written_at_bar == 4 and lesson.entry_bar == 1
    assert "long" in lesson.lesson.decision and "bull" in lesson.lesson.situation
    drained = memory.drain()
    assert drained.trades == (trade,) and drained.lessons == (lesson,)
    assert memory.drain().empty


def test_a_flip_closes_one_trade_and_opens_the_next_at_the_same_open() -> None:
    opens = [100.0, 100.0, 110.0, 99.0, 95.0, 96.0]
    memory = memory_over(trading_market(opens, opens))
    steps(memory, {1: 0.5, 2: -0.5, 3: -0.5}, range(1, 6))
    long, short = memory.trades
    assert (long.context.side, long.exit_bar, short.context.entry_bar) == ("long", 2, 2)
    assert long.net_return == pytest.approx(99.0 / 110.0 - 1.0 - ROUND_TRIP)
    assert short.net_return == pytest.approx(-(96.0 / 99.0 - 1.0) - ROUND_TRIP)  # exit: open 5
    assert short.context.size == 0.5


def test_recall_gives_the_nearest_situations_known_at_the_bar_with_their_record() -> None:
    n_bars = 20
    features = np.zeros((n_bars, 2))
    features[:, 0] = np.arange(n_bars)  # the situation drifts: later bars lie farther away
    opens = list(100.0 + np.arange(n_bars))
    market = trading_market(opens, opens, features=features)
    memory = memory_over(market, MemoryConfig(k=2, lessons=1))
    # three long trades: entered at 1, 5, 9, each held two bars (all win: prices rise)
    steps(memory, {1: 1.0, 2: 1.0, 5: 1.0, 6: 1.0, 9: 1.0, 10: 1.0}, range(1, 12))
    assert [t.known_at_bar for t in memory.trades] == [4, 8]  # the third closes at bar 12

    view = memory.recall(11, "bull", 0.8, 0.4)
    assert [t.known_at for t in view.similar] == [
        datetime(2020, 1, 9),  # entered at 5: nearest bar 11's features among those known
        datetime(2020, 1, 5),
    ]
    assert [t.distance for t in view.similar] == [6.0, 10.0]
    assert view.win_rate == 1.0 and view.mean_net_return == pytest.approx(
        np.mean([t.net_return for t in memory.trades])
    )
    assert len(view.lessons) == 1
    (recall,) = memory.drain().recalls
    assert (recall.bar, recall.similar, recall.distances) == (11, (5, 1), (6.0, 10.0))
    assert memory.recall(3, "bull", 0.8, 0.4).similar == ()  # nothing was known at bar 3


def test_lessons_are_retrieved_by_the_situation_they_describe() -> None:
    opens = [100.0, 100.0, 90.0, 90.0, 100.0, 110.0, 110.0, 110.0]
    memory = memory_over(trading_market(opens, opens), MemoryConfig(lessons=1))
    memory.close_due(1)
    memory.observe(1, 1.0, {**CONTEXT, "regime": "bear"})  # type: ignore[typeddict-item]
    memory.close_due(2)
    memory.observe(2, 0.0, CONTEXT)  # type: ignore[arg-type]
    memory.close_due(3)
    memory.observe(3, 1.0, {**CONTEXT, "regime": "volatile"})  # type: ignore[typeddict-item]
    memory.close_due(4)
    memory.observe(4, 0.0, CONTEXT)  # type: ignore[arg-type]
    memory.close_due(5)
    assert len(memory.lessons) == 2
    for regime in ("bear", "volatile"):
        (lesson,) = memory.recall(5, regime, 0.8, 0.4).lessons
        assert f"{regime} regime" in lesson.text


class FailingEmbedder:
    """An embedding model whose every call fails, as a gateway's would."""

    model = "embed-e"

    def embed(self, texts: object) -> np.ndarray:
        raise LLMCallError("embedding by embed-e failed: server_error")


def test_a_lesson_that_cannot_be_embedded_is_left_out_and_the_trade_kept() -> None:
    opens = [100.0, 100.0, 102.0, 104.0, 101.0, 103.0]
    memory = memory_over(trading_market(opens, opens))
    memory.embedder = FailingEmbedder()
    steps(memory, {1: 1.0, 2: 1.0}, range(1, 5))
    assert len(memory.trades) == 1 and memory.lessons == []
    assert memory.recall(4, "bull", 0.8, 0.4).lessons == ()


def test_lessons_another_model_embedded_are_refused_on_resume() -> None:
    opens = [100.0, 100.0, 102.0, 104.0, 101.0, 103.0]
    memory = memory_over(trading_market(opens, opens))
    steps(memory, {1: 1.0, 2: 1.0}, range(1, 5))
    records = memory.drain()
    resumed = memory_over(trading_market(opens, opens))
    resumed.embedder = FailingEmbedder()
    with pytest.raises(InvalidInputError, match="embedded by local-hashing-256"):
        resumed.load(records)


def memory_view(*net_returns: float, side: str = "long") -> TradeMemoryView:
    trades = tuple(
        PastTrade(datetime(2020, 1, 2), side, "bull", r, 3, float(i))  # type: ignore[arg-type]
        for i, r in enumerate(net_returns)
    )
    lesson = RecalledLesson(datetime(2020, 1, 2), "bull regime: go long smaller.")
    return TradeMemoryView(similar=trades, lessons=(lesson,))


def snapshot_with(memory: TradeMemoryView | None) -> MarketSnapshot:
    closes = 100.0 + np.arange(40.0)
    frame = pd.DataFrame(
        {"open": closes, "high": closes + 1, "low": closes - 1, "close": closes, "volume": 1e6},
        index=pd.date_range("2020-01-01", periods=40, freq="D"),
    )
    snapshot = snapshot_from_frame(frame, frame.index[-1], symbol="TEST")
    return replace(snapshot, memory=memory)


def test_the_analysts_see_the_memory_and_the_offline_head_trader_sizes_down_on_it() -> None:
    signals = [AgentSignal(analyst="chart", signal=0.8, confidence=0.9)]
    plain = meta.build_messages(snapshot_with(None), signals, [])
    assert prompt_sections.MEMORY not in plain[1].text  # without memory, prompts as before

    losing = meta.build_messages(snapshot_with(memory_view(-0.02, -0.01, 0.005)), signals, [])
    sections = prompt_sections.find_sections(losing[1].text)
    assert "go long smaller" in sections[prompt_sections.LESSONS]
    assert len(prompt_sections.read_memory(sections[prompt_sections.MEMORY])) == 3

    without = meta_rule(prompt_sections.find_sections(plain[1].text))
    with_memory = meta_rule(sections)
    assert with_memory.size == pytest.approx(round(without.size / 2, 4))
    assert "similar long trades lost" in with_memory.reasoning
    winning = meta.build_messages(snapshot_with(memory_view(0.02, 0.01, -0.005)), signals, [])
    assert meta_rule(prompt_sections.find_sections(winning[1].text)).size == without.size


def test_a_snapshot_refuses_a_memory_from_its_future() -> None:
    late = TradeMemoryView(similar=(PastTrade(datetime(2021, 1, 1), "long", "bull", 0.01, 2, 0.0),))
    with pytest.raises(SnapshotError, match="look-ahead"):
        snapshot_with(late)


def test_records_round_trip_through_sqlite_exactly(tmp_path: Path) -> None:
    opens = [100.0, 100.0, 102.0, 104.0, 101.0, 103.0]
    memory = memory_over(trading_market(opens, opens))
    steps(memory, {1: 1.0, 2: 1.0}, range(1, 5))
    memory.recall(4, "bull", 0.8, 0.4)
    records = memory.drain()
    path = tmp_path / "memory.sqlite"
    write_memory_file(path, records)
    with sqlite3.connect(path) as connection:
        assert read_records(connection) == records
    in_memory = sqlite3.connect(":memory:")
    for statement in MEMORY_SCHEMA:
        in_memory.execute(statement)
    insert_records(in_memory, records)
    assert read_records(in_memory) == records


# ---- the hybrid with memory over the test agent's market ---------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> DRLAgent:
    return DRLAgent.load(tiny_agent(tmp_path_factory))


def backtest(agent: DRLAgent, market: TradingMarket, team: AnalystTeam) -> BacktestResult:
    config = BacktestConfig(strategies=("hybrid_learned", "hybrid_memory"))
    return run_backtest(agent, market, team, config, say=lambda _: None)


def with_another_future(market: TradingMarket, after: int, seed: int) -> TradingMarket:
    """`market` with every bar after `after` moved: prices scaled bar by bar, features shuffled."""
    rng = np.random.default_rng(seed)
    a = market.arrays
    scale = np.ones(a.n_bars)
    scale[after + 1 :] = np.exp(np.cumsum(rng.normal(0.0, 0.03, a.n_bars - after - 1)))
    features = a.features.copy()
    features[after + 1 :] = rng.permutation(features[after + 1 :])
    arrays = replace(
        a, **{name: getattr(a, name) * scale for name in ("open", "high", "low", "close")}
    )
    arrays = replace(arrays, features=features)
    cut = market.timestamp(after)
    history = market.history.copy()
    moved = history.index > cut
    factors = pd.Series(scale, index=pd.DatetimeIndex(a.dates)).reindex(history.index[moved])
    history.loc[moved, ["open", "high", "low", "close"]] = history.loc[
        moved, ["open", "high", "low", "close"]
    ].mul(factors.to_numpy(), axis=0)
    return replace(market, arrays=arrays, history=history)


def test_no_look_ahead_another_future_moves_nothing_the_memory_held_at_t(
    agent: DRLAgent, team: AnalystTeam
) -> None:
    market = load_trading_market(agent, "synthetic", end=END)
    t = market.first_bar + (market.n_bars - market.first_bar) * 2 // 3
    result = backtest(agent, market, team).strategies["hybrid_memory"]
    other = backtest(agent, with_another_future(market, t, seed=3), team).strategies[
        "hybrid_memory"
    ]
    assert result.memory is not None and other.memory is not None

    def until_t(records: object) -> tuple[list[object], list[object], list[object]]:
        return (
            [x for x in records.trades if x.known_at_bar <= t],  # type: ignore[attr-defined]
            [x for x in records.lessons if x.written_at_bar <= t],  # type: ignore[attr-defined]
            [x for x in records.recalls if x.bar <= t],  # type: ignore[attr-defined]
        )

    seen = until_t(result.memory)
    assert all(seen), "the test needs trades, lessons and recalls before t"
    assert until_t(other.memory) == seen
    day = market.timestamp(t)
    assert result.frame.loc[:day].equals(other.frame.loc[:day])
    assert result.memory != other.memory  # the future did change what came after t


def test_the_backtest_runs_the_hybrid_with_and_without_memory(
    agent: DRLAgent, team: AnalystTeam
) -> None:
    market = load_trading_market(agent, "synthetic", end=END)
    result = backtest(agent, market, team)
    plain, remembering = result.strategies["hybrid_learned"], result.strategies["hybrid_memory"]
    assert plain.memory is None
    assert remembering.memory is not None and remembering.memory.recalls
    assert len(remembering.memory.recalls) == remembering.llm_asks  # one per ask of the analysts
    metrics = backtest_metrics(result)["strategies"]
    assert "memory" not in metrics["hybrid_learned"]
    summary = metrics["hybrid_memory"]["memory"]
    assert summary["trades"] == len(remembering.memory.trades) > 0
    assert "## Trade memory" in metrics_markdown(backtest_metrics(result))
