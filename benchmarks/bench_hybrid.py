"""Does the hybrid earn its place? DQN and PPO, three seeds, six real daily series, offline analyst.

    python -m benchmarks.bench_hybrid --out benchmarks/bench_hybrid.md [--jobs 2]

Agents: DQN and PPO, seeds 0, 1, 2, each trained on sp500 with the defaults of `python train.py`
(train 1999-2012, validation 2013-2014) for `--timesteps` steps. The agent directories are cached
under `--work` (keyed by algorithm, seed and timesteps), so a re-run reuses them; `--retrain`
trains again. Each agent is then backtested with `orchestrator.jobs.backtest_agent` and the
offline analyst on the test split of six series the package loads without internet: sp500 and
nasdaq (2015-2018) and the packaged stocks aapl, amzn, nvda and msft (their last 20% of bars).
Every backtest has its own LLM ledger and no response cache. The (algorithm, seed, series) cells
run in `--jobs` worker processes: the training cells first, then the backtests.

Measured (from each backtest's metrics.json, every figure after costs), the targets of "The hybrid
earns its place", judged on `hybrid_learned`:

1. mean Sharpe over the seeds >= max(DRL mean, LLM mean) on at least 4 of 5 series (with more
   series: on 4 of the first five listed, and on >= 80% of all of them);
2. on every cell, the final log-wealth ln(final equity / initial cash) >= the best of DRL's and
   the LLM's minus the `regret_bound` (log-wealth units) the hybrid prints in its metrics; no
   printed bound is a miss;
3. on every cell, the hybrid's LLM asks <= the LLM-alone strategy's asks in the same backtest
   (LLM calls reported beside them);

plus mean Sharpe (± sample std over seeds), trades per year, and the risk manager's kill-switch
halts per series and strategy, with buy-and-hold beside everything. Beside target 1 stands a
ceiling, labelled hypothetical: the best Sharpe any fixed mix of the two sources' bar returns
reached on the test split itself (the mix chosen in hindsight, per cell), which shows how much
any learner of a fixed mix could gain over the better source at most. `--out FILE.md` writes the
report there and every number, one row per cell and strategy, to FILE.csv beside it. Wall times
are printed, never judged.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agents.config import ALGORITHMS, Algorithm
from orchestrator.trader.hedge import DEFAULT_LEARNER, LEARNERS

TRAIN_SOURCE = "sp500"
DEFAULT_SERIES = ("sp500", "nasdaq", "aapl", "amzn", "nvda", "msft")
DEFAULT_ALGOS = ("dqn", "ppo")
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_TIMESTEPS = 50_000
DEFAULT_WORK = Path("runs/bench_hybrid")
HYBRID = "hybrid_learned"  # the strategy the targets judge
EXPERTS = ("drl", "llm")  # what the hybrid must keep up with
BUY_AND_HOLD = "buy_and_hold"
MARKET_HYBRID = "hybrid_market"  # hybrid_learned with the market and cash experts
HEADROOM = 0.05  # Sharpe: a hindsight margin smaller than this leaves a learner nothing to find
HINDSIGHT = "hindsight_best_fixed_mix"  # bench-only: a ceiling for target 1, not a strategy
KNOWN_ORDER = (BUY_AND_HOLD, "drl", "llm", "hybrid_fixed", HYBRID, "hybrid_seed", MARKET_HYBRID)
TRADING_DAYS = 252
SHARE_OF_SERIES = 0.8  # target 1 over all series
FIRST_SERIES, FIRST_NEEDED = 5, 4  # target 1 over the first five series

Metrics = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Agent:
    algo: Algorithm
    seed: int
    timesteps: int

    def directory(self, work: Path) -> Path:
        return work / "agents" / f"{self.algo}-seed{self.seed}-{self.timesteps}"

    @property
    def label(self) -> str:
        return f"{self.algo} seed {self.seed}"


@dataclass(frozen=True)
class Cell:
    agent: Agent
    series: str

    def directory(self, work: Path) -> Path:
        a = self.agent
        return work / "backtests" / f"{a.algo}-seed{a.seed}-{a.timesteps}" / self.series

    @property
    def label(self) -> str:
        return f"{self.agent.label} on {self.series}"


# --- worker processes (module-level functions, so that "spawn" can pickle them) ---


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def train_cell(algo: Algorithm, seed: int, timesteps: int, out: str, threads: int) -> float:
    """Train one agent into `out` with the package's defaults; the wall time in seconds."""
    from agents import TrainConfig, train_agents

    _set_threads(threads)
    started = time.perf_counter()
    config = TrainConfig(
        algo=algo, data=TRAIN_SOURCE, out=Path(out), timesteps=timesteps, seeds=(seed,)
    )
    train_agents(config, progress_bar=False)
    return time.perf_counter() - started


