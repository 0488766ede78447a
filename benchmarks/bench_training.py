"""DQN and PPO on sp500: out-of-sample quality over seeds, and SB3 training speed vs CartPole.

    python -m benchmarks.bench_training --out benchmarks/bench_training.md

Quality: `train_agents` with the default settings of `python train.py` (train 1999-2010,
calibration hold-out 2011-2012, validation 2013-2014 for the best-model and switch-margin
choices, test 2015-2018), costs on, one run per seed; the test split's metrics after costs, mean
+- sample std over seeds, beside buy-and-hold through the same env and costs.

Speed: SB3 `learn()` timesteps per second, our batched env (VecMonitor, as in training) against
`CartPole-v1` (`make_vec_env`: Monitor + DummyVecEnv), with the same algorithm, hyperparameters,
hidden layers and number of envs, interleaved in the same run; best of `--repeats` timings each.
The networks differ only in their input layer: our observation has window_size x 15 + 2 numbers
(77 with the default 5-bar window), CartPole's 4. A third column pads CartPole's observation with
zeros to our size, so that the networks are equal too and the ratio against it isolates what the
env itself costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from agents import AgentResult, TrainConfig, train_agents
from agents.config import ALGORITHMS
from agents.manifest import library_versions
from agents.training.evaluation import AGENT, BUY_AND_HOLD
from agents.training.market_data import training_setup
from agents.training.sb3_models import build_model
from agents.training.seed_summary import format_mean_std, mean_std
from envs import BatchedTradingEnv

SPEED_TARGET = 0.9
_QUALITY_COLUMNS = (
    ("sharpe", "Test Sharpe"),
    ("sortino", "Test Sortino"),
    ("total_return", "Test total return"),
    ("max_drawdown", "Test max drawdown"),
    ("n_trades", "Test trades"),
    ("trades_per_year", "Test trades/yr"),
    ("auc", "Test confidence AUC"),
)


def quality_row(config: TrainConfig) -> tuple[str, list[AgentResult]]:
    """The Markdown row of one algorithm over its seeds, and the raw results."""
    results = train_agents(config, progress_bar=False).members
    cells = [
        format_mean_std(mean_std([r.test.strategies[AGENT][key] for r in results]))
        for key, _ in _QUALITY_COLUMNS
    ]
    validation = format_mean_std(mean_std([r.validation["sharpe"] for r in results]))
    return f"| {config.algo.upper()} | " + " | ".join([*cells, validation]) + " |", results


def buy_and_hold_row(result: AgentResult) -> str:
    hold = result.test.strategies[BUY_AND_HOLD]
    cells = ["-" if hold.get(key) is None else f"{hold[key]:.3f}" for key, _ in _QUALITY_COLUMNS]
    return "| Buy and hold | " + " | ".join([*cells, "-"]) + " |"


class PadObservation(gym.ObservationWrapper):
    """CartPole's observation followed by zeros, `size` numbers in all."""

    def __init__(self, env: gym.Env, size: int) -> None:
        super().__init__(env)
        low = np.full(size, -np.inf, dtype=np.float32)
        low[:4] = env.observation_space.low
        self.observation_space = gym.spaces.Box(low, -low, dtype=np.float32)
        self._padding = np.zeros(size - 4, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.concatenate([observation, self._padding])


def steps_per_second(config: TrainConfig, env: VecEnv, timesteps: int) -> float:
    """Timesteps per second of one SB3 `learn()` of `timesteps` on `env`."""
    model = build_model(config, env, seed=0, tensorboard_log=None)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    return model.num_timesteps / (time.perf_counter() - start)


def speed_row(config: TrainConfig, timesteps: int, repeats: int) -> tuple[str, int]:
    """Markdown row of our env vs CartPole-v1 (as is, and padded to our size) for one algorithm,
    and the size of our observation."""
    markets, env_config = training_setup(config)
    prepared = markets[0]
    rates: dict[str, list[float]] = {"ours": [], "cartpole": [], "padded": []}
    for _ in range(repeats):  # interleaved, so a slow moment of the machine hits every side
        trading = VecMonitor(BatchedTradingEnv(prepared.split("train"), env_config, config.n_envs))
        rates["ours"].append(steps_per_second(config, trading, timesteps))
        cart = make_vec_env("CartPole-v1", n_envs=config.n_envs, seed=0)
        rates["cartpole"].append(steps_per_second(config, cart, timesteps))
        padded = make_vec_env(
            "CartPole-v1",
            n_envs=config.n_envs,
            seed=0,
            wrapper_class=PadObservation,
            wrapper_kwargs={"size": trading.observation_space.shape[0]},
        )
        rates["padded"].append(steps_per_second(config, padded, timesteps))
    ours, cartpole, padded_rate = (max(rates[k]) for k in ("ours", "cartpole", "padded"))
    row = (
        f"| {config.algo.upper()} | {ours:,.0f} | {cartpole:,.0f} | {padded_rate:,.0f}"
        f" | {_ratio(ours / cartpole)} | {_ratio(ours / padded_rate)} |"
    )
    return row, trading.observation_space.shape[0]


def _ratio(value: float) -> str:
    return f"{value:.2f} ({'met' if value >= SPEED_TARGET else 'missed'})"


def report(args: argparse.Namespace) -> str:
    torch.set_num_threads(1)
    lines = [
        "## Training benchmark (`python -m benchmarks.bench_training`)",
        "",
        f"Machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores,"
        f" Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in library_versions().items())
        + ".",
        "",
        f"### Quality: sp500, default settings, {args.timesteps:,} timesteps per seed,"
        f" seeds {args.seeds}",
        "",
        "Test split 2015-2018, after costs (1 bp commission + 2 bp slippage per side);"
        " mean ± sample std over seeds.",
        "",
        "| Strategy | " + " | ".join(h for _, h in _QUALITY_COLUMNS) + " | Validation Sharpe |",
        "|---" * (len(_QUALITY_COLUMNS) + 2) + "|",
    ]
    hold_row = ""
    with tempfile.TemporaryDirectory() as tmp:
        for algo in ALGORITHMS:
            config = TrainConfig(
                algo=algo,
                data="sp500",
                out=Path(tmp) / algo,
                timesteps=args.timesteps,
                seeds=args.seeds,  # "0,1,2": TrainConfig parses and checks it
            )
            row, results = quality_row(config)
            lines.append(row)
            hold_row = buy_and_hold_row(results[0])
            per_seed = ", ".join(
                f"{r.label}: {r.test.strategies[AGENT]['sharpe']:.2f}" for r in results
            )
            print(f"{algo}: test Sharpe per seed {per_seed}", flush=True)
    lines += [hold_row, ""]
    lines += [
        f"### Speed: SB3 `learn()` timesteps/s, {args.speed_timesteps:,} timesteps,"
        f" best of {args.repeats}",
        "",
        "Same algorithm, hyperparameters, hidden layers (64, 64) and 8 envs on both sides;"
        f" target ratio >= {SPEED_TARGET}.",
        "",
    ]
    rows = []
    for algo in ALGORITHMS:
        config = TrainConfig(algo=algo, data="sp500", out=Path("unused"))
        row, inputs = speed_row(config, args.speed_timesteps, args.repeats)
        rows.append(row)
        print(row, flush=True)
    lines += [
        f"| Algorithm | Our env (steps/s) | CartPole-v1 | CartPole-v1 padded to our {inputs} inputs"
        " | Ours / CartPole | Ours / padded CartPole |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=100_000, help="per seed (quality)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--speed-timesteps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
