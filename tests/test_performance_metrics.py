"""envs.performance: metrics of an equity curve, checked against hand computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from envs import performance_metrics

METRIC_NAMES = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "turnover",
    "n_trades",
    "n_bars",
)


def test_metrics_match_hand_computation() -> None:
    equity = np.array([100.0, 110.0, 99.0, 108.9])  # returns +10%, -10%, +10%
    positions = np.array([1.0, 1.0, 0.5])

    metrics = performance_metrics(equity, positions, periods_per_year=252)

    returns = np.array([0.1, -0.1, 0.1])
    assert metrics["total_return"] == pytest.approx(0.089)
    assert metrics["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))
    assert metrics["sortino"] == pytest.approx(returns.mean() / downside * math.sqrt(252))
    assert metrics["max_drawdown"] == pytest.approx(-0.1)
    assert metrics["annual_volatility"] == pytest.approx(returns.std(ddof=1) * math.sqrt(252))
    assert metrics["turnover"] == pytest.approx(1.5)  # 0 -> 1 (entry) then 1 -> 0.5
    assert metrics["n_trades"] == 2
    assert metrics["n_bars"] == 3
    assert set(metrics) == set(METRIC_NAMES)


def test_a_strategy_that_never_moves_has_zero_ratios_and_strict_json() -> None:
    metrics = performance_metrics(np.full(5, 100.0), np.zeros(4))

    assert metrics["sharpe"] == 0.0 and metrics["sortino"] == 0.0
    assert metrics["total_return"] == 0.0 and metrics["max_drawdown"] == 0.0
    assert metrics["n_trades"] == 0
    json.dumps(metrics, allow_nan=False)


def test_an_undefined_ratio_is_none() -> None:
    metrics = performance_metrics(np.array([100.0, 101.0, 102.0]), np.ones(2))
    assert metrics["sortino"] is None  # no losing bar: no downside deviation


@pytest.mark.parametrize(
    ("equity", "positions", "message"),
    [
        (np.array([100.0]), np.zeros(0), "at least 2"),
        (np.array([100.0, 101.0]), np.zeros(2), "one value per bar"),
        (np.array([100.0, -1.0]), np.zeros(1), "positive"),
        (np.array([100.0, np.nan]), np.zeros(1), "finite"),
    ],
)
def test_bad_inputs_are_refused(equity: np.ndarray, positions: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        performance_metrics(equity, positions)