def backtest_cell(
    agent_dir: str, series: str, out: str, threads: int, learner: str
) -> tuple[Metrics, float]:
    """Backtest the agent on `series`'s test split, offline analyst, own ledger, no cache; the
    hybrids learn their weights with `learner`."""
    from llm import load_settings
    from orchestrator.jobs import backtest_agent

    _set_threads(threads)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {"LLM_LEDGER_PATH": str(out_dir / "ledger.sqlite"), "LLM_CACHE_MODE": "off"},
        env_file=None,
    )
    started = time.perf_counter()
    output = backtest_agent(
        Path(agent_dir), series, "offline", out_dir, settings=settings, learner=learner
    )
    seconds = time.perf_counter() - started
    metrics: Metrics = json.loads(Path(output.files["metrics"]).read_text())
    metrics[HINDSIGHT] = best_fixed_mix_in_hindsight(
        Path(output.files["equity"]), metrics["run"]["periods_per_year"]
    )
    return metrics, seconds


def best_fixed_mix_in_hindsight(equity_csv: Path, periods_per_year: int) -> Metrics:
    """The highest Sharpe any fixed mix w * drl + (1 - w) * llm of the two sources' bar returns
    reached on this test split, and its w (grid of 0.01): a ceiling for target 1, chosen on the
    test split itself, so hypothetical, not a strategy."""
    import numpy as np
    import pandas as pd

    from envs import performance_metrics

    frame = pd.read_csv(equity_csv)
    books = {name: frame[frame["strategy"] == name] for name in EXPERTS}
    equity = {name: book["equity"].to_numpy(dtype=np.float64) for name, book in books.items()}
    returns = {name: e[1:] / e[:-1] - 1.0 for name, e in equity.items()}
    held = {
        name: book["held_position"].to_numpy(dtype=np.float64)[1:] for name, book in books.items()
    }
    best: Metrics = {"sharpe": -math.inf, "drl_weight": math.nan}
    for w in np.linspace(0.0, 1.0, 101):
        mixed = w * returns["drl"] + (1.0 - w) * returns["llm"]
        curve = np.concatenate([[1.0], np.cumprod(1.0 + mixed)])
        positions = w * held["drl"] + (1.0 - w) * held["llm"]
        sharpe = number(performance_metrics(curve, positions, periods_per_year)["sharpe"])
        if sharpe > best["sharpe"]:
            best = {"sharpe": sharpe, "drl_weight": float(w)}
    return best


# --- running the cells ---


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f} s] {message}", flush=True)


def run_pool(
    pool: ProcessPoolExecutor,
    items: Sequence[T],
    submit: Callable[[ProcessPoolExecutor, T], Future[R]],
    done: Callable[[T, R, int], None],
    name: Callable[[T], str],
) -> dict[T, R]:
    """Submit every item, call `done(item, result, n_done)` as each finishes; a failure names
    its item and stops the benchmark."""
    futures = {submit(pool, item): item for item in items}
    results: dict[T, R] = {}
    for future in as_completed(futures):
        item = futures[future]
        try:
            results[item] = future.result()
        except Exception as exc:
            for other in futures:
                other.cancel()
            raise RuntimeError(f"{name(item)} failed: {type(exc).__name__}: {exc}") from exc
        done(item, results[item], len(results))
    return results


