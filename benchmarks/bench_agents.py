"""Do the DRL agents earn their keep? Turnover, Sharpe against buy-and-hold, confidence AUC.

    python -m benchmarks.bench_agents --out benchmarks/bench_agents.md [--timesteps 50000]

Agents: DQN and PPO, `--seeds` (default 0,1,2), each trained on `--train-data` (default sp500;
several comma-separated sources are pooled, the first validating) with the defaults of
`python train.py` (train 1999-2010, calibration hold-out 2011-2012, validation 2013-2014 for the
best-model and switch-margin choices) for `--timesteps` steps; training several seeds also
writes their ensemble. The agent directories are cached under `--work`, keyed by algorithm,
training data, seeds and timesteps; `--retrain` trains again. Every agent, each seed's and the
ensemble, is then evaluated (`agents.training.evaluation.evaluate_agent`, costs on, the agent's
normaliser: sp500's, or for a pooled agent each series' own) on the test split of each
`--series`: sp500 and nasdaq 2015-2018, the packaged stocks their last 20%.

Targets, judged as measured (every figure after costs, no choice reads a test split):

1. trades per year <= 25 on the sp500 test years, default settings (seed mean and ensemble);
2. DRL mean Sharpe over the seeds >= buy-and-hold's on at least 2 of the series, and
   >= 0.8 x buy-and-hold's on the others (taken literally: with a negative buy-and-hold Sharpe,
   0.8 x it is the higher bar);
3. test AUC of the confidence >= 0.6 on sp500, DQN and PPO (seed mean and ensemble).

Wall times are printed, never judged.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from agents import DRLAgent, TrainConfig, split_with_history, train_agents
from agents.manifest import library_versions
from agents.storage import SEED_DIR_PREFIX
from agents.training.evaluation import AGENT, BUY_AND_HOLD, evaluate_agent
from envs import prepare_market

DEFAULT_SERIES = "sp500,nasdaq,aapl,amzn,nvda"
TRAIN_SOURCE = "sp500"
MAX_TRADES_PER_YEAR = 25.0
SERIES_BEATEN = 2
SHARE_OF_BUY_AND_HOLD = 0.8
MIN_AUC = 0.6


@dataclass(frozen=True)
class Cell:
    """One agent on one series' test split: the figures the targets read."""

    sharpe: float
    trades_per_year: float
    auc: float | None
    hold_sharpe: float


