"""One cell of the walk-forward grid, run start to end in one process: train, then backtest.

`run_cell` is a plain function of its arguments (everything it reads is named by the cell's
key), so that a Ray worker on another machine and a direct call give the same numbers. It
writes only into a temporary folder that it removes: the agent, and in offline mode the analyst
team's ledger. What it returns is JSON values: per strategy the metrics the statistics need and
the bar returns, so that windows and seeds can be pooled and tested afterwards.

In gateway mode the LLM dollars are charged to the strategy's P&L: each bar's LLM calls are
taken out of its equity at that bar's close, so that a strategy that pays for its analysts is
judged after paying, when it paid.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents import DRLAgent, train_agents
from envs import format_date, performance_metrics
from llm import build_analyst_team, load_settings
from orchestrator.evaluation.plan import Cell, CellResult
from orchestrator.evaluation.spec import EvaluationSpec
from orchestrator.runs import BacktestConfig, StrategyResult, run_backtest
from orchestrator.trader import load_trading_market


def run_cell(cell: Cell, spec: EvaluationSpec) -> CellResult:
    """Train `cell`'s agent on the bars before its test year and backtest every strategy on the
    test year (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="hybrid-trader-cell-") as folder:
        work = Path(folder)
        config = cell.train_config(spec, work / "agent")
        train_agents(config, progress_bar=False)
        agent = DRLAgent.load(config.out)
        market = load_trading_market(
            agent,
            cell.source,
            spec.start,
            cell.end,
            date_format=spec.date_format,
            periods_per_year=spec.periods_per_year,
            # the bar before the test year: the test split's first decision
            first_decision=pd.Timestamp(agent.manifest.splits["validation"][1]),
        )
        settings = load_settings()
        if spec.llm_mode == "offline":  # its ledger is of no use after the cell
            settings = settings.model_copy(update={"ledger_path": work / "ledger.sqlite"})
        with build_analyst_team(spec.llm_mode, settings=settings) as team:
            result = run_backtest(
                agent,
                market,
                team,
                BacktestConfig(strategies=spec.strategies),
                max_cost_usd=cell.max_cost_usd,
                say=_quiet,
            )
    dates = result.strategies[spec.strategies[0]].frame.index[1:]
    return {
        "cell": {
            "source": cell.source,
            "test_year": cell.test_year,
            "algo": cell.algo,
            "seed": cell.seed,
            "key": cell.key,
        },
        "periods_per_year": result.periods_per_year,
        "dates": [format_date(date) for date in dates],
        "strategies": {
            name: strategy_record(run, result.periods_per_year)
            for name, run in result.strategies.items()
        },
    }


def strategy_record(run: StrategyResult, periods_per_year: int) -> dict[str, Any]:
    """One strategy's metrics and bar returns, after its LLM dollars (module docstring)."""
    paid = run.frame["llm_usd"].to_numpy(dtype=np.float64).cumsum()
    equity = run.frame["equity"].to_numpy(dtype=np.float64) - paid
    metrics = performance_metrics(
        equity, run.frame["held_position"].to_numpy()[1:], periods_per_year
    )
    return {
        "sharpe": metrics["sharpe"],
        "total_return": metrics["total_return"],
        "max_drawdown": metrics["max_drawdown"],
        "turnover": metrics["turnover"],
        "trades": run.activity.fills,
        "llm_usd": run.activity.llm_cost_usd,
        "returns": (equity[1:] / equity[:-1] - 1.0).tolist(),
    }


def _quiet(_line: str) -> None:
    """A gateway run's cost estimate goes nowhere: the evaluation states its own."""
