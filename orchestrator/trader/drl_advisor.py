"""The DRL agent's decision at one bar, for the account as it stands at that bar's close.

The observation comes from `envs.trading.observation.ObservationBuilder`, built from the same
feature matrix, window and clip as the agent's environment, with the live account's position
fraction and drawdown: exactly what the agent saw in training for a portfolio in that state.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from agents import DRLDecision
from envs import EnvConfig, ObservationBuilder
from orchestrator.execution import PortfolioState


class DRLDecider(Protocol):
    """What the trader needs of an agent (`agents.drl_agent.DRLAgent` satisfies it)."""

    def decide(self, observation: np.ndarray) -> DRLDecision: ...


class DRLAdvisor:
    """The agent asked at a bar about an account: builds the observation it was trained on."""

    def __init__(self, agent: DRLDecider, features: np.ndarray, env_config: EnvConfig) -> None:
        self.agent = agent
        self.observations = ObservationBuilder(
            features, env_config.window_size, env_config.observation_clip
        )

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> DRLDecision:
        """The agent's decision at the close of `bar`, with `portfolio` marked at `price`."""
        equity = portfolio.equity(price)
        if equity > 0.0:
            position = portfolio.position_fraction(price)
            drawdown = min(0.0, equity / portfolio.peak_equity - 1.0)
        else:  # a ruined account is closed, as the env shows it
            position, drawdown = 0.0, -1.0
        return self.decide_for(bar, position, drawdown)

    def decide_for(self, bar: int, position: float, drawdown: float) -> DRLDecision:
        """The agent's decision at the close of `bar` for a book at `position` (a fraction of its
        equity) and `drawdown` (<= 0): what the env would show it."""
        return self.agent.decide(self.observations.observe(bar, position, drawdown))
