"""The backtest's metrics: Calmar, win rate, the bootstrap interval of Sharpe, the report rows."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from envs import bootstrap_interval, performance_metrics, sharpe_confidence_interval
from orchestrator.reports.backtest import (
    backtest_metrics,
    equity_table,
    metrics_markdown,
    strategy_metrics,
)
from orchestrator.reports.trades import round_trips, trade_metrics, trades_table
from orchestrator.runs.activity import Activity
from orchestrator.runs.backtest import BacktestResult, StrategyResult
from orchestrator.runs.recorder import TradeFill


def test_calmar_and_win_rate_match_hand_computation() -> None:
    equity = np.array([100.0, 110.0, 99.0, 99.0, 108.9])  # +10 %, -10 %, flat, +10 %
    positions = np.array([1.0, 1.0, 0.0, 1.0])
    metrics = performance_metrics(equity, positions, periods_per_year=252)
    years = 4 / 252
    annual = (108.9 / 100.0) ** (1 / years) - 1
    assert metrics["calmar"] == pytest.approx(annual / 0.1)
    assert metrics["win_rate"] == pytest.approx(2 / 3)  # the flat bar is not counted
    never = performance_metrics(np.full(3, 100.0), np.zeros(2))
    assert never["win_rate"] is None and never["calmar"] is None


def test_the_sharpe_interval_is_seeded_and_brackets_the_estimate() -> None:
    returns = np.random.default_rng(1).normal(0.0005, 0.01, 1000)
    first = sharpe_confidence_interval(returns, seed=3)
    assert first == sharpe_confidence_interval(returns, seed=3)
    assert first != sharpe_confidence_interval(returns, seed=4)
    assert first is not None
    low, high = first
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert low < sharpe < high
    assert 1.5 < high - low < 2.5  # about 2 x 1.96 x sqrt(252 / 1000) for i.i.d. returns


def test_any_statistic_of_the_returns_gets_a_seeded_interval() -> None:
    returns = np.random.default_rng(2).normal(0.0005, 0.01, 500)

    def drawdown(sample: np.ndarray) -> float:
        equity = np.cumprod(1.0 + sample)
        return float(np.min(equity / np.maximum.accumulate(equity) - 1.0))

    interval = bootstrap_interval(returns, drawdown, seed=1)
    assert interval == bootstrap_interval(returns, drawdown, seed=1)
    assert interval is not None
    low, high = interval
    assert -1.0 < low <= drawdown(returns) <= high <= 0.0
    assert bootstrap_interval(np.zeros(30), drawdown) == (0.0, 0.0)  # one series, one value


def test_degenerate_returns_have_a_defined_interval() -> None:
    assert sharpe_confidence_interval(np.zeros(50)) == (0.0, 0.0)
    assert sharpe_confidence_interval(np.array([0.01, -0.01] * 9)) is None  # 18 returns
    with pytest.raises(ValueError, match="finite"):
        sharpe_confidence_interval(np.array([0.01, np.nan, 0.0]))


def result_of(
    frames: dict[str, pd.DataFrame],
    fills: int = 1,
    checks: dict[str, tuple[str, ...]] | None = None,
) -> BacktestResult:
    activity = Activity(
        orders_sent=fills,
        orders_vetoed=1,
        fills=fills,
        llm_calls=3,
        llm_cost_usd=0.25,
        llm_failed=4,
        llm_check_cost_usd=0.05,
    )
    runs = {name: StrategyResult(name, frame, activity, 2) for name, frame in frames.items()}
    return BacktestResult("hand", "TEST", "agent", 100.0, 252, runs, checks or {})


def frame(equity: list[float], held: list[float], halted: list[bool] | None = None) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.bdate_range("2020-01-01", periods=len(equity)), name="date")
    columns = {"equity": equity, "position": held, "held_position": held, "drl_weight": 0.5}
    return pd.DataFrame({**columns, "halted": halted or [False] * len(equity)}, index=index)


def test_a_strategy_entry_and_the_report_files_content() -> None:
    result = result_of(
        {
            "buy_and_hold": frame([100.0, 110.0, 99.0, 108.9], [0.0, 1.0, 1.0, 1.0]),
            "drl": frame([100.0, 100.0, 100.0, 100.0], [0.0, 0.0, 0.0, 0.0]),
        }
    )
    entry = strategy_metrics(result.strategies["buy_and_hold"], result.periods_per_year)
    assert entry["total_return"] == pytest.approx(0.089)
    # n_trades is the number of fills (one here), no longer the number of target changes.
    assert entry["n_trades"] == entry["fills"] == 1
    assert entry["turnover"] == 1.0 and entry["n_bars"] == 3
    assert entry["sharpe_ci"] is None and entry["final_equity"] == 108.9  # 3 returns: no CI
    assert entry["llm_calls"] == 3 and entry["llm_cost_usd"] == 0.25 and entry["llm_asks"] == 2
    assert entry["llm_failed_attempts"] == 4 and entry["llm_check_cost_usd"] == 0.05
    assert entry["llm_usd_per_ask"] == pytest.approx(0.1)  # ($0.25 - $0.05) / 2 asks
    assert entry["llm_usd_per_order"] == pytest.approx(0.025)  # $0.05 / (1 sent + 1 vetoed)

    metrics = backtest_metrics(result)
    json.dumps(metrics, allow_nan=False)
    assert metrics["run"]["first_decision"] == "2020-01-01" and metrics["run"]["n_bars"] == 3
    table = metrics_markdown(metrics)
    assert "| buy_and_hold | +8.90% |" in table and "| drl | +0.00% |" in table
    assert "| n/a |" in table  # the missing interval
    assert "| 3 | 4 | $0.2500 | $0.0500 | $0.1000 | $0.0250 |" in table

    rows = equity_table(result)
    assert list(rows.columns) == [
        "date", "strategy", "position", "equity", "held_position", "drl_weight", "halted"
    ]  # fmt: skip
    assert len(rows) == 8 and rows["date"].iloc[0] == "2020-01-01"


def test_the_kill_switch_halts_and_the_bars_it_held_flat_are_counted() -> None:
    # Halted after bar 2 for two bars, traded again, halted again from bar 5 to the end.
    halted = [False, False, True, True, False, True, True]
    equity = [100.0, 90.0, 74.0, 74.0, 74.0, 55.0, 55.0]
    held = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    result = result_of({"drl": frame(equity, held, halted), "llm": frame(equity, held)})
    halting = strategy_metrics(result.strategies["drl"], result.periods_per_year)
    assert (halting["kill_switch_halts"], halting["bars_halted"]) == (2, 4)
    never = strategy_metrics(result.strategies["llm"], result.periods_per_year)
    assert (never["kill_switch_halts"], never["bars_halted"]) == (0, 0)
    table = metrics_markdown(backtest_metrics(result))
    assert "| Fills | Kill-switch halts | Bars halted |" in table
    assert "| 1 | 2 | 4 |" in table and "| 1 | 0 | 0 |" in table


def test_every_fill_is_a_trade_and_the_report_says_what_checked_whose_orders() -> None:
    # One target change, but five fills (say a clipped target re-ordered, or forced trims):
    # n_trades counts the fills.
    held = [0.0, 1.0, 1.0, 1.0]
    checks = {"risk_manager": ("drl",), "execution_check": ()}
    result = result_of(
        {
            "buy_and_hold": frame([100.0, 101.0, 102.0, 103.0], held),
            "drl": frame([100.0] * 4, held),
        },
        fills=5,
        checks=checks,
    )
    metrics = backtest_metrics(result)
    assert metrics["strategies"]["drl"]["n_trades"] == 5
    assert metrics["run"]["order_checks"] == {"risk_manager": ["drl"], "execution_check": []}
    table = metrics_markdown(metrics).splitlines()
    assert (
        "Orders through the risk manager: drl; through the LLM execution check: none; through"
        " neither (pure, the same fills and costs): buy_and_hold."
    ) in table
    assert any(line.startswith("Fills: every fill counts") for line in table)


def test_fills_read_as_round_trips_with_per_trade_statistics() -> None:
    held = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    dates = frame([100.0] * 6, held).index
    fills = (
        TradeFill(dates[1], 10.0, 100.0, 1.0),  # a long of 10 at 100
        TradeFill(dates[2], 5.0, 110.0, 0.5),  # 5 more at 110
        TradeFill(dates[3], -15.0, 120.0, 1.5),  # all out at 120: the first trade closes
        TradeFill(dates[4], 10.0, 100.0, 1.0),  # still open at the last close, 90
    )
    trades = round_trips(fills, dates, last_close=90.0)
    assert trades[["entry_price", "exit_price", "shares", "bars_held"]].to_numpy().tolist() == [
        [1550.0 / 15, 120.0, 15.0, 2],
        [100.0, 90.0, 10.0, 1],
    ]
    assert trades["net_return"].tolist() == pytest.approx([247.0 / 1550.0, -101.0 / 1000.0])
    assert trades["open"].tolist() == [False, True]

    run = StrategyResult("drl", frame([100.0] * 6, held), Activity(), 0, fills=fills)
    run = dataclasses.replace(run, last_close=90.0)
    metrics = trade_metrics(run)
    assert metrics["round_trips"] == 2 and metrics["trade_win_rate"] == 0.5
    assert metrics["profit_factor"] == pytest.approx(247.0 / 101.0)
    assert metrics["avg_bars_held"] == 1.5 and metrics["exposure"] == 0.8
    table = trades_table(_one(run))
    assert list(table["strategy"]) == ["drl", "drl"] and list(table["side"]) == ["long", "long"]


def test_a_fill_that_flips_the_side_closes_one_trade_and_opens_the_next() -> None:
    dates = frame([100.0] * 3, [0.0, 1.0, -1.0]).index
    fills = (TradeFill(dates[1], 10.0, 100.0, 1.0), TradeFill(dates[2], -20.0, 110.0, 2.0))
    trades = round_trips(fills, dates, last_close=100.0)
    assert trades["side"].tolist() == ["long", "short"]
    assert trades["net_return"].tolist() == pytest.approx([(100.0 - 2.0) / 1000.0, 99.0 / 1100.0])


def test_a_strategy_that_never_trades_leaves_the_trade_dates_dates() -> None:
    """Its empty trade list must not turn every strategy's trade dates into plain objects (the
    CSV writer formats them as dates)."""
    held = [0.0, 1.0, 1.0]
    traded = frame([100.0] * 3, held)
    fills = (TradeFill(traded.index[1], 10.0, 100.0, 1.0),)
    runs = {
        "drl": StrategyResult("drl", traded, Activity(), 0, fills=fills, last_close=100.0),
        "llm": StrategyResult("llm", frame([100.0] * 3, [0.0] * 3), Activity(), 0),
    }
    table = trades_table(BacktestResult("hand", "TEST", "agent", 100.0, 252, runs))
    assert list(table["strategy"]) == ["drl"]
    assert table["entry_date"].dtype == traded.index.dtype == table["exit_date"].dtype


def _one(run: StrategyResult) -> BacktestResult:
    return BacktestResult("hand", "TEST", "agent", 100.0, 252, {run.name: run})
