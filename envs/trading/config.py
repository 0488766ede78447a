"""Settings of the trading environment, validated once so that `step()` never has to check them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from envs.errors import EnvSetupError
from envs.trading.execution import CostModel
from envs.validated import validated_dataclass

Mode = Literal["long_only", "long_short"]
RewardKind = Literal["log_return", "differential_sharpe"]


def _distinct(positions: tuple[float, ...]) -> tuple[float, ...]:
    if len(set(positions)) != len(positions):
        raise ValueError("positions must be distinct")
    return positions


LongOnlyPositions = Annotated[
    tuple[Annotated[float, Field(ge=0.0, le=1.0)], ...],
    Field(min_length=2, description="a tuple of at least 2 distinct numbers in [0, 1]"),
    AfterValidator(_distinct),
]
LongShortPositions = Annotated[
    tuple[Annotated[float, Field(ge=-1.0, le=1.0)], ...],
    Field(min_length=2, description="a tuple of at least 2 distinct numbers in [-1, 1]"),
    AfterValidator(_distinct),
]


@validated_dataclass(EnvSetupError)
class EnvConfig:
    """What the agent sees, what its actions mean, what a trade costs and what it is paid.

    window_size: bars of features in one observation (5 daily bars, a trading week: each feature
        already sums up 1 to 50 bars, and 10-, 20- and 30-bar windows did no better on
        validation; see docs/DESIGN_NOTES.md).
    mode: "long_only" uses `long_only_positions`, "long_short" uses `long_short_positions`.
    long_only_positions / long_short_positions: action i -> target position, the fraction of
        equity held in the asset (-1 fully short .. 1 fully long). The hybrid trader reads the
        target position of the chosen action as the DRL signal in [-1, 1].
    cost_model: commission and slippage, on by default (see `CostModel`).
    rebalance_band: a fraction of equity. No order is sent when the chosen target lies within the
        band of the position at the decision's close (`envs.trading.execution.order_needed`); an
        exit to flat always trades. 0.1 leaves alone the drift of a half position on a move under
        about 40%, and never blocks a switch between targets 0.5 or more apart.
    turnover_penalty: reward units (log return) charged per unit of equity traded, on top of the
        costs already in equity: the reward of a step that trades |target - position| is lowered by
        `turnover_penalty * |target - position|`. It shapes training (`agents.TrainConfig` sets
        it); equity never pays it, and at 0, the default, the rewards are the plain log returns.
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

    window_size: Annotated[int, Field(ge=1, description="an int >= 1")] = 5
    mode: Annotated[Mode, Field(description="'long_only' or 'long_short'")] = "long_only"
    long_only_positions: LongOnlyPositions = (0.0, 0.5, 1.0)
    long_short_positions: LongShortPositions = (-1.0, 0.0, 1.0)
    cost_model: Annotated[CostModel, Field(description="a CostModel")] = CostModel()
    rebalance_band: Annotated[
        float, Field(ge=0.0, lt=2.0, allow_inf_nan=False, description="a fraction in [0, 2)")
    ] = 0.1
    turnover_penalty: Annotated[
        float, Field(ge=0.0, lt=1.0, allow_inf_nan=False, description="in [0, 1)")
    ] = 0.0
    reward: Annotated[RewardKind, Field(description="'log_return' or 'differential_sharpe'")] = (
        "log_return"
    )
    dsr_eta: Annotated[float, Field(gt=0.0, lt=1.0, description="in (0, 1)")] = 0.01
    episode_length: Annotated[int | None, Field(ge=1, description="None or an int >= 1")] = None
    initial_cash: Annotated[
        float, Field(gt=0.0, allow_inf_nan=False, description="a number > 0")
    ] = 100_000.0
    observation_clip: Annotated[
        float,
        Field(
            ge=1.0,
            allow_inf_nan=False,
            description="a number >= 1 (the portfolio state spans [-1, 1])",
        ),
    ] = 10.0

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
