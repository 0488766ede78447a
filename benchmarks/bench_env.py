"""Steps per second of our trading envs beside gym-anytrading's `stocks-v0`, same run, same data.

    python -m benchmarks.bench_env --out benchmarks/bench_env.md

Data: the S&P 500 daily bars that `arch` ships (1999-2018, 5031 bars), loaded here directly so the
benchmark measures the environments and nothing else. Both sides get the same bars and a 30-bar
window, and `stocks-v0` is configured as registered (window 30, frame_bound (30, len(df))). The
observations differ, and the table says so: ours is 30 bars x 15 features (the size of
`envs.features.indicators.FEATURE_NAMES`: here z-scored log returns over 15 horizons, since only
their shape matters for speed) plus position and drawdown, 452 float32 in a fresh array every step;
gym-anytrading's is 30 bars x 2 (close and its difference), 60 float32 returned as a view of one
array, with no copy. Both run full sequential passes, resetting at the end of the data, with
uniformly random actions drawn before timing; each rate is the best of several timed runs,
interleaved so that a slow spell of the machine hits every environment alike, and each run takes
about as long as the others (the best of many short runs would favour them). An extra row runs the
batched env as training does (random-start episodes of TRAINING_EPISODE_LENGTH bars), where the
copies read windows spread over the data instead of the same bar.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import gym_anytrading  # noqa: F401  (registers stocks-v0)
import gymnasium as gym
import numpy as np
import pandas as pd
from arch.data import sp500

from envs import TRADING_ENV_ID, BatchedTradingEnv, EnvConfig, MarketArrays

WINDOW = 30
N_FEATURES = 15
BATCHED_TARGET = 50.0
SCALING_N_ENVS = 1024  # an extra, untargeted row: how the batched rate grows with copies
TRAINING_EPISODE_LENGTH = 252  # agents' default: random-start episodes of one trading year
THEIR_OBSERVATION = f"{WINDOW}x2 = {WINDOW * 2} float32, a view"
OUR_OBSERVATION = f"{WINDOW}x{N_FEATURES}+2 = {WINDOW * N_FEATURES + 2} float32, fresh"


def load_sp500() -> pd.DataFrame:
    """arch's S&P 500 bars with the capitalised columns gym-anytrading expects."""
    return sp500.load()[["Open", "High", "Low", "Close", "Volume"]].astype(float)


def market_arrays(bars: pd.DataFrame) -> MarketArrays:
    """Our view of the same bars: causal log-return features over horizons 1..15, z-scored."""
    log_close = np.log(bars["Close"].to_numpy())
    columns = []
    for horizon in range(1, N_FEATURES + 1):
        change = np.zeros_like(log_close)
        change[horizon:] = log_close[horizon:] - log_close[:-horizon]
        columns.append(change / change.std())
    return MarketArrays(
        dates=bars.index.to_numpy().astype("datetime64[ns]"),
        open=bars["Open"].to_numpy(),
        high=bars["High"].to_numpy(),
        low=bars["Low"].to_numpy(),
        close=bars["Close"].to_numpy(),
        volume=bars["Volume"].to_numpy(),
        features=np.column_stack(columns).astype(np.float32),
        feature_names=tuple(f"log_return_{h}" for h in range(1, N_FEATURES + 1)),
    )


def best_rates(runners: dict[str, Callable[[], int]], repeats: int) -> dict[str, float]:
    """Steps per CPU second of each runner: the fastest of `repeats` timed calls.

    Every environment here runs in this one thread, so on an idle machine CPU time is wall time;
    on a shared one, CPU time leaves out the spells when other processes hold the core, which
    wall time charges to whichever run they happen to fall in. Runs are also interleaved
    (a, b, c, a, b, c, ...) so that a slow spell hits every environment alike.
    """
    rates = dict.fromkeys(runners, 0.0)
    for run in runners.values():
        run()  # warm-up: first-call costs (checker wrappers, caches) are not the steady state
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.process_time()
            steps = run()
            rates[name] = max(rates[name], steps / (time.process_time() - start))
    return rates


def single_env_runner(env: gym.Env, actions: list[int]) -> Callable[[], int]:
    """A loop over `actions` through `env.step`, resetting at each episode's end."""

    def run() -> int:
        env.reset(seed=0)
        step, reset = env.step, env.reset
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                reset()
        return len(actions)

    return run


