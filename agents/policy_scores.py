"""The raw per-action scores of a trained SB3 model: Q-values (DQN) or log-probabilities (PPO).

Both are what a deterministic policy ranks actions by (greedy on Q, the mode of the categorical
policy), so the chosen action is always the argmax of the scores, and the confidence is the
Platt-calibrated log-odds of the chosen action's softmax probability (see `agents.confidence`).

A seed ensemble of K models ranks actions by `ensemble_scores`: the mean Q-values (DQN), or the
log of the mean action probabilities (PPO), of its members' scores (`member_scores`).

`sticky_actions` adds a switch margin to the score of the action the portfolio already holds,
read from the observation's position fraction: the agent changes its position only when another
action beats holding by the margin. Daily scores flip between near-equal actions on noise, and
each flip pays costs; the margin is chosen on validation (`agents.training.selection`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import CategoricalDistribution

from envs import PORTFOLIO_STATE_NAMES

POSITION_INDEX = PORTFOLIO_STATE_NAMES.index("position_fraction") - len(PORTFOLIO_STATE_NAMES)
"""Where the position fraction sits in a flat observation, counted from its end."""


def policy_scores(model: BaseAlgorithm, observations: np.ndarray) -> np.ndarray:
    """Scores of every action for a batch of observations, shape (n, n_actions), float64."""
    obs_tensor, _ = model.policy.obs_to_tensor(np.asarray(observations, dtype=np.float32))
    with torch.no_grad():
        if isinstance(model, DQN):
            scores = model.policy.q_net(obs_tensor)
        elif isinstance(model, PPO):
            distribution = model.policy.get_distribution(obs_tensor)
            if not isinstance(distribution, CategoricalDistribution):
                raise TypeError(f"PPO scores need discrete actions, got {distribution}")
            scores = distribution.distribution.logits
        else:
            raise TypeError(f"no action scores for {type(model).__name__}; expected DQN or PPO")
    return scores.cpu().numpy().astype(np.float64)


def member_scores(models: Sequence[BaseAlgorithm], observations: np.ndarray) -> np.ndarray:
    """Every model's scores for a batch of observations, shape (n_models, n, n_actions)."""
    return np.stack([policy_scores(model, observations) for model in models])


def ensemble_scores(scores: np.ndarray, log_probabilities: bool) -> np.ndarray:
    """The ensemble's (n, n_actions) scores from its members' (n_models, n, n_actions): mean
    Q-values, or the log of the mean probabilities when the scores are log-probabilities (so
    that they stay log-probabilities, and one member's certainty cannot veto the others)."""
    if log_probabilities:
        return np.log(np.exp(scores).mean(axis=0))
    return scores.mean(axis=0)


def observation_shape(model: BaseAlgorithm) -> tuple[int, ...]:
    """The shape of one observation the model takes (its Box space always has one)."""
    shape = model.observation_space.shape
    if shape is None:
        raise TypeError(f"{type(model).__name__} has an observation space without a shape")
    return tuple(shape)


def uses_log_probabilities(model: BaseAlgorithm) -> bool:
    """Whether the scores are log-probabilities (PPO) rather than Q-values (DQN)."""
    return isinstance(model, PPO)


def held_actions(observations: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each observation, the action whose target is nearest the position it shows."""
    positions = np.asarray(observations)[:, POSITION_INDEX].astype(np.float64)
    return np.abs(positions[:, None] - np.asarray(targets)[None, :]).argmin(axis=1)


def sticky_actions(
    scores: np.ndarray, observations: np.ndarray, targets: np.ndarray, switch_margin: float
) -> np.ndarray:
    """The argmax of `scores` (n, n_actions) after adding `switch_margin` (score units: Q-value
    or log-probability) to each row's held action (`held_actions`); 0 is the plain argmax."""
    rows = np.arange(len(scores))
    sticky = np.array(scores, dtype=np.float64)
    sticky[rows, held_actions(observations, targets)] += switch_margin
    return sticky.argmax(axis=1)


def ensemble_policy(
    models: Sequence[BaseAlgorithm], targets: np.ndarray, switch_margin: float
) -> Callable[[np.ndarray], int]:
    """The deterministic policy of one model or an ensemble, for one observation at a time:
    `sticky_actions` of the `ensemble_scores`."""
    log_probabilities = uses_log_probabilities(models[0])

    def policy(observation: np.ndarray) -> int:
        batch = observation[None, :]
        scores = ensemble_scores(member_scores(models, batch), log_probabilities)
        return int(sticky_actions(scores, batch, targets, switch_margin)[0])

    return policy
