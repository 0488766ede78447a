"""Statistics over the cells, per series and strategy, that say how far a result can be trusted.

A strategy is one of the backtest's rows with the algorithm that trained its agent
(`dqn/hybrid_learned`); buy_and_hold is one strategy whatever the agent. For each:
- mean and sd over every cell (test windows x seeds) of Sharpe, total return, max drawdown,
  turnover, trades (fills) and LLM dollars;
- the windows in order pooled into one series of bar returns per seed, and the seeds averaged
  bar by bar: the strategy as run over the whole walk-forward;
- that series' Sharpe, annual return and max drawdown, each with a stationary-bootstrap interval
  (`envs.bootstrap_interval`);
- the deflated Sharpe ratio (Bailey and López de Prado, 2014): the probability that its true
  Sharpe is above zero once the best of N tries is expected to look good by luck alone; N counts
  every (strategy, seed) of the grid plus the spec's `prior_trials`;
- Hansen's (2005) test of superior predictive ability against buy_and_hold
  (`arch.bootstrap.SPA`, losses = minus bar returns), one test per strategy and one of all of
  them together: a small p-value says the strategy's edge over buy and hold is unlikely to be
  luck.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from arch.bootstrap import SPA
from scipy import stats

from envs import bootstrap_interval, sharpe_confidence_interval
from orchestrator.evaluation.plan import CellResult, EvaluationPlan
from orchestrator.runs import BUY_AND_HOLD

METRICS = ("sharpe", "total_return", "max_drawdown", "turnover", "trades", "llm_usd")
SIGNIFICANCE = 0.05
SPA_REPS = 1000
STATISTICS_SEED = 0
EULER_GAMMA = 0.5772156649015329


def strategy_label(algo: str, name: str) -> str:
    return name if name == BUY_AND_HOLD else f"{algo}/{name}"


def evaluation_statistics(plan: EvaluationPlan, results: Sequence[CellResult]) -> dict[str, Any]:
    """Every series' statistics (see the module docstring), as JSON values."""
    return {
        "series": {
            source: _series_statistics(
                plan,
                source,
                [result for result in results if result["cell"]["source"] == source],
            )
            for source in plan.spec.sources
        }
    }


def _series_statistics(
    plan: EvaluationPlan, source: str, results: list[CellResult]
) -> dict[str, Any]:
    spec = plan.spec
    years = plan.years[source]
    periods_per_year = int(results[0]["periods_per_year"])
    # label -> seed -> year -> the cell's record of that strategy
    records: dict[str, dict[int, dict[int, dict[str, Any]]]] = {}
    for result in results:
        cell = result["cell"]
        for name, record in result["strategies"].items():
            if name == BUY_AND_HOLD and cell["algo"] != spec.algos[0]:
                continue  # the same run whatever the agent
            label = strategy_label(cell["algo"], name)
            records.setdefault(label, {}).setdefault(cell["seed"], {})[cell["test_year"]] = record
    pooled = {
        label: {
            seed: np.concatenate([by_year[year]["returns"] for year in years])
            for seed, by_year in by_seed.items()
        }
        for label, by_seed in records.items()
    }
    averaged = {label: np.mean(list(by_seed.values()), axis=0) for label, by_seed in pooled.items()}
    trial_sharpes = [
        _sharpe(series)
        for label, by_seed in pooled.items()
        if label != BUY_AND_HOLD
        for series in by_seed.values()
    ]
    n_trials = len(trial_sharpes) + spec.prior_trials
    benchmark = averaged[BUY_AND_HOLD]
    by_year_sharpe = {
        label: {
            year: _mean([by_year[year]["sharpe"] for by_year in by_seed.values()]) for year in years
        }
        for label, by_seed in records.items()
    }
    strategies: dict[str, Any] = {}
    for label, by_seed in records.items():
        cells = [record for by_year in by_seed.values() for record in by_year.values()]
        series = averaged[label]
        interval = sharpe_confidence_interval(
            series, seed=STATISTICS_SEED, periods_per_year=periods_per_year
        )
        strategies[label] = {
            "n_cells": len(cells),
            "mean": {metric: _mean([cell[metric] for cell in cells]) for metric in METRICS},
            "sd": {metric: _sd([cell[metric] for cell in cells]) for metric in METRICS},
            "sharpe_by_year": {str(year): value for year, value in by_year_sharpe[label].items()},
            "sharpe_by_seed": {
                str(seed): _sharpe(returns) * math.sqrt(periods_per_year)
                for seed, returns in pooled[label].items()
            },
            "pooled_sharpe": _sharpe(series) * math.sqrt(periods_per_year),
            "pooled_sharpe_ci": None if interval is None else list(interval),
            "pooled_total_return": float(np.prod(1.0 + series) - 1.0),
            "pooled_annual_return": _annual_return(series, periods_per_year),
            "pooled_annual_return_ci": _interval(
                series, lambda sample: _annual_return(sample, periods_per_year)
            ),
            "pooled_max_drawdown": _max_drawdown(series),
            "pooled_max_drawdown_ci": _interval(series, _max_drawdown),
            "windows_beating_buy_and_hold": sum(
                (by_year_sharpe[label][year] or 0.0) > (by_year_sharpe[BUY_AND_HOLD][year] or 0.0)
                for year in years
            ),
            "deflated_sharpe": deflated_sharpe(series, trial_sharpes, n_trials),
            "spa_pvalue": None if label == BUY_AND_HOLD else spa_pvalue(benchmark, [series]),
        }
    others = [averaged[label] for label in records if label != BUY_AND_HOLD]
    return {
        "years": list(years),
        "seeds": list(spec.seeds),
        "periods_per_year": periods_per_year,
        "n_bars": len(benchmark),
        "trials": n_trials,
        "spa_any_pvalue": spa_pvalue(benchmark, others) if others else None,
        "strategies": strategies,
        "best_by_year": {
            str(year): max(records, key=lambda label: by_year_sharpe[label][year] or -math.inf)
            for year in years
        },
    }


