"""What each seed produced, and its metrics over seeds: one RL seed is noise, several are data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from agents.training.evaluation import AGENT, BUY_AND_HOLD, SplitEvaluation

SUMMARY_METRICS = (
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "turnover",
    "n_trades",
    "trades_per_year",
)
CONFIDENCE_METRICS = ("auc", "ece", "hit_rate", "mean_confidence")
"""Of the agent's confidence on test only: validation records no confidence of its own."""


@dataclass(frozen=True)
class AgentResult:
    """What one agent directory holds: the seeds of its models (one, or an ensemble's), its
    validation metrics and its test evaluation."""

    seeds: tuple[int, ...]
    directory: Path
    validation: dict[str, float | None]
    test: SplitEvaluation

    @property
    def label(self) -> str:
        """How reports name it: `seed 3`, or `ensemble of seeds 0,1,2`."""
        if len(self.seeds) == 1:
            return f"seed {self.seeds[0]}"
        return "ensemble of seeds " + ",".join(map(str, self.seeds))


@dataclass(frozen=True)
class TrainingRun:
    """What `train` produced: one agent per seed and, with several seeds, their ensemble, which
    is the agent in the output directory itself."""

    members: list[AgentResult]
    ensemble: AgentResult | None

    @property
    def agent(self) -> AgentResult:
        """The agent of the output directory: the ensemble, or the only seed."""
        return self.ensemble or self.members[0]


def mean_std(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean and sample std (ddof=1; 0 for one value) of the defined values, and how many."""
    defined = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(defined) == 0:
        return {"mean": None, "std": None, "n": 0}
    std = float(defined.std(ddof=1)) if len(defined) > 1 else 0.0
    return {"mean": float(defined.mean()), "std": std, "n": len(defined)}


def summarize_seeds(results: Sequence[AgentResult], ensemble: AgentResult) -> dict[str, Any]:
    """Validation and test metrics of the agents over seeds, beside the ensemble's and
    buy-and-hold's on test."""
    return {
        "seeds": [r.seeds[0] for r in results],
        "test_period": [results[0].test.first_date, results[0].test.last_date],
        "validation": {m: mean_std([r.validation[m] for r in results]) for m in SUMMARY_METRICS},
        "test": {
            m: mean_std([r.test.strategies[AGENT][m] for r in results])
            for m in SUMMARY_METRICS + CONFIDENCE_METRICS
        },
        "test_buy_and_hold": {
            m: results[0].test.strategies[BUY_AND_HOLD][m] for m in SUMMARY_METRICS
        },
        "ensemble": {
            "validation": {m: ensemble.validation[m] for m in SUMMARY_METRICS},
            "test": {
                m: ensemble.test.strategies[AGENT][m] for m in SUMMARY_METRICS + CONFIDENCE_METRICS
            },
        },
    }


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per metric: validation and test mean +- std over seeds, the ensemble's test value,
    and buy-and-hold on test."""
    first, last = summary["test_period"]
    table = Table(
        title=f"{len(summary['seeds'])} seeds (mean ± std) and their ensemble;"
        f" test {first} .. {last}, after costs"
    )
    headers = ("Metric", "Validation", "Test", "Ensemble test", "Buy & hold test")
    for header in headers:
        table.add_column(header, justify="left" if header == "Metric" else "right", no_wrap=True)
    for metric in SUMMARY_METRICS + CONFIDENCE_METRICS:
        table.add_row(
            metric,
            format_mean_std(summary["validation"].get(metric, {"mean": None})),
            format_mean_std(summary["test"][metric]),
            _number(summary["ensemble"]["test"][metric]),
            _number(summary["test_buy_and_hold"].get(metric)),
        )
    return table


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_mean_std(stats: dict[str, float | int | None]) -> str:
    if stats["mean"] is None:
        return "n/a"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f}"
