"""A 4-year daily hybrid backtest with the offline analyst: wall time, and every strategy.

    python -m benchmarks.bench_backtest --out benchmarks/bench_backtest.md [--agent DIR]

Without `--agent`, a DQN agent is trained first with the defaults of `python train.py` on sp500
(train 1999-2012, validation 2013-2014), `--timesteps` steps, seed 0; training is not timed.
Timed: `run_backtest` over the test split, 2015-2018 (1,006 bars after the decision at the last
close of 2014), every strategy in lockstep through the bar engine, every LLM call through the
real gateway and its SQLite ledger with the offline analyst, then the report (metrics with the
bootstrap, CSV, plots). Targets: the backtest under 30 s, and under 45 s with the trade memory on
(it is: `hybrid_memory` is one of the strategies). Then hybrid_learned and hybrid_memory alone,
each in its own run, so the memory's own cost is a ratio measured in the same process. Then the
metrics table, after costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from agents import DRLAgent, TrainConfig, train_agents
from agents.manifest import library_versions
from llm import build_analyst_team, load_settings
from orchestrator.reports.backtest import backtest_metrics, metrics_markdown, write_backtest_report
from orchestrator.runs.backtest import BacktestConfig, run_backtest
from orchestrator.trader.market import load_trading_market

TARGET_S = 30.0
MEMORY_TARGET_S = 45.0
SOURCE = "sp500"


def trained_agent(directory: Path, timesteps: int, algo: str) -> Path:
    config = TrainConfig(algo=algo, data=SOURCE, out=directory / "agent", timesteps=timesteps)
    print(f"training {algo} on {SOURCE}, {timesteps:,} steps (not timed) ...", flush=True)
    train_agents(config, progress_bar=False)
    return config.out


def report(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        agent_dir = args.agent or trained_agent(directory, args.timesteps, args.algo)
        agent = DRLAgent.load(agent_dir)
        market = load_trading_market(agent, SOURCE)
        settings = load_settings(
            {"LLM_LEDGER_PATH": str(directory / "ledger.sqlite")}, env_file=None
        )
        with build_analyst_team("offline", settings=settings) as team:
            load_before = os.getloadavg()[0]
            started, cpu_started = time.perf_counter(), time.process_time()
            result = run_backtest(agent, market, team)
            backtest_s = time.perf_counter() - started
            backtest_cpu_s = time.process_time() - cpu_started
            alone = dict.fromkeys(("hybrid_learned", "hybrid_memory"), float("inf"))
            for _ in range(2):  # alternated, the faster of two: the load of a shared machine moves
                for name in alone:
                    started = time.perf_counter()
                    run_backtest(agent, market, team, BacktestConfig(strategies=(name,)))
                    alone[name] = min(alone[name], time.perf_counter() - started)
        started = time.perf_counter()
        write_backtest_report(result, directory / "report")
        report_s = time.perf_counter() - started
    metrics = backtest_metrics(result)
    calls = sum(s["llm_calls"] for s in metrics["strategies"].values())
    run = metrics["run"]
    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    origin = f"--agent {args.agent}" if args.agent else f"{args.timesteps:,} steps, seed 0"
    lines = [
        "## Backtest benchmark (`python -m benchmarks.bench_backtest`)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {versions}.",
        f"Agent: {agent.algorithm.upper()} ({origin}).",
        "",
        f"### Speed: {run['n_bars']:,} daily bars ({run['first_decision']} to {run['last_bar']}),"
        " every strategy, offline analyst",
        "",
        "| Part | Wall time | Target | Ratio to target |",
        "|---|---|---|---|",
        f"| run_backtest | {backtest_s:.1f} s | < {TARGET_S:.0f} s |"
        f" {backtest_s / TARGET_S:.2f} ({'met' if backtest_s < TARGET_S else 'missed'}) |",
        f"| run_backtest, with the memory on (hybrid_memory among them) | {backtest_s:.1f} s |"
        f" < {MEMORY_TARGET_S:.0f} s | {backtest_s / MEMORY_TARGET_S:.2f}"
        f" ({'met' if backtest_s < MEMORY_TARGET_S else 'missed'}) |",
        f"| report (metrics, bootstrap, CSV, plots) | {report_s:.1f} s | - | - |",
        "",
        "Alone, each in its own run (the faster of two, alternated): hybrid_learned"
        f" {alone['hybrid_learned']:.1f} s,"
        f" hybrid_memory {alone['hybrid_memory']:.1f} s"
        f" ({alone['hybrid_memory'] / alone['hybrid_learned']:.2f}x: the memory's own cost, its"
        " reflection calls and recalls included).",
        "",
        f"CPU time of run_backtest (this process, all threads): {backtest_cpu_s:.1f} s; load"
        f" average when it started: {load_before:.2f} on {os.cpu_count()} cores (wall time above"
        " it includes waiting for the CPU when other processes run).",
        "",
        f"{calls:,} LLM calls through the gateway (analyst-team calls and execution checks),"
        f" {1e3 * backtest_s / (run['n_bars'] + 1) / len(metrics['strategies']):.2f} ms per"
        " strategy-bar.",
        "",
        "### Quality: " + metrics_markdown(metrics).removeprefix("# "),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", type=Path, help="an agent directory (default: train one)")
    parser.add_argument("--algo", choices=("dqn", "ppo"), default="dqn")
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
