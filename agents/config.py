"""Training options, typed and checked once, with defaults chosen for daily-bar trading.

Why these defaults (the env: daily bars, a 30-bar window of ~15 z-scored features, 3 actions,
rewards that are daily log returns of about 1e-2 and mostly noise):
- a small MLP (64, 64): the signal is weak, and a bigger net only memorises the ~3,300 training
  bars of sp500; it also keeps CPU training fast.
- gamma 0.9 (a horizon of about 10 bars): long enough to pay back a trade's costs, short enough
  that the targets are not dominated by the noise of returns weeks away.
- 8 parallel envs with 252-bar (one trading year) episodes from random starts: decorrelated
  experience from different market periods in every batch.
- DQN: learning rate 1e-4, a 100k replay buffer (every transition of a default run stays
  available), 1k warm-up steps, target network synced every 1k steps (SB3's 10k is too slow for
  runs of ~1e5 steps), epsilon from 1 to 0.05 over the first 30% of training, batches of 128 to
  average the noisy rewards.
- PPO: learning rate 3e-4, 256 steps per env (2,048 per update, SB3's default rollout size),
  batches of 256, 10 epochs, GAE lambda 0.95, clip 0.2, entropy bonus 0.01 so that the policy does
  not collapse onto one action before the noisy advantages say anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from agents.errors import AgentError

Algorithm = Literal["dqn", "ppo"]
ALGORITHMS: tuple[Algorithm, ...] = ("dqn", "ppo")


@dataclass(frozen=True)
class DQNParams:
    """DQN-only hyperparameters (see the module docstring for why these values)."""

    learning_rate: float = 1e-4
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    batch_size: int = 128
    train_freq: int = 4  # env steps (of all envs at once) between gradient updates
    gradient_steps: int = 1
    target_update_interval: int = 1_000
    exploration_fraction: float = 0.3
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05

    def __post_init__(self) -> None:
        _require(self.learning_rate > 0.0, "--learning-rate", "positive")
        _require(self.buffer_size >= 1, "--buffer-size", "at least 1")
        _require(self.learning_starts >= 0, "--learning-starts", "at least 0")
        _require(self.batch_size >= 1, "--batch-size", "at least 1")
        _require(0.0 < self.exploration_fraction <= 1.0, "--exploration-fraction", "in (0, 1]")
        _require(0.0 <= self.exploration_final_eps <= 1.0, "--exploration-final-eps", "in [0, 1]")


@dataclass(frozen=True)
class PPOParams:
    """PPO-only hyperparameters (see the module docstring for why these values)."""

    learning_rate: float = 3e-4
    n_steps: int = 256  # per env, so n_steps * n_envs transitions per update
    batch_size: int = 256
    n_epochs: int = 10
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01

    def __post_init__(self) -> None:
        _require(self.learning_rate > 0.0, "--learning-rate", "positive")
        _require(self.n_steps >= 2, "--n-steps", "at least 2")
        _require(self.batch_size >= 2, "--batch-size", "at least 2")
        _require(self.n_epochs >= 1, "--n-epochs", "at least 1")
        _require(self.ent_coef >= 0.0, "--ent-coef", "non-negative")


@dataclass(frozen=True)
class TrainConfig:
    """One training job: data, env, algorithm, budget and where to write the agent.

    `start`/`end` cut the source; `validation_start`/`test_start` override its split dates
    (None keeps the source's defaults: see `envs.data.splits`). Costs are in basis points of traded
    notional. `timesteps` is per seed, counted over all parallel envs. `eval_freq` and
    `checkpoint_freq` are in timesteps.
    """

    algo: Algorithm
    data: str
    out: Path
    timesteps: int = 100_000
    seeds: tuple[int, ...] = (0,)
    start: str | None = None
    end: str | None = None
    validation_start: str | None = None
    test_start: str | None = None
    commission_bps: float = 1.0
    slippage_bps: float = 2.0
    mode: Literal["long_only", "long_short"] = "long_only"
    window_size: int = 30
    episode_length: int = 252
    n_envs: int = 8
    gamma: float = 0.9
    net_arch: tuple[int, ...] = (64, 64)
    eval_freq: int = 10_000
    checkpoint_freq: int = 50_000
    torch_threads: int = 1
    dqn: DQNParams = field(default_factory=DQNParams)
    ppo: PPOParams = field(default_factory=PPOParams)

    def __post_init__(self) -> None:
        _require(self.algo in ALGORITHMS, "--algo", f"one of {', '.join(ALGORITHMS)}")
        _require(bool(self.data), "--data", "a source name or a file path")
        _require(self.timesteps >= 1, "--timesteps", "at least 1")
        _require(len(self.seeds) >= 1, "--seeds", "at least one seed")
        _require(len(set(self.seeds)) == len(self.seeds), "--seeds", "distinct seeds")
        _require(all(s >= 0 for s in self.seeds), "--seeds", "non-negative integers")
        _require(self.n_envs >= 1, "--n-envs", "at least 1")
        _require(self.episode_length >= 1, "--episode-length", "at least 1")
        _require(0.0 < self.gamma <= 1.0, "--gamma", "in (0, 1]")
        _require(len(self.net_arch) >= 1, "--net-arch", "at least one layer")
        _require(all(n >= 1 for n in self.net_arch), "--net-arch", "positive layer sizes")
        _require(self.eval_freq >= 1, "--eval-freq", "at least 1")
        _require(self.checkpoint_freq >= 1, "--checkpoint-freq", "at least 1")
        _require(self.torch_threads >= 1, "--torch-threads", "at least 1")

    @property
    def learning_rate(self) -> float:
        """The learning rate of the chosen algorithm."""
        return self.dqn.learning_rate if self.algo == "dqn" else self.ppo.learning_rate

    def with_learning_rate(self, learning_rate: float | None) -> TrainConfig:
        """This config with the chosen algorithm's learning rate replaced (None keeps it)."""
        if learning_rate is None:
            return self
        if self.algo == "dqn":
            return replace(self, dqn=replace(self.dqn, learning_rate=learning_rate))
        return replace(self, ppo=replace(self.ppo, learning_rate=learning_rate))


def parse_seeds(text: str) -> tuple[int, ...]:
    """`"0,1,2"` -> (0, 1, 2); anything else is an AgentError naming `--seeds`."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise AgentError(
            f"--seeds must be comma-separated integers such as 0,1,2, got {text!r}"
        ) from None


def parse_layers(text: str) -> tuple[int, ...]:
    """`"64,64"` -> (64, 64); anything else is an AgentError naming `--net-arch`."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise AgentError(
            f"--net-arch must be comma-separated layer sizes such as 64,64, got {text!r}"
        ) from None


def _require(ok: bool, option: str, rule: str) -> None:
    if not ok:
        raise AgentError(f"{option} must be {rule}")
