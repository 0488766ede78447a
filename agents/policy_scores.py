"""The raw per-action scores of a trained SB3 model: Q-values (DQN) or log-probabilities (PPO).

Both are what a deterministic policy ranks actions by (greedy on Q, the mode of the categorical
policy), so the chosen action is always the argmax of the scores, and the confidence is the
Platt-calibrated log-odds of the chosen action's softmax probability (see `agents.confidence`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import CategoricalDistribution


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


def observation_shape(model: BaseAlgorithm) -> tuple[int, ...]:
    """The shape of one observation the model takes (its Box space always has one)."""
    shape = model.observation_space.shape
    if shape is None:
        raise TypeError(f"{type(model).__name__} has an observation space without a shape")
    return tuple(shape)


def uses_log_probabilities(model: BaseAlgorithm) -> bool:
    """Whether the scores are log-probabilities (PPO) rather than Q-values (DQN)."""
    return isinstance(model, PPO)


def greedy_policy(model: BaseAlgorithm) -> Callable[[np.ndarray], int]:
    """The deterministic policy of `model`: the argmax of its scores for one observation."""
    return lambda observation: int(np.argmax(policy_scores(model, observation[None, :])[0]))