def deflated_sharpe(returns: np.ndarray, trial_sharpes: Sequence[float], n_trials: int) -> float:
    """Probability that the true per-bar Sharpe of `returns` exceeds the best of `n_trials`
    expected by luck, given the variance of the trials' per-bar Sharpe ratios
    (`trial_sharpes`); with one trial, the probability that it exceeds zero. When fewer than two
    trials' Sharpes are at hand (one cell, the others tried elsewhere: `--prior-trials`), their
    spread is the sampling error of a per-bar Sharpe under the null, 1 / sqrt(bars - 1): the
    trials tried still raise the bar (they used to be ignored)."""
    sharpe, n_bars = _sharpe(returns), len(returns)
    threshold = 0.0
    if n_trials > 1:
        if len(trial_sharpes) > 1:
            spread = float(np.std(trial_sharpes, ddof=1))
        else:
            spread = 1.0 / math.sqrt(max(n_bars - 1, 1))
        threshold = spread * (
            (1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n_trials)
            + EULER_GAMMA * stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
        )
    if np.std(returns) == 0.0:
        return 0.5 if threshold == 0.0 else 0.0
    skew = float(stats.skew(returns))
    kurtosis = float(stats.kurtosis(returns, fisher=False))
    variance = max(1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2, 1e-12)
    return float(stats.norm.cdf((sharpe - threshold) * math.sqrt(n_bars - 1) / math.sqrt(variance)))


def spa_pvalue(benchmark: np.ndarray, models: Sequence[np.ndarray]) -> float:
    """Hansen's consistent SPA p-value that none of `models` beats `benchmark` (bar returns),
    seeded; 1.0 when no model ever differs from the benchmark."""
    differing = [model for model in models if np.any(model != benchmark)]
    if not differing:
        return 1.0
    matrix = np.column_stack(differing)
    test = SPA(-benchmark, -matrix, reps=SPA_REPS, seed=STATISTICS_SEED)
    test.compute()
    return float(test.pvalues["consistent"])


def _interval(returns: np.ndarray, statistic: Callable[[np.ndarray], float]) -> list[float] | None:
    interval = bootstrap_interval(returns, statistic, seed=STATISTICS_SEED)
    return None if interval is None else list(interval)


def _annual_return(returns: np.ndarray, periods_per_year: int) -> float:
    """The compounded return of `returns` over a year of bars (CAGR)."""
    growth = float(np.prod(1.0 + returns))
    return growth ** (periods_per_year / len(returns)) - 1.0 if growth > 0.0 else -1.0


def _max_drawdown(returns: np.ndarray) -> float:
    """The worst fall of the compounded equity of `returns` from its running peak (<= 0)."""
    equity = np.cumprod(np.concatenate([[1.0], 1.0 + returns]))
    return float(np.min(equity / np.maximum.accumulate(equity) - 1.0))


def _sharpe(returns: np.ndarray) -> float:
    """Per-bar Sharpe ratio (mean over sd, no risk-free rate); 0 for a flat series."""
    std = float(np.std(returns, ddof=1))
    return 0.0 if std == 0.0 else float(np.mean(returns)) / std


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [value for value in values if value is not None]
    return float(np.mean(finite)) if finite else None


def _sd(values: Sequence[float | None]) -> float | None:
    """The sample standard deviation; None with fewer than two values (undefined, not 0)."""
    finite = [value for value in values if value is not None]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else None
