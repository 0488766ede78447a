"""One full sequential pass of a deterministic policy through a `TradingEnv`, costs on.

Evaluation, calibration and the training's best-model choice all read this record, so they all
see the same trades, equity and hindsight outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from agents.outcomes import direction_was_right, horizon_bar
from envs import RUIN_EQUITY, EnvConfig, MarketArrays, TradingEnv

Policy = Callable[[np.ndarray], int]
"""Observation -> action index; must be deterministic."""


@dataclass(frozen=True, eq=False)
class Rollout:
    """Per step i (decided at close of bar `decision_bars[i]`, marked one bar later).

    `equity` has one more entry than steps: the initial cash first. `positions[i]` is the target
    position held over step i; `correct[i]` says whether action i's direction paid in hindsight
    (`agents.outcomes`).
    """

    decision_bars: np.ndarray
    dates: np.ndarray
    observations: np.ndarray
    actions: np.ndarray
    positions: np.ndarray
    equity: np.ndarray
    correct: np.ndarray
    reward_sum: float


def sequential_config(config: EnvConfig) -> EnvConfig:
    """The same env settings, as one pass over every bar (how every evaluation runs)."""
    return replace(config, episode_length=None)


def run_policy(market: MarketArrays, config: EnvConfig, policy: Policy) -> Rollout:
    """Step `policy` through every bar of `market` once and record what happened."""
    env = TradingEnv(market, sequential_config(config))
    targets = config.target_positions
    observation, info = env.reset()
    bars, dates, observations, actions, positions, correct = [], [], [], [], [], []
    equity = [info["equity"]]
    reward_sum = 0.0
    done = False
    while not done:
        bar = info["bar"]
        action = int(policy(observation))
        right = direction_was_right(
            info["cash"],
            info["shares"],
            info["position"],
            targets[action],
            close_now=float(market.close[bar]),
            open_next=float(market.open[bar + 1]),
            close_later=float(market.close[horizon_bar(bar, market.n_bars)]),
            config=config,
        )
        bars.append(bar)
        observations.append(observation)
        actions.append(action)
        correct.append(right)
        observation, reward, terminated, truncated, info = env.step(action)
        dates.append(info["date"])
        positions.append(info["target_position"])
        equity.append(max(info["equity"], RUIN_EQUITY))  # a ruined short ends at ~0, not < 0
        reward_sum += float(reward)
        done = terminated or truncated
    return Rollout(
        decision_bars=np.asarray(bars),
        dates=np.asarray(dates),
        observations=np.asarray(observations),
        actions=np.asarray(actions),
        positions=np.asarray(positions, dtype=np.float64),
        equity=np.asarray(equity, dtype=np.float64),
        correct=np.asarray(correct),
        reward_sum=reward_sum,
    )