def batched_runner(env: BatchedTradingEnv, actions: np.ndarray) -> Callable[[], int]:
    """`len(actions)` vectorised steps; returns the aggregate number of env steps."""

    def run() -> int:
        env.reset()
        for batch in actions:
            env.step(batch)
        return actions.size

    return run


def measure(steps: int, batched_steps: int, n_envs: int, repeats: int) -> dict[str, float]:
    bars = load_sp500()
    market = market_arrays(bars)
    config = EnvConfig(window_size=WINDOW)  # costs on, long-only, full sequential pass
    rng = np.random.default_rng(0)
    ours = gym.make(TRADING_ENV_ID, market=market, config=config)
    theirs = gym.make("stocks-v0", df=bars, window_size=WINDOW, frame_bound=(WINDOW, len(bars)))
    our_actions = rng.integers(0, ours.action_space.n, steps).tolist()
    their_actions = rng.integers(0, theirs.action_space.n, steps).tolist()
    runners = {
        "gym_anytrading": single_env_runner(theirs, their_actions),
        "single": single_env_runner(ours, our_actions),
    }
    training = replace(config, episode_length=TRAINING_EPISODE_LENGTH)
    for copies, name, env_config in (
        (n_envs, "batched", config),
        (SCALING_N_ENVS, "batched_scaling", config),
        (n_envs, "batched_training", training),
    ):
        batched = BatchedTradingEnv(market, env_config, n_envs=copies, seed=0)
        n_steps = batched_steps * n_envs // copies  # the same number of env steps for each
        actions = rng.integers(0, batched.action_space.n, (n_steps, copies))
        runners[name] = batched_runner(batched, actions)
    with warnings.catch_warnings():
        # gym-anytrading returns views of one array as observations; gymnasium warns about it.
        warnings.filterwarnings("ignore", message=".*share an object.*")
        return {**best_rates(runners, repeats), "n_bars": float(market.n_bars)}


def markdown_table(rates: dict[str, float], n_envs: int) -> str:
    base = rates["gym_anytrading"]

    def row(label: str, name: str, observation: str, target: float | None = None) -> str:
        ratio = rates[name] / base
        goal = " | " if target is None else f"{target:.0f}x | {'yes' if ratio >= target else 'no'}"
        return f"| {label} | {observation} | {rates[name]:,.0f} | {ratio:.1f}x | {goal} |"

    rows = [
        "| environment | observation | steps/s | vs gym-anytrading | target | met |",
        "|---|---|---:|---:|---:|:---:|",
        row("gym-anytrading `stocks-v0` (gymnasium.make)", "gym_anytrading", THEIR_OBSERVATION),
        # The single env is for evaluation and written for reading: its speed is reported only.
        row(f"`{TRADING_ENV_ID}` (gymnasium.make)", "single", OUR_OBSERVATION),
        row(
            f"`BatchedTradingEnv`, {n_envs} copies (aggregate)",
            "batched",
            OUR_OBSERVATION,
            BATCHED_TARGET,
        ),
        row(
            f"`BatchedTradingEnv`, {SCALING_N_ENVS} copies (aggregate, for scale)",
            "batched_scaling",
            OUR_OBSERVATION,
        ),
        row(
            f"`BatchedTradingEnv`, {n_envs} copies, random-start {TRAINING_EPISODE_LENGTH}-bar"
            " episodes as in training (aggregate)",
            "batched_training",
            OUR_OBSERVATION,
        ),
    ]
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
        f" (load {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}"
    )
    note = (
        f"\nS&P 500 daily bars from `arch` ({rates['n_bars']:.0f} bars), window {WINDOW},"
        f" random actions, costs on, steps per CPU second, best of several interleaved runs;"
        f" {machine}.\n"
    )
    return "\n".join(rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--steps", type=int, default=100_000, help="single-env steps per run")
    parser.add_argument(
        "--batched-steps",
        type=int,
        default=40_000,
        help="vectorised steps per run (the default makes a run as long as a single-env run:"
        " on a shared machine the best of many short runs would favour the shorter ones)",
    )
    parser.add_argument("--n-envs", type=int, default=64, help="copies in the batched env")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best counts")
    args = parser.parse_args()
    rates = measure(args.steps, args.batched_steps, args.n_envs, args.repeats)
    table = markdown_table(rates, args.n_envs)
    print(table)
    if args.out is not None:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
