"""What a DRL agent says at one bar: the action, what it means, and how sure it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class DRLDecision:
    """One deterministic decision of a trained agent.

    `target_position` is the action's target position fraction in [-1, 1] (the env's action map),
    which the hybrid trader reads as the DRL signal. `confidence` is calibrated on the validation
    split: among decisions made with confidence c, about a fraction c turned out right.
    `q_values` (DQN) or `action_probs` (PPO) are the raw numbers the confidence came from.
    """

    action: int
    target_position: float
    confidence: float
    q_values: np.ndarray | None = None
    action_probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if not -1.0 <= self.target_position <= 1.0:
            raise ValueError(f"target_position must be in [-1, 1], got {self.target_position}")
