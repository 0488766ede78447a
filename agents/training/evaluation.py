"""Out-of-sample evaluation: the agent's deterministic policy beside buy-and-hold, costs on.

The agent runs through a `TradingEnv` pass; buy-and-hold is `envs.buy_and_hold`, the one
computation the backtest and the paper run show too: the same bars, the same first decision, the
same fill at the next open and the same costs, so the only difference between the two rows is the
decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from agents.confidence import (
    ReliabilityBin,
    auc,
    expected_calibration_error,
    log_loss,
    reliability_table,
)
from agents.drl_agent import DRLAgent
from agents.training.rollout import Rollout, run_policy
from envs import MarketArrays, buy_and_hold, performance_metrics

AGENT = "agent"
BUY_AND_HOLD = "buy_and_hold"

_TABLE_COLUMNS = (  # short headers: the table must fit an 80-column terminal
    ("total_return", "Return", "{:+.1%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "Max DD", "{:.1%}"),
    ("n_trades", "Trades", "{:d}"),
    ("trades_per_year", "Trades/yr", "{:.1f}"),
    ("auc", "AUC", "{:.3f}"),
)


@dataclass(frozen=True)
class SplitEvaluation:
    """Metrics of each strategy (see `envs.performance`) over one split's bars, and the
    reliability table of the agent's confidence there."""

    split: str
    first_date: str
    last_date: str
    strategies: dict[str, dict[str, float | None]]
    reliability: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "strategies": self.strategies,
            "reliability": [row.model_dump(mode="json") for row in self.reliability],
        }


def trading_metrics(
    equity: np.ndarray, positions: np.ndarray, periods_per_year: int
) -> dict[str, float | None]:
    """`envs.performance_metrics` (annualised with `periods_per_year`, bars in a year) plus
    `trades_per_year`, the figure that says whether costs can eat the edge."""
    metrics = performance_metrics(equity, positions, periods_per_year)
    metrics["trades_per_year"] = float(
        np.count_nonzero(np.diff(positions, prepend=0.0)) * periods_per_year / len(positions)
    )
    return metrics


def rollout_metrics(rollout: Rollout, periods_per_year: int) -> dict[str, float | None]:
    """Performance of one rollout (see `trading_metrics`), plus the hit rate of its decisions."""
    metrics = trading_metrics(rollout.equity, rollout.positions, periods_per_year)
    metrics["hit_rate"] = float(np.mean(rollout.correct))
    return metrics


def evaluate_agent(agent: DRLAgent, market: MarketArrays, split: str) -> SplitEvaluation:
    """Run the agent and buy-and-hold over `market` with the agent's env settings; compare them.

    The agent's entry also records how calibrated its confidence was on these bars (out of
    sample when `market` is the test split): `ece`, `confidence_log_loss` (which, unlike the
    ECE, also rewards telling right decisions from wrong ones), `auc` (whether right decisions
    got higher confidence than wrong ones) and `mean_confidence` beside `hit_rate`, and the
    evaluation holds its reliability table. Buy-and-hold's entry has the performance metrics
    only: it makes one decision.
    """
    config = agent.env_config
    run = run_policy(market, config, agent.act)
    hold = buy_and_hold(market, config.first_bar(), config.initial_cash, config.cost_model)
    confidence = np.array([d.confidence for d in agent.decide_many(run.observations)])
    agent_metrics = rollout_metrics(run, market.periods_per_year)
    agent_metrics["mean_confidence"] = float(confidence.mean())
    agent_metrics["ece"] = expected_calibration_error(confidence, run.correct)
    agent_metrics["confidence_log_loss"] = log_loss(confidence, run.correct)
    agent_metrics["auc"] = auc(confidence, run.correct)
    return SplitEvaluation(
        split=split,
        first_date=_day(run.dates[0]),
        last_date=_day(run.dates[-1]),
        strategies={
            AGENT: agent_metrics,
            BUY_AND_HOLD: trading_metrics(hold.equity, hold.held, market.periods_per_year),
        },
        reliability=reliability_table(confidence, run.correct),
    )


def evaluation_table(evaluation: SplitEvaluation, label: str = "") -> Table:
    """A rich table with one row per strategy, titled `label` + the split and its dates."""
    table = Table(
        title=f"{label}{evaluation.split} {evaluation.first_date} .. {evaluation.last_date}"
        " (after costs)"
    )
    table.add_column("Strategy", no_wrap=True)
    for _, header, _ in _TABLE_COLUMNS:
        table.add_column(header, justify="right")
    for name, metrics in evaluation.strategies.items():
        table.add_row(name, *(_cell(metrics.get(key), fmt) for key, _, fmt in _TABLE_COLUMNS))
    return table


def reliability_report(evaluation: SplitEvaluation, label: str = "") -> Table:
    """The agent's reliability table on the split: per confidence bin, how many decisions, how
    sure and how often right."""
    table = Table(title=f"{label}confidence on {evaluation.split}: reliability")
    for header in ("Confidence", "Decisions", "Mean confidence", "Hit rate"):
        table.add_column(header, justify="right")
    for row in evaluation.reliability:
        if row.count:
            table.add_row(
                f"{row.lower:.1f}-{row.upper:.1f}",
                str(row.count),
                _cell(row.mean_confidence, "{:.3f}"),
                _cell(row.hit_rate, "{:.3f}"),
            )
    return table


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _day(date: np.datetime64) -> str:
    return str(date.astype("datetime64[D]"))
