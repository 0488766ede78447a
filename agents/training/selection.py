"""The switch margin: how much better another action must score before the agent trades.

Measured: agents whose argmax follows their scores trade 100-150 times a year on sp500, and a
turnover penalty in the reward, even at 2% of equity per switch, barely lowers that at 50k steps
(the position was one input of 452 with the 30-bar window of then, and the Q-values stay
dominated by the features). A margin at decision time controls turnover directly, without
retraining: the held action's score is raised by `margin` before the argmax
(`agents.policy_scores.sticky_actions`).

The margin is tried as multiples of the typical score gap (the median, over the validation
decisions, of the best score less the second best), so one grid serves Q-values and
log-probabilities alike. The choice reads the validation split only: the best validation Sharpe
among the margins that trade at most `max_trades_per_year` there, or, if none does, the margin
that trades least.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.manifest import MarginTrial
from agents.policy_scores import (
    ensemble_policy,
    ensemble_scores,
    member_scores,
    uses_log_probabilities,
)
from agents.training.evaluation import rollout_metrics
from agents.training.rollout import Rollout, run_policy
from envs import EnvConfig, MarketArrays

MARGIN_MULTIPLES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Margins tried, in units of the median gap between the best and second-best score."""


def typical_score_gap(models: Sequence[BaseAlgorithm], observations: np.ndarray) -> float:
    """The median of best score less second-best over `observations`, in score units."""
    scores = ensemble_scores(member_scores(models, observations), uses_log_probabilities(models[0]))
    top_two = np.sort(scores, axis=1)[:, -2:]
    return float(np.median(top_two[:, 1] - top_two[:, 0]))


def choose_switch_margin(
    models: Sequence[BaseAlgorithm],
    validation: MarketArrays,
    env_config: EnvConfig,
    max_trades_per_year: float,
) -> tuple[MarginTrial, tuple[MarginTrial, ...], Rollout]:
    """(the chosen trial, every trial, the validation rollout of the chosen margin)."""
    targets = np.asarray(env_config.target_positions)
    plain = run_policy(validation, env_config, ensemble_policy(models, targets, 0.0))
    gap = typical_score_gap(models, plain.observations)
    trials, rollouts = [], []
    for multiple in MARGIN_MULTIPLES:
        margin = multiple * gap
        rollout = (
            plain
            if multiple == 0.0
            else run_policy(validation, env_config, ensemble_policy(models, targets, margin))
        )
        metrics = rollout_metrics(rollout, validation.periods_per_year)
        trials.append(
            MarginTrial(
                multiple=multiple,
                margin=margin,
                validation_sharpe=metrics["sharpe"],
                validation_trades_per_year=metrics["trades_per_year"] or 0.0,
            )
        )
        rollouts.append(rollout)
    budget = max_trades_per_year
    within = [i for i, t in enumerate(trials) if t.validation_trades_per_year <= budget]
    if within:
        best = max(within, key=lambda i: _sharpe_or_floor(trials[i]))
    else:
        best = min(range(len(trials)), key=lambda i: trials[i].validation_trades_per_year)
    return trials[best], tuple(trials), rollouts[best]


def _sharpe_or_floor(trial: MarginTrial) -> float:
    return -np.inf if trial.validation_sharpe is None else trial.validation_sharpe
