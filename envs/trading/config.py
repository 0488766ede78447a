"""Settings of the trading environment, validated once so that `step()` never has to check them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from envs.errors import EnvSetupError
from envs.trading.execution import CostModel

Mode = Literal["long_only", "long_short"]
RewardKind = Literal["log_return", "differential_sharpe"]


@dataclass(frozen=True)
class EnvConfig:
    """What the agent sees, what its actions mean, what a trade costs and what it is paid.

    window_size: bars of features in one observation (30 daily bars: about six trading weeks).
    mode: "long_only" uses `long_only_positions`, "long_short" uses `long_short_positions`.
    long_only_positions / long_short_positions: action i -> target position, the fraction of
        equity held in the asset (-1 fully short .. 1 fully long). The hybrid trader reads the
        target position of the chosen action as the DRL signal in [-1, 1].
    cost_model: commission and slippage, on by default (see `CostModel`).
    reward: "log_return" pays log(V[t+1] / V[t]) net of every cost; "differential_sharpe" pays
        Moody & Saffell's differential Sharpe ratio of those same log returns.
    dsr_eta: adaptation rate of the differential Sharpe's moving moments (about 1 / 100 bars).
    episode_length: steps per episode from a random start (training), or None for one sequential
        pass over every bar (evaluation).
    initial_cash: starting equity, in price units.
    observation_clip: features are clipped to [-clip, clip] once, at construction, so every
        observation lies in the finite observation space (10 as SB3's VecNormalize; features are
        z-scores, so this only touches outliers).
    """

    window_size: int = 30
    mode: Mode = "long_only"
    long_only_positions: tuple[float, ...] = (0.0, 0.5, 1.0)
    long_short_positions: tuple[float, ...] = (-1.0, 0.0, 1.0)
    cost_model: CostModel = field(default_factory=CostModel)
    reward: RewardKind = "log_return"
    dsr_eta: float = 0.01
    episode_length: int | None = None
    initial_cash: float = 100_000.0
    observation_clip: float = 10.0

    def __post_init__(self) -> None:
        _require(_is_int(self.window_size) and self.window_size >= 1, "window_size", "an int >= 1")
        _require(self.mode in ("long_only", "long_short"), "mode", "'long_only' or 'long_short'")
        _check_positions("long_only_positions", self.long_only_positions, low=0.0)
        _check_positions("long_short_positions", self.long_short_positions, low=-1.0)
        _require(isinstance(self.cost_model, CostModel), "cost_model", "a CostModel")
        _require(
            self.reward in ("log_return", "differential_sharpe"),
            "reward",
            "'log_return' or 'differential_sharpe'",
        )
        _require(_is_real(self.dsr_eta) and 0.0 < self.dsr_eta < 1.0, "dsr_eta", "in (0, 1)")
        _require(
            self.episode_length is None
            or (_is_int(self.episode_length) and self.episode_length >= 1),
            "episode_length",
            "None or an int >= 1",
        )
        _require(
            _is_real(self.initial_cash) and self.initial_cash > 0.0, "initial_cash", "a number > 0"
        )
        _require(
            _is_real(self.observation_clip) and self.observation_clip >= 1.0,
            "observation_clip",
            "a number >= 1 (the portfolio state spans [-1, 1])",
        )
        # Frozen dataclass: store the position maps as floats through object.__setattr__.
        object.__setattr__(self, "long_only_positions", tuple(map(float, self.long_only_positions)))
        object.__setattr__(
            self, "long_short_positions", tuple(map(float, self.long_short_positions))
        )

    @property
    def target_positions(self) -> tuple[float, ...]:
        """Action index -> target position for the configured mode."""
        if self.mode == "long_only":
            return self.long_only_positions
        return self.long_short_positions

    def first_bar(self) -> int:
        """The first bar with a full feature window: where every episode may start."""
        return self.window_size - 1

    def check_market_length(self, n_bars: int) -> None:
        """Refuse a market too short to hold one episode under these settings."""
        steps = self.episode_length or 1
        needed = self.window_size + steps
        if n_bars < needed:
            raise EnvSetupError(
                f"market has {n_bars} bars but window_size={self.window_size} and"
                f" episode_length={self.episode_length} need at least {needed}"
                " (a full window, then one bar per step to fill and mark the order)"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _require(ok: bool, name: str, rule: str) -> None:
    if not ok:
        raise EnvSetupError(f"EnvConfig.{name} must be {rule}")


def _check_positions(name: str, positions: object, low: float) -> None:
    valid = (
        isinstance(positions, tuple)
        and len(positions) >= 2
        and all(_is_real(p) and low <= p <= 1.0 for p in positions)
        and len(set(positions)) == len(positions)
    )
    if not valid:
        raise EnvSetupError(
            f"EnvConfig.{name} must be a tuple of at least 2 distinct numbers in [{low:g}, 1],"
            f" got {positions!r}"
        )
