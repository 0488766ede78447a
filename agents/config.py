"""Training options, typed and checked once, with defaults chosen for daily-bar trading.

Why these defaults (the env: daily bars, a 5-bar window of ~15 z-scored features, 3 actions,
rewards that are daily log returns of about 1e-2 and mostly noise):
- a 5-bar window (77 inputs): the features already sum up 1 to 50 bars each, and on the
  validation splits of five series 10-, 20- and 30-bar windows did no better (DQN and PPO, five
  seeds; docs/DESIGN_NOTES.md); a narrower input layer also trains PPO about a fifth faster.
- a small MLP (64, 64): the signal is weak, and a bigger net only memorises the ~3,300 training
  bars of sp500; it also keeps CPU training fast.
- gamma 0.9 (a horizon of about 10 bars): long enough to pay back a trade's costs, short enough
  that the targets are not dominated by the noise of returns weeks away.
- 8 parallel envs with episodes of a year of bars (252 daily bars) from random starts:
  decorrelated experience from different market periods in every batch.
- DQN: learning rate 1e-4, a 100k replay buffer (every transition of a default run stays
  available), 1k warm-up steps, target network synced every 1k steps (SB3's 10k is too slow for
  runs of ~1e5 steps), epsilon from 1 to 0.05 over the first 30% of training, batches of 128 to
  average the noisy rewards.
- PPO: learning rate 3e-4, 256 steps per env (2,048 per update, SB3's default rollout size),
  batches of 256, 10 epochs, GAE lambda 0.95, clip 0.2, entropy bonus 0.01 so that the policy does
  not collapse onto one action before the noisy advantages say anything.
- Turnover: a rebalance band of 0.1 of equity (no order for a smaller change; exits always
  trade), a turnover penalty of 0.002 reward per unit of equity traded (the best mean validation
  Sharpe of DQN and PPO among 0.002-0.02), and a switch margin chosen on validation under a budget
  of 25 trades a year (see `agents.training.selection`).
- The last 504 train bars (two years) are held out of training to fit the confidence map, so
  that the validation split only selects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo

from agents.errors import AgentError, Loc, validation_message

Algorithm = Literal["dqn", "ppo"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
PositionMode = Literal["long_only", "long_short"]  # envs' EnvConfig.mode

DATA_PANEL, ENV_PANEL, TRAINING_PANEL = "Data", "Env and costs", "Training"
DQN_PANEL, PPO_PANEL = "DQN", "PPO"


@dataclass(frozen=True)
class OnCommandLine:
    """Marks a field as an option of `train`: the --help panel that lists it, and its flag where
    `--field-name` would be ambiguous (both algorithms have a batch size)."""

    panel: str
    flag: str | None = None


def option_flag(name: str, field: FieldInfo | None) -> str:
    """The flag that sets field `name`: `--field-name` unless its `OnCommandLine` says otherwise.

    Fields that are not on the command line are named the same way in error messages."""
    marks = [m for m in field.metadata if isinstance(m, OnCommandLine)] if field else []
    flag = marks[0].flag if marks else None
    return flag or "--" + name.replace("_", "-")


def _flag_at(loc: Loc, field: FieldInfo | None) -> str:
    names = [part for part in loc if isinstance(part, str)]
    return option_flag(names[-1], field) if names else "the training options"


class TrainingOptions(BaseModel):
    """Frozen options, no unknown names, no infinite or NaN number; a bad value is an AgentError
    naming its option."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="wrap")
    @classmethod
    def _errors_name_the_option(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            return handler(data)
        except ValidationError as exc:
            raise AgentError(validation_message(exc, cls, _flag_at)) from None


def _comma_separated(what: str, example: str) -> BeforeValidator:
    """Accept "64,64" for a tuple of ints, as the command line gives it."""

    def parse(value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return tuple(int(part) for part in value.split(","))
        except ValueError:
            raise ValueError(
                f"must be comma-separated {what} such as {example}, got {value!r}"
            ) from None

    return BeforeValidator(parse)


def parse_integer_ranges(text: str) -> tuple[int, ...]:
    """`0-4`, `0,1,2` or both (`0-2,7`) as the integers they name, in order: seeds, test years.
    Any other form is a ValueError saying which forms are read."""
    numbers: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ValueError(f"must be written as 0-4, 0,1,2 or both (0-2,7), got {text!r}")
        last = int(match[2] if match[2] is not None else match[1])
        numbers.extend(range(int(match[1]), last + 1))
    return tuple(numbers)


def _ranges(value: object) -> object:
    return parse_integer_ranges(value) if isinstance(value, str) else value


def _distinct(seeds: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"must not repeat a seed, got {seeds}")
    return seeds


def _distinct_sources(data: str) -> str:
    sources = data.split(",")
    if "" in sources or len(set(sources)) != len(sources):
        raise ValueError(f"must name distinct sources separated by single commas, got {data!r}")
    return data


class DQNParams(TrainingOptions):
    """DQN-only hyperparameters (see the module docstring for why these values)."""

    learning_rate: Annotated[float, Field(gt=0.0, le=1.0, description="Adam step size.")] = 1e-4
    buffer_size: Annotated[
        int, Field(ge=1, description="Replay buffer size."), OnCommandLine(DQN_PANEL)
    ] = 100_000
    learning_starts: Annotated[
        int, Field(ge=0, description="Env steps of random play before the first update.")
    ] = 1_000
    batch_size: Annotated[
        int,
        Field(ge=1, description="Minibatch size."),
        OnCommandLine(DQN_PANEL, "--dqn-batch-size"),
    ] = 128
    train_freq: Annotated[
        int, Field(ge=1, description="Env steps (of all envs at once) between gradient updates.")
    ] = 4
    gradient_steps: Annotated[int, Field(description="Gradient updates per update.")] = 1
    target_update_interval: Annotated[
        int, Field(ge=1, description="Steps between target syncs."), OnCommandLine(DQN_PANEL)
    ] = 1_000
    exploration_fraction: Annotated[
        float,
        Field(gt=0.0, le=1.0, description="Share of training to decay epsilon."),
        OnCommandLine(DQN_PANEL),
    ] = 0.3
    exploration_initial_eps: Annotated[
        float, Field(ge=0.0, le=1.0, description="First epsilon.")
    ] = 1.0
    exploration_final_eps: Annotated[
        float, Field(ge=0.0, le=1.0, description="Final epsilon."), OnCommandLine(DQN_PANEL)
    ] = 0.05


class PPOParams(TrainingOptions):
    """PPO-only hyperparameters (see the module docstring for why these values)."""

    learning_rate: Annotated[float, Field(gt=0.0, le=1.0, description="Adam step size.")] = 3e-4
    n_steps: Annotated[
        int,
        Field(ge=2, description="Rollout steps per env."),  # n_steps * n_envs per update
        OnCommandLine(PPO_PANEL),
    ] = 256
    batch_size: Annotated[
        int,
        Field(ge=2, description="Minibatch size."),
        OnCommandLine(PPO_PANEL, "--ppo-batch-size"),
    ] = 256
    n_epochs: Annotated[
        int, Field(ge=1, description="Epochs per update."), OnCommandLine(PPO_PANEL)
    ] = 10
    gae_lambda: Annotated[
        float, Field(ge=0.0, le=1.0, description="GAE bias-variance trade-off.")
    ] = 0.95
    clip_range: Annotated[float, Field(gt=0.0, description="Clip of the policy ratio.")] = 0.2
    ent_coef: Annotated[
        float, Field(ge=0.0, description="Entropy bonus."), OnCommandLine(PPO_PANEL)
    ] = 0.01


class TrainConfig(TrainingOptions):
    """One training job: data, env, algorithm, budget and where to write the agent.

    Each field's description is its `train --help` line. `start`/`end` cut the source;
    `validation_start`/`test_start` override its split dates (None keeps the source's defaults:
    see `envs.data.splits`). Costs are in basis points of traded notional. `timesteps` is per
    seed, counted over all parallel envs. `eval_freq` and `checkpoint_freq` are in timesteps.
    """

    algo: Annotated[
        Algorithm, Field(description="RL algorithm."), OnCommandLine(TRAINING_PANEL)
    ] = "dqn"
    data: Annotated[
        str,
        Field(
            min_length=1,
            description="sp500, nasdaq, aapl, amzn, nvda, msft, synthetic, or a CSV/Parquet"
            " path; several, comma-separated, are pooled in training (the first is validated,"
            " calibrated and tested).",
        ),
        AfterValidator(_distinct_sources),
        OnCommandLine(DATA_PANEL),
    ] = "sp500"
    out: Annotated[
        Path, Field(description="Agent directory to write."), OnCommandLine(TRAINING_PANEL)
    ] = Path("runs/agent")
    force: Annotated[
        bool,
        Field(description="Overwrite --out when it already holds files."),
        OnCommandLine(TRAINING_PANEL),
    ] = False
    timesteps: Annotated[
        int,
        Field(ge=1, description="Env steps per seed, over all envs."),
        OnCommandLine(TRAINING_PANEL),
    ] = 100_000
    seeds: Annotated[
        tuple[NonNegativeInt, ...],
        Field(min_length=1, description="Several seeds, e.g. 0,1,2 or 0-4 (overrides --seed)."),
        BeforeValidator(_ranges),
        AfterValidator(_distinct),
    ] = (0,)
    start: Annotated[
        str | None, Field(description="First date of data used."), OnCommandLine(DATA_PANEL)
    ] = None
    end: Annotated[
        str | None, Field(description="Last date of data used."), OnCommandLine(DATA_PANEL)
    ] = None
    date_format: Annotated[
        str | None,
        Field(
            min_length=1,
            description="strftime format of a file's dates, e.g. '%d/%m/%Y' (default: recognised).",
        ),
        OnCommandLine(DATA_PANEL),
    ] = None
    periods_per_year: Annotated[
        int | None,
        Field(
            ge=1, description="Bars in a year, for annualised metrics (default: from the dates)."
        ),
        OnCommandLine(DATA_PANEL),
    ] = None
    validation_start: Annotated[
        str | None,
        Field(description="First validation date (default: the source's)."),
        OnCommandLine(DATA_PANEL),
    ] = None
    test_start: Annotated[
        str | None,
        Field(description="First test date (default: the source's)."),
        OnCommandLine(DATA_PANEL),
    ] = None
    commission_bps: Annotated[
        float, Field(description="Commission, bp of traded notional."), OnCommandLine(ENV_PANEL)
    ] = 1.0
    slippage_bps: Annotated[
        float, Field(description="Slippage, bp of the fill price."), OnCommandLine(ENV_PANEL)
    ] = 2.0
    mode: Annotated[
        PositionMode, Field(description="Allowed positions."), OnCommandLine(ENV_PANEL)
    ] = "long_only"
    window_size: Annotated[
        int, Field(description="Bars of features per observation."), OnCommandLine(ENV_PANEL)
    ] = 5
    rebalance_band: Annotated[
        float,
        Field(description="No order within this fraction of equity of the position."),
        OnCommandLine(ENV_PANEL),
    ] = 0.1
    turnover_penalty: Annotated[
        float,
        Field(description="Training reward cut per unit of equity traded (log return)."),
        OnCommandLine(ENV_PANEL),
    ] = 0.002
    episode_length: Annotated[
        int | None,
        Field(ge=1, description="Bars per training episode (default: a year of the data's bars)."),
        OnCommandLine(ENV_PANEL),
    ] = None
    n_envs: Annotated[
        int,
        Field(ge=1, description="Parallel envs of the batched env."),
        OnCommandLine(TRAINING_PANEL),
    ] = 8
    gamma: Annotated[
        float, Field(gt=0.0, le=1.0, description="Discount factor."), OnCommandLine(TRAINING_PANEL)
    ] = 0.9
    net_arch: Annotated[
        tuple[PositiveInt, ...],
        Field(min_length=1, description="Hidden layer sizes of the MLP."),
        _comma_separated("layer sizes", "64,64"),
        OnCommandLine(TRAINING_PANEL),
    ] = (64, 64)
    max_trades_per_year: Annotated[
        float,
        Field(gt=0.0, description="Turnover budget on validation for the switch margin."),
        OnCommandLine(TRAINING_PANEL),
    ] = 25.0
    calibration_bars: Annotated[
        int,
        Field(ge=1, description="Last train bars held out of training to fit the confidence."),
        OnCommandLine(TRAINING_PANEL),
    ] = 504
    eval_freq: Annotated[
        int, Field(ge=1, description="Validate every N timesteps."), OnCommandLine(TRAINING_PANEL)
    ] = 10_000
    checkpoint_freq: Annotated[
        int,
        Field(ge=1, description="Checkpoint every N timesteps."),
        OnCommandLine(TRAINING_PANEL),
    ] = 50_000
    torch_threads: Annotated[int, Field(ge=1, description="CPU threads of torch.")] = 1
    dqn: DQNParams = DQNParams()
    ppo: PPOParams = PPOParams()

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources of `data`: training pools them; the first is validated, calibrated and
        tested."""
        return tuple(self.data.split(","))