def train_all(
    pool: ProcessPoolExecutor,
    agents: Sequence[Agent],
    args: argparse.Namespace,
    threads: int,
    clock: Clock,
) -> None:
    from agents.storage import EVALUATION_FILE

    todo = []
    for agent in agents:
        directory = agent.directory(args.work)
        # evaluation.json is the last file training writes: without it the folder is partial.
        if not args.retrain and (directory / EVALUATION_FILE).is_file():
            clock.log(f"cached {agent.label} ({agent.timesteps:,} steps): {directory}")
            continue
        shutil.rmtree(directory, ignore_errors=True)  # no stale best model from an earlier run
        todo.append(agent)
    if not todo:
        return
    clock.log(f"training {len(todo)} agent(s) on {TRAIN_SOURCE}, {args.jobs} worker(s) ...")
    run_pool(
        pool,
        todo,
        lambda p, a: p.submit(
            train_cell, a.algo, a.seed, a.timesteps, str(a.directory(args.work)), threads
        ),
        lambda a, seconds, n: clock.log(
            f"trained {a.label} ({a.timesteps:,} steps) in {seconds:.0f} s  [{n}/{len(todo)}]"
        ),
        lambda a: f"training {a.label}",
    )


def backtest_all(
    pool: ProcessPoolExecutor,
    cells: Sequence[Cell],
    args: argparse.Namespace,
    threads: int,
    clock: Clock,
) -> dict[Cell, Metrics]:
    for cell in cells:
        shutil.rmtree(cell.directory(args.work), ignore_errors=True)  # a fresh ledger each run
    clock.log(f"backtesting {len(cells)} cell(s), offline analyst, {args.jobs} worker(s) ...")
    results = run_pool(
        pool,
        cells,
        lambda p, c: p.submit(
            backtest_cell,
            str(c.agent.directory(args.work)),
            c.series,
            str(c.directory(args.work)),
            threads,
            args.learner,
        ),
        lambda c, r, n: clock.log(f"backtested {c.label} in {r[1]:.0f} s  [{n}/{len(cells)}]"),
        lambda c: f"backtest of {c.label}",
    )
    return {cell: metrics for cell, (metrics, _) in results.items()}


# --- numbers ---


def number(value: Any) -> float:
    """A metric as a float; None (a metric that could not be computed) is NaN."""
    return math.nan if value is None else float(value)


def log_wealth(metrics: Metrics, strategy: str) -> float:
    final = number(metrics["strategies"][strategy].get("final_equity"))
    initial = number(metrics["run"]["initial_cash"])
    return math.log(final / initial) if final > 0 and initial > 0 else math.nan


def trades_per_year(values: Metrics) -> float:
    bars = number(values.get("n_bars"))
    return number(values.get("n_trades")) * TRADING_DAYS / bars if bars > 0 else math.nan


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    data = list(values)
    if not data or any(math.isnan(v) for v in data):
        return math.nan, math.nan
    return statistics.fmean(data), statistics.stdev(data) if len(data) > 1 else math.nan


def fmt(value: float, spec: str = "{:.2f}") -> str:
    return "-" if math.isnan(value) else spec.format(value)


def fmt_mean_sd(values: Iterable[float], spec: str = "{:.2f}") -> str:
    mean, sd = mean_sd(values)
    return fmt(mean, spec) if math.isnan(sd) else f"{fmt(mean, spec)} ± {fmt(sd, spec)}"


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def strategy_names(results: dict[Cell, Metrics]) -> list[str]:
    """Every strategy present in any backtest: the known five first, then the others."""
    seen: list[str] = []
    for metrics in results.values():
        seen.extend(name for name in metrics["strategies"] if name not in seen)
    known = [name for name in KNOWN_ORDER if name in seen]
    return known + [name for name in seen if name not in KNOWN_ORDER]


