"""Steps per second of our trading envs beside gym-anytrading's `stocks-v0`, same run, same data.

    python -m benchmarks.bench_env --out benchmarks/bench_env.md

Data: the S&P 500 daily bars that `arch` ships (1999-2018, 5031 bars), loaded here directly so the
benchmark measures the environments and nothing else. Both sides get the same bars and a 30-bar
window; ours sees 15 features (the size of `envs.features.FEATURE_NAMES`: here z-scored log
returns over 15 horizons, since only their shape matters for speed), gym-anytrading its own two
(close and its difference). Both run full sequential passes, resetting at the end of the data,
with uniformly random actions drawn before timing; each rate is the best of several timed runs.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import gym_anytrading  # noqa: F401  (registers stocks-v0)
import gymnasium as gym
import numpy as np
import pandas as pd
from arch.data import sp500

from envs import TRADING_ENV_ID
from envs.batched_env import BatchedTradingEnv
from envs.env_config import EnvConfig
from envs.market_arrays import MarketArrays

WINDOW = 30
N_FEATURES = 15
SINGLE_TARGET = 2.0
BATCHED_TARGET = 50.0
SCALING_N_ENVS = 1024  # an extra, untargeted row: how the batched rate grows with copies


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
    """Steps per second of each runner: the fastest of `repeats` timed calls (the least disturbed).

    Runs are interleaved (a, b, c, a, b, c, ...) so that a slow spell of a shared machine hits
    every environment alike instead of skewing one ratio.
    """
    rates = dict.fromkeys(runners, 0.0)
    for run in runners.values():
        run()  # warm-up: first-call costs (checker wrappers, caches) are not the steady state
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            steps = run()
            rates[name] = max(rates[name], steps / (time.perf_counter() - start))
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
    for copies, name in ((n_envs, "batched"), (SCALING_N_ENVS, "batched_scaling")):
        batched = BatchedTradingEnv(market, config, n_envs=copies, seed=0)
        n_steps = batched_steps * n_envs // copies  # the same number of env steps for each
        actions = rng.integers(0, batched.action_space.n, (n_steps, copies))
        runners[name] = batched_runner(batched, actions)
    with warnings.catch_warnings():
        # gym-anytrading returns views of one array as observations; gymnasium warns about it.
        warnings.filterwarnings("ignore", message=".*share an object.*")
        return {**best_rates(runners, repeats), "n_bars": float(market.n_bars)}


def markdown_table(rates: dict[str, float], n_envs: int) -> str:
    base = rates["gym_anytrading"]
    single, batched = rates["single"] / base, rates["batched"] / base
    rows = [
        "| environment | steps/s | vs gym-anytrading | target | met |",
        "|---|---:|---:|---:|:---:|",
        f"| gym-anytrading `stocks-v0` (gymnasium.make) | {base:,.0f} | 1.0x | | |",
        f"| `{TRADING_ENV_ID}` (gymnasium.make) | {rates['single']:,.0f} | {single:.1f}x"
        f" | {SINGLE_TARGET:.0f}x | {'yes' if single >= SINGLE_TARGET else 'no'} |",
        f"| `BatchedTradingEnv`, {n_envs} copies (aggregate) | {rates['batched']:,.0f}"
        f" | {batched:.1f}x | {BATCHED_TARGET:.0f}x"
        f" | {'yes' if batched >= BATCHED_TARGET else 'no'} |",
        f"| `BatchedTradingEnv`, {SCALING_N_ENVS} copies (aggregate, for scale)"
        f" | {rates['batched_scaling']:,.0f} | {rates['batched_scaling'] / base:.1f}x | | |",
    ]
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    note = (
        f"\nS&P 500 daily bars from `arch` ({rates['n_bars']:.0f} bars), window {WINDOW},"
        f" random actions, costs on, best of several runs; {machine}.\n"
    )
    return "\n".join(rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--steps", type=int, default=100_000, help="single-env steps per run")
    parser.add_argument("--batched-steps", type=int, default=5_000, help="vectorised steps per run")
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
