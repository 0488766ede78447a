"""What a DRL agent says at one bar: the action, what it means, and how sure it is."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, eq=False, config=ConfigDict(arbitrary_types_allowed=True))
class DRLDecision:
    """One deterministic decision of a trained agent; out-of-range numbers are a ValueError.

    `target_position` is the action's target position fraction in [-1, 1] (the env's action map),
    which the hybrid trader reads as the DRL signal. `confidence` is calibrated on the
    calibration hold-out (the last train bars, unseen in training): among decisions made with
    confidence c, about a fraction c turned out right, that is, their direction paid over the next
    5 bars (`agents.outcomes`). `q_values` (DQN) or `action_probs` (PPO) are the raw numbers the
    confidence came from: for a seed ensemble, its members' mean Q-values or mean probabilities.

    A pydantic dataclass rather than a model: decisions keep identity equality (their arrays have
    no single truth value) and positional construction. Checking costs ~3 us of the ~600 us of a
    decision.
    """

    action: int
    target_position: Annotated[float, Field(ge=-1.0, le=1.0)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    q_values: np.ndarray | None = None
    action_probs: np.ndarray | None = None