def table(header: Sequence[str], rows: Iterable[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


@dataclass
class Study:
    """The results, indexed for the report."""

    results: dict[Cell, Metrics]
    algos: list[str]
    seeds: list[int]
    series: list[str]
    strategies: list[str]

    def cell_metrics(self, algo: str, seed: int, series: str) -> Metrics:
        return next(
            m
            for c, m in self.results.items()
            if (c.agent.algo, c.agent.seed, c.series) == (algo, seed, series)
        )

    def cells(self) -> list[tuple[str, int, str, Metrics]]:
        return [
            (algo, seed, series, self.cell_metrics(algo, seed, series))
            for algo in self.algos
            for seed in self.seeds
            for series in self.series
        ]

    def values(self, algo: str, series: str, strategy: str, key: str) -> list[float]:
        out = []
        for seed in self.seeds:
            found = self.cell_metrics(algo, seed, series)["strategies"].get(strategy)
            out.append(math.nan if found is None else number(found.get(key)))
        return out

    def hindsight_sharpes(self, algo: str, series: str) -> list[float]:
        """Each seed's best fixed drl/llm mix in hindsight (`best_fixed_mix_in_hindsight`)."""
        return [
            number(self.cell_metrics(algo, seed, series).get(HINDSIGHT, {}).get("sharpe"))
            for seed in self.seeds
        ]

    def trades_a_year(self, algo: str, series: str, strategy: str) -> list[float]:
        out = []
        for seed in self.seeds:
            found = self.cell_metrics(algo, seed, series)["strategies"].get(strategy)
            out.append(math.nan if found is None else trades_per_year(found))
        return out


# --- the report ---


def series_section(study: Study) -> list[str]:
    rows = []
    for series in study.series:
        metrics = study.cell_metrics(study.algos[0], study.seeds[0], series)
        run, hold = metrics["run"], metrics["strategies"].get(BUY_AND_HOLD, {})
        rows.append(
            [
                series,
                str(run.get("symbol", "")),
                f"{run['first_decision']} to {run['last_bar']}",
                f"{run['n_bars']:,}",
                fmt(number(hold.get("total_return")), "{:+.1%}"),
                fmt(number(hold.get("sharpe"))),
            ]
        )
    header = ["series", "symbol", "test period", "bars", "buy-and-hold return", "B&H Sharpe"]
    return table(header, rows, right_from=3)


def sharpe_section(study: Study, algo: str) -> list[str]:
    rows = [
        [series] + [fmt_mean_sd(study.values(algo, series, s, "sharpe")) for s in study.strategies]
        for series in study.series
    ]
    return table(["series", *study.strategies], rows)


def trades_section(study: Study, algo: str) -> list[str]:
    rows = [
        [series]
        + [fmt_mean_sd(study.trades_a_year(algo, series, s), "{:.0f}") for s in study.strategies]
        for series in study.series
    ]
    return table(["series", *study.strategies], rows)


def halts_section(study: Study, algo: str) -> list[str]:
    """Kill-switch halts summed over the seeds, with the bars they held the account flat."""

    def total(series: str, strategy: str, key: str) -> int:
        return int(sum(v for v in study.values(algo, series, strategy, key) if not math.isnan(v)))

    rows = [
        [series]
        + [
            f"{total(series, s, 'kill_switch_halts')} ({total(series, s, 'bars_halted')})"
            for s in study.strategies
        ]
        for series in study.series
    ]
    return table(["series", *study.strategies], rows)


@dataclass
class Verdict:
    target: str
    figure: str
    met: bool


def sharpe_target(study: Study, algo: str) -> tuple[Verdict, list[str]]:
    """Target 1 for one algorithm: the verdict and its table."""
    wins: list[bool] = []
    rows = []
    headroom: list[float] = []
    for series in study.series:
        hybrid = mean_sd(study.values(algo, series, HYBRID, "sharpe"))[0]
        experts = {e: mean_sd(study.values(algo, series, e, "sharpe"))[0] for e in EXPERTS}
        best = max(experts.values())  # NaN if either is NaN: then a miss
        won = hybrid >= best
        wins.append(won)
        hold = mean_sd(study.values(algo, series, BUY_AND_HOLD, "sharpe"))[0]
        ceiling = mean_sd(study.hindsight_sharpes(algo, series))[0]
        headroom.append(max(ceiling - best, 0.0))  # >= 0 but for rounding: w = 0, 1 are mixes
        rows.append(
            [series, fmt(hybrid)]
            + [fmt(experts[e]) for e in EXPERTS]
            + [fmt(hybrid - best, "{:+.2f}"), fmt(ceiling), fmt(headroom[-1], "{:+.2f}")]
            + [fmt(hold), verdict(won)]
        )
    n, count = len(wins), sum(wins)
    first = wins[:FIRST_SERIES]
    first_met = len(first) == FIRST_SERIES and sum(first) >= FIRST_NEEDED
    share_met = n > 0 and count >= SHARE_OF_SERIES * n
    if len(first) == FIRST_SERIES:
        first_text = (
            f"{sum(first)} of the first {FIRST_SERIES} ({', '.join(study.series[:FIRST_SERIES])}):"
            f" {verdict(first_met)} (needs {FIRST_NEEDED})"
        )
    else:
        first_text = f"only {n} series, the 4-of-5 reading needs five: MISS"
    share_text = f"{count} of {n} series ({count / n:.0%}): {verdict(share_met)} (needs >= 80%)"
    figure = f"{first_text}; {share_text}"
    header = ["series", f"{HYBRID} Sharpe"] + [f"{e} Sharpe" for e in EXPERTS]
    header += ["margin over the best", "hindsight mix Sharpe (hypothetical)", "its margin"]
    header += ["buy-and-hold Sharpe", "met"]
    small = sum(1 for margin in headroom if margin < HEADROOM)
    lines = [
        *table(header, rows),
        "",
        f"{algo.upper()}: {figure}. Hindsight mix: per seed, the fixed w * drl + (1 - w) * llm of"
        " the two sources' bar returns with the highest Sharpe on the test split itself, a"
        f" ceiling for any fixed mix and not a strategy; it clears the better source by less"
        f" than {HEADROOM} Sharpe on {small} of {len(headroom)} series.",
    ]
    target = f"1. {algo.upper()}: {HYBRID} mean Sharpe >= max(drl, llm) on 4 of 5 series"
    return Verdict(target, figure, first_met and share_met), lines


def regret_target(study: Study) -> tuple[Verdict, list[str]]:
    """Target 2: every cell's log-wealth within the printed regret bound of the best expert."""
    rows = []
    met_cells = 0
    unbounded = 0
    worst = -math.inf
    for algo, seed, series, metrics in study.cells():
        hybrid_values = metrics["strategies"].get(HYBRID, {})
        hybrid = log_wealth(metrics, HYBRID) if hybrid_values else math.nan
        experts = {
            e: log_wealth(metrics, e) if e in metrics["strategies"] else math.nan for e in EXPERTS
        }
        best = max(experts.values())
        shortfall = best - hybrid
        worst = max(worst, shortfall)
        bound = hybrid_values.get("regret_bound")
        if bound is None:
            unbounded += 1
            met, bound_text = False, "no bound printed"
        else:
            met, bound_text = shortfall <= float(bound), f"{float(bound):.4f}"
        met_cells += met
        hold = log_wealth(metrics, BUY_AND_HOLD) if BUY_AND_HOLD in metrics["strategies"] else 0.0
        rows.append(
            [algo, str(seed), series, fmt(hybrid, "{:+.4f}")]
            + [fmt(experts[e], "{:+.4f}") for e in EXPERTS]
            + [fmt(shortfall, "{:+.4f}"), bound_text]
            + [str(hybrid_values.get("best_source", "-")), fmt(hold, "{:+.4f}"), verdict(met)]
        )
    n = len(rows)
    figure = f"{met_cells} of {n} cells within the bound; worst shortfall {fmt(worst, '{:+.4f}')}"
    if unbounded:
        figure += f"; {unbounded} cell(s) with no bound printed"
    header = ["algo", "seed", "series", f"{HYBRID} ln W"] + [f"{e} ln W" for e in EXPERTS]
    header += ["shortfall (best - hybrid)", "regret_bound", "best_source", "B&H ln W", "met"]
    lines = [*table(header, rows, right_from=3), "", f"{figure}."]
    target = f"2. {HYBRID} ln W >= max(drl, llm) ln W - regret_bound, every cell"
    return Verdict(target, figure, met_cells == n), lines


def calls_target(study: Study) -> tuple[Verdict, list[str]]:
    """Target 3: the hybrid asks the LLM no more often than the LLM alone, every cell."""
    hybrids = [s for s in study.strategies if s.startswith("hybrid")]
    rows = []
    met_cells = 0
    ratios: list[float] = []
    for algo, seed, series, metrics in study.cells():
        strategies = metrics["strategies"]
        llm = strategies.get("llm", {})
        llm_asks = number(llm.get("llm_asks"))
        row = [algo, str(seed), series, fmt(llm_asks, "{:,.0f}")]
        row.append(fmt(number(llm.get("llm_calls")), "{:,.0f}"))
        for name in hybrids:
            values = strategies.get(name, {})
            row.append(fmt(number(values.get("llm_asks")), "{:,.0f}"))
            row.append(fmt(number(values.get("llm_calls")), "{:,.0f}"))
        hybrid_asks = number(strategies.get(HYBRID, {}).get("llm_asks"))
        met = hybrid_asks <= llm_asks  # False when either is missing (NaN)
        met_cells += met
        ratios.append(hybrid_asks / llm_asks if llm_asks > 0 else math.nan)
        row.append(fmt(ratios[-1]))
        row.append(verdict(met))
        rows.append(row)
    n = len(rows)
    worst = max((r for r in ratios if not math.isnan(r)), default=math.nan)
    figure = f"{met_cells} of {n} cells; worst {HYBRID} asks / llm asks {fmt(worst)}"
    header = ["algo", "seed", "series", "llm asks", "llm calls"]
    for name in hybrids:
        header += [f"{name} asks", f"{name} calls"]
    header += [f"{HYBRID} / llm asks", "met"]
    lines = [*table(header, rows, right_from=3), "", f"{figure}."]
    target = f"3. {HYBRID} LLM asks <= llm-alone LLM asks, every cell"
    return Verdict(target, figure, met_cells == n), lines


def market_section(study: Study) -> tuple[str, list[str]]:
    """Not a target: hybrid_market's log-wealth against buy and hold's minus its printed bound,
    every cell (its bound covers its four experts' books: drl, llm, market, cash)."""
    rows = []
    met_cells = 0
    for algo, seed, series, metrics in study.cells():
        values = metrics["strategies"].get(MARKET_HYBRID)
        if values is None:
            continue
        hybrid, hold = log_wealth(metrics, MARKET_HYBRID), log_wealth(metrics, BUY_AND_HOLD)
        bound = number(values.get("regret_bound"))
        met = hybrid >= hold - bound
        met_cells += met
        weights = values.get("final_weights", {})
        rows.append(
            [
                algo,
                str(seed),
                series,
                fmt(hybrid, "{:+.4f}"),
                fmt(hold, "{:+.4f}"),
                fmt(bound, "{:.4f}"),
                fmt(number(weights.get("market"))),
                fmt(number(values.get("sharpe"))),
                verdict(met),
            ]
        )
    header = ["algo", "seed", "series", f"{MARKET_HYBRID} ln W", "B&H ln W", "regret_bound"]
    header += ["final market weight", f"{MARKET_HYBRID} Sharpe", "within the bound"]
    figure = f"{met_cells} of {len(rows)} cells within the bound of buy and hold"
    return figure, [*table(header, rows, right_from=3), "", f"{figure}."]


def machine_line() -> str:
    from agents.manifest import library_versions

    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return (
        f"Machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPU cores,"
        f" load average {fmt(load)}, Python {platform.python_version()}, {versions}."
    )


def report(study: Study, args: argparse.Namespace, wall: dict[str, float]) -> str:
    sharpe = [sharpe_target(study, algo) for algo in study.algos]
    regret = regret_target(study)
    calls = calls_target(study)
    verdicts = [v for v, _ in sharpe] + [regret[0], calls[0]]
    seeds = ",".join(map(str, study.seeds))
    lines = [
        "## Hybrid benchmark (`python -m benchmarks.bench_hybrid`)",
        "",
        machine_line(),
        f"Agents: {', '.join(a.upper() for a in study.algos)}, seeds {seeds}, each trained on"
        f" {TRAIN_SOURCE} with the package defaults, {args.timesteps:,} timesteps. Backtests:"
        f" `backtest_agent`, offline analyst, own ledger, no cache; {args.jobs} worker(s);"
        f" weight learner: {args.learner}."
        f" Wall time: training {wall['train']:.0f} s, backtests {wall['backtest']:.0f} s (not"
        " judged).",
        "",
        "Test splits (buy-and-hold from the first cell):",
        "",
        *series_section(study),
        "",
        "### Targets",
        "",
        *table(
            ["target", "figure", "met"],
            [[v.target, v.figure, verdict(v.met)] for v in verdicts],
            right_from=3,
        ),
        "",
    ]
    for algo in study.algos:
        lines += [
            f"### {algo.upper()}: test Sharpe, mean ± sd over seeds {seeds}",
            "",
            *sharpe_section(study, algo),
            "",
        ]
    lines += ["### Target 1: mean Sharpe, hybrid against the best of drl and llm", ""]
    for algo, (_, part) in zip(study.algos, sharpe, strict=True):
        lines += [f"#### {algo.upper()}", "", *part, ""]
    lines += [
        "### Target 2: final log-wealth ln(final equity / initial cash), every cell",
        "",
        *regret[1],
        "",
        "### Target 3: LLM asks and calls in the same backtest, every cell",
        "",
        *calls[1],
        "",
    ]
    if MARKET_HYBRID in study.strategies:
        _, market_lines = market_section(study)
        lines += [
            f"### Not a target: {MARKET_HYBRID} (with the market and cash experts) against buy"
            " and hold",
            "",
            *market_lines,
            "",
        ]
    for algo in study.algos:
        lines += [
            f"### {algo.upper()}: trades per year ({TRADING_DAYS} bars), mean ± sd over seeds",
            "",
            *trades_section(study, algo),
            "",
        ]
    for algo in study.algos:
        lines += [
            f"### {algo.upper()}: kill-switch halts (bars held flat), summed over seeds",
            "",
            *halts_section(study, algo),
            "",
        ]
    return "\n".join(lines)


def write_csv(study: Study, path: Path) -> None:
    """One row per (algo, seed, series, strategy), every scalar metric, in a stable order."""
    rows: list[dict[str, Any]] = []
    for algo, seed, series, metrics in study.cells():
        run = metrics["run"]
        for strategy, values in metrics["strategies"].items():
            row: dict[str, Any] = {
                "algo": algo,
                "seed": seed,
                "series": series,
                "symbol": run.get("symbol"),
                "first_decision": run.get("first_decision"),
                "last_bar": run.get("last_bar"),
                "initial_cash": run.get("initial_cash"),
                "hindsight_mix_sharpe": metrics.get(HINDSIGHT, {}).get("sharpe"),
                "hindsight_mix_drl_weight": metrics.get(HINDSIGHT, {}).get("drl_weight"),
                "strategy": strategy,
                "log_wealth": log_wealth(metrics, strategy),
                "trades_per_year": trades_per_year(values),
            }
            for key, value in values.items():
                if key == "sharpe_ci":
                    low, high = value if value else (None, None)
                    row["sharpe_ci_low"], row["sharpe_ci_high"] = low, high
                elif isinstance(value, dict | list):
                    row[key] = json.dumps(value)
                else:
                    row[key] = value
            rows.append(row)
    fields: list[str] = []
    for row in rows:
        fields.extend(key for key in row if key not in fields)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default=",".join(DEFAULT_ALGOS), help="default: dqn,ppo")
    parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="default 0,1,2")
    parser.add_argument("--series", default=",".join(DEFAULT_SERIES), help="the test series")
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="agents and backtests")
    parser.add_argument("--retrain", action="store_true", help="train even if an agent is cached")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, help="write the Markdown here, the CSV beside it")
    parser.add_argument(
        "--learner",
        default=DEFAULT_LEARNER,
        choices=LEARNERS,
        help=f"how the hybrids learn their weights (default {DEFAULT_LEARNER})",
    )
    args = parser.parse_args()
    algos = [next((a for a in ALGORITHMS if a == name), None) for name in comma_list(args.algos)]
    series = comma_list(args.series)
    seeds = [int(s) for s in comma_list(args.seeds)]
    if not (algos and series and seeds) or args.jobs < 1 or args.timesteps < 1:
        parser.error("--algos, --seeds and --series need one value each; --jobs, --timesteps >= 1")
    known = [a for a in algos if a is not None]
    if len(known) < len(algos):
        parser.error(f"--algos: each of {', '.join(ALGORITHMS)}")
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    agents = [Agent(algo, seed, args.timesteps) for algo in known for seed in seeds]
    cells = [Cell(agent, name) for agent in agents for name in series]
    clock = Clock()
    clock.log(machine_line())
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        started = time.perf_counter()
        train_all(pool, agents, args, threads, clock)
        wall = {"train": time.perf_counter() - started}
        started = time.perf_counter()
        results = backtest_all(pool, cells, args, threads, clock)
        wall["backtest"] = time.perf_counter() - started
    study = Study(results, list(known), seeds, series, strategy_names(results))
    text = report(study, args, wall)
    print(text)
    csv_path = (args.out or args.work / "bench_hybrid.md").with_suffix(".csv")
    if args.out is not None:
        args.out.write_text(text)
    write_csv(study, csv_path)
    clock.log(f"per-cell CSV: {csv_path}")


if __name__ == "__main__":
    main()