def agent_directory(args: argparse.Namespace, algo: str) -> Path:
    """Train (or reuse) the agents of `algo`; the directory of their ensemble."""
    seeds = args.seeds.replace(",", "-")
    data = args.train_data.replace(",", "+")
    out = args.work / f"{algo}-{data}-seeds{seeds}-{args.timesteps}"
    if args.retrain and out.exists():
        shutil.rmtree(out)
    if not (out / "manifest.json").is_file():
        started = time.perf_counter()
        config = TrainConfig.model_validate(
            {
                "algo": algo,
                "data": args.train_data,
                "out": out,
                "timesteps": args.timesteps,
                "seeds": args.seeds,
            }
        )
        train_agents(config, progress_bar=False)
        print(f"{algo}: trained in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def evaluate(directory: Path, series: str) -> Cell:
    """The agent of `directory` over `series`'s test split."""
    agent = DRLAgent.load(directory)
    prepared = prepare_market(series, normalizer=agent.feature_normalizer())
    market = split_with_history(prepared, "test", agent.env_config.window_size)
    strategies = evaluate_agent(agent, market, "test").strategies
    mine, hold = strategies[AGENT], strategies[BUY_AND_HOLD]
    return Cell(
        sharpe=mine["sharpe"] or 0.0,
        trades_per_year=mine["trades_per_year"] or 0.0,
        auc=mine["auc"],
        hold_sharpe=hold["sharpe"] or 0.0,
    )


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {sd:.2f}"


def report(args: argparse.Namespace) -> str:
    series = args.series.split(",")
    lines = [
        "## DRL agents against buy-and-hold (`python -m benchmarks.bench_agents`)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in library_versions().items())
        + f". Agents trained on {args.train_data}, {args.timesteps:,} timesteps per seed,"
        f" seeds {args.seeds}, package defaults; test splits, after costs.",
        "",
    ]
    targets = []
    for algo in args.algos.split(","):
        root = agent_directory(args, algo)
        members = sorted(root.glob(f"{SEED_DIR_PREFIX}*"))
        lines += [
            f"### {algo.upper()}",
            "",
            "| series | buy-and-hold Sharpe | DRL Sharpe (seeds) | ensemble Sharpe"
            " | trades/yr (seeds) | ensemble trades/yr | AUC (seeds) | ensemble AUC |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        sharpes: dict[str, list[tuple[float, float]]] = {"seed-mean": [], "ensemble": []}
        for name in series:
            cells = [evaluate(member, name) for member in members]
            ensemble = evaluate(root, name)
            hold = ensemble.hold_sharpe
            drl = statistics.fmean(c.sharpe for c in cells)
            aucs = [c.auc for c in cells if c.auc is not None]
            lines.append(
                f"| {name} | {hold:.2f} | {mean_sd([c.sharpe for c in cells])}"
                f" | {ensemble.sharpe:.2f} | {mean_sd([c.trades_per_year for c in cells])}"
                f" | {ensemble.trades_per_year:.1f}"
                f" | {mean_sd(aucs) if aucs else 'n/a'}"
                f" | {'n/a' if ensemble.auc is None else f'{ensemble.auc:.3f}'} |"
            )
            sharpes["seed-mean"].append((drl, hold))
            sharpes["ensemble"].append((ensemble.sharpe, hold))
            if name == TRAIN_SOURCE:
                trades = statistics.fmean(c.trades_per_year for c in cells)
                targets.append(
                    f"| {algo.upper()}: trades/yr on sp500 test <= {MAX_TRADES_PER_YEAR:.0f}"
                    f" | seeds {trades:.1f}, ensemble {ensemble.trades_per_year:.1f}"
                    f" | {_met(trades <= MAX_TRADES_PER_YEAR)}"
                    f" / {_met(ensemble.trades_per_year <= MAX_TRADES_PER_YEAR)} |"
                )
                auc = statistics.fmean(aucs) if aucs else 0.0
                targets.append(
                    f"| {algo.upper()}: test AUC on sp500 >= {MIN_AUC}"
                    f" | seeds {auc:.3f}, ensemble {ensemble.auc or 0.0:.3f}"
                    f" | {_met(auc >= MIN_AUC)} / {_met((ensemble.auc or 0.0) >= MIN_AUC)} |"
                )
            print(lines[-1], flush=True)
        targets += [sharpe_target(algo, who, pairs) for who, pairs in sharpes.items()]
        lines.append("")
    lines += [
        "### Targets",
        "",
        "| target | figure | met |",
        "|---|---|---|",
        *targets,
        "",
    ]
    return "\n".join(lines)


def sharpe_target(algo: str, who: str, pairs: list[tuple[float, float]]) -> str:
    """The Sharpe target's row: (DRL, buy-and-hold) Sharpe per series."""
    beaten = sum(drl >= hold for drl, hold in pairs)
    close = sum(drl >= hold or drl >= SHARE_OF_BUY_AND_HOLD * hold for drl, hold in pairs)
    return (
        f"| {algo.upper()}: {who} Sharpe >= B&H on >= {SERIES_BEATEN} series,"
        f" >= {SHARE_OF_BUY_AND_HOLD} x B&H on the others"
        f" | beats on {beaten} of {len(pairs)}; beats or within {SHARE_OF_BUY_AND_HOLD} x"
        f" on {close} of {len(pairs)} | {_met(beaten >= SERIES_BEATEN and close == len(pairs))} |"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=50_000, help="per seed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--algos", default="dqn,ppo")
    parser.add_argument("--series", default=DEFAULT_SERIES)
    parser.add_argument("--train-data", default=TRAIN_SOURCE, help="sources, comma-separated")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_agents"))
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
