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

from agents.confidence import expected_calibration_error, log_loss
from agents.drl_agent import DRLAgent
from agents.training.rollout import Rollout, run_policy
from envs import MarketArrays, buy_and_hold, performance_metrics

AGENT = "agent"
BUY_AND_HOLD = "buy_and_hold"

_TABLE_COLUMNS = (
    ("total_return", "Total return", "{:+.2%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "Max drawdown", "{:.2%}"),
    ("turnover", "Turnover", "{:.1f}"),
    ("n_trades", "Trades", "{:d}"),
)


@dataclass(frozen=True)
class SplitEvaluation:
    """Metrics of each strategy (see `envs.performance`) over one split's bars."""

    split: str
    first_date: str
    last_date: str
    strategies: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "strategies": self.strategies,
        }


def rollout_metrics(rollout: Rollout, periods_per_year: int) -> dict[str, float | None]:
    """Performance of one rollout (annualised with `periods_per_year`, bars in a year), plus the
    hit rate of its decisions."""
    metrics = performance_metrics(rollout.equity, rollout.positions, periods_per_year)
    metrics["hit_rate"] = float(np.mean(rollout.correct))
    return metrics


def evaluate_agent(agent: DRLAgent, market: MarketArrays, split: str) -> SplitEvaluation:
    """Run the agent and buy-and-hold over `market` with the agent's env settings; compare them.

    The agent's entry also records how calibrated its confidence was on these bars (out of
    sample when `market` is the test split): `ece`, `confidence_log_loss` (which, unlike the
    ECE, also rewards telling right decisions from wrong ones) and `mean_confidence` beside
    `hit_rate`. Buy-and-hold's entry has the performance metrics only: it makes one decision.
    """
    config = agent.env_config
    run = run_policy(market, config, agent.act)
    hold = buy_and_hold(market, config.first_bar(), config.initial_cash, config.cost_model)
    confidence = np.array([d.confidence for d in agent.decide_many(run.observations)])
    agent_metrics = rollout_metrics(run, market.periods_per_year)
    agent_metrics["mean_confidence"] = float(confidence.mean())
    agent_metrics["ece"] = expected_calibration_error(confidence, run.correct)
    agent_metrics["confidence_log_loss"] = log_loss(confidence, run.correct)
    return SplitEvaluation(
        split=split,
        first_date=_day(run.dates[0]),
        last_date=_day(run.dates[-1]),
        strategies={
            AGENT: agent_metrics,
            BUY_AND_HOLD: performance_metrics(hold.equity, hold.held, market.periods_per_year),
        },
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
        table.add_row(name, *(_cell(metrics[key], fmt) for key, _, fmt in _TABLE_COLUMNS))
    return table


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _day(date: np.datetime64) -> str:
    return str(date.astype("datetime64[D]"))
