"""The backtest on disk: metrics.json, equity.csv, metrics.md and the plots, in one folder.

Metrics come from `envs.performance` (the same code as the agents' evaluation), computed on the
equity at each close from the first decision on and the target held over each bar, except
`n_trades`, which is the number of fills (every fill counts, the risk manager's forced exits and
trims too). The Sharpe ratio gets a
seeded stationary-bootstrap confidence interval, so its noise is on the page: four years of daily
returns rarely tell two Sharpe ratios apart. `run.order_checks` says which strategies' orders
passed through the risk manager and which through the LLM execution check. LLM figures: usable
answers apart from failed attempts; dollars in all, of which execution checks, per decision the
team was asked for and per order the strategy proposed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs import format_date, performance_metrics, sharpe_confidence_interval
from llm import usd
from orchestrator.errors import ReportError
from orchestrator.memory import MEMORY_FILE, write_memory_file
from orchestrator.reports.html import save_html
from orchestrator.reports.plots import IN_SAMPLE, PLOT_FILES, save_plots
from orchestrator.reports.staging import staged_report
from orchestrator.reports.trades import trade_metrics, trades_table
from orchestrator.runs import BacktestResult, StrategyResult

RISK_MANAGER, EXECUTION_CHECK = "risk_manager", "execution_check"
TRADES_DEFINITION = (
    "Fills: every fill counts, entries, exits, rebalances and the risk"
    " manager's forced exits and trims alike."
)

IN_SAMPLE_WARNING = (
    "**In-sample**: the agent trained or was selected on some of these bars, so its figures (and"
    " the hybrids') flatter it; judge it on bars after its validation split."
)

_LEARNER_NAMES = {
    "hedge": "AdaHedge",
    "hedge_delayed": "delayed AdaHedge (its bound on the weights each decision was traded with)",
    "thompson": "Thompson sampling",
}
BOOTSTRAP_REPS = 1000
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_SEED = 0

# Each table column: metrics.json key, label, format, and the definition metrics.md prints.
_TABLE = (
    ("total_return", "Total return", "{:+.2%}", "equity at the end over the start, less 1 (%)"),
    ("cagr", "CAGR", "{:+.2%}", "total return compounded to a year of bars (%/year)"),
    ("annual_volatility", "Ann. vol", "{:.2%}", "std of bar returns x sqrt(bars a year) (%)"),
    ("sharpe", "Sharpe", "{:.2f}", "mean over std of bar returns, annualised (no risk-free rate)"),
    ("sharpe_ci", "Sharpe 95% CI", "[{:.2f}, {:.2f}]", "stationary-bootstrap 95% interval"),
    ("sortino", "Sortino", "{:.2f}", "mean bar return over downside deviation, annualised"),
    ("max_drawdown", "Max drawdown", "{:.2%}", "worst fall of equity from a running peak (%)"),
    ("calmar", "Calmar", "{:.2f}", "CAGR over the max drawdown's size"),
    ("win_rate", "Win rate (bars)", "{:.1%}", "share of bars in the market whose return was > 0"),
    ("turnover", "Turnover (x equity)", "{:.1f}", "sum of position changes, in equity multiples"),
    ("n_trades", "Fills", "{:d}", "orders filled (see below)"),
    (
        "kill_switch_halts",
        "Kill-switch halts",
        "{:d}",
        "times the drawdown kill switch flattened the account and paused it",
    ),
    ("bars_halted", "Bars halted", "{:d}", "bars the kill switch held the account flat"),
    ("llm_calls", "LLM answers", "{:d}", "usable LLM answers"),
    ("llm_failed_attempts", "LLM failed attempts", "{:d}", "LLM attempts that failed"),
    ("llm_cost_usd", "LLM $", usd, "dollars spent on LLM calls"),
    ("llm_check_cost_usd", "of which execution checks", usd, "dollars of execution checks"),
    ("llm_usd_per_ask", "LLM $ per decision", usd, "decision dollars per decision asked"),
    ("llm_usd_per_order", "check $ per order", usd, "check dollars per order proposed"),
)
_TRADE_TABLE = (
    ("round_trips", "Trades", "{:d}", "round trips: flat to a position and back (trades.csv)"),
    ("trade_win_rate", "Win rate (trades)", "{:.1%}", "share of trades with a profit (%)"),
    ("avg_win", "Avg win", "{:+.2%}", "mean net return of the winning trades (%)"),
    ("avg_loss", "Avg loss", "{:+.2%}", "mean net return of the losing trades (%)"),
    ("profit_factor", "Profit factor", "{:.2f}", "winning trades' profit over losers' loss"),
    ("avg_bars_held", "Avg bars held", "{:.1f}", "bars from a trade's entry fill to its exit"),
    ("exposure", "Time in market", "{:.1%}", "share of bars with a position held (%)"),
    ("avg_abs_position", "Avg exposure", "{:.2f}", "mean |position| held, x equity"),
)


def strategy_metrics(
    run: StrategyResult, periods_per_year: int, *, seed: int = BOOTSTRAP_SEED
) -> dict[str, Any]:
    """Every metric of one strategy (see the module docstring), annualised with
    `periods_per_year` (bars in a year); strict-JSON values."""
    equity = run.frame["equity"].to_numpy()
    held = run.frame["held_position"].to_numpy()[1:]
    halted = run.frame["halted"].to_numpy(dtype=bool)
    base = performance_metrics(equity, held, periods_per_year)
    interval = sharpe_confidence_interval(
        equity[1:] / equity[:-1] - 1.0,
        level=BOOTSTRAP_LEVEL,
        reps=BOOTSTRAP_REPS,
        seed=seed,
        periods_per_year=periods_per_year,
    )
    activity = run.activity
    return {
        "total_return": base["total_return"],
        "cagr": base["annual_return"],
        "annual_volatility": base["annual_volatility"],
        "sharpe": base["sharpe"],
        "sharpe_ci": None if interval is None else list(interval),
        "sortino": base["sortino"],
        "max_drawdown": base["max_drawdown"],
        "calmar": base["calmar"],
        "win_rate": base["win_rate"],
        "turnover": base["turnover"],
        "n_trades": activity.fills,
        "kill_switch_halts": _halts(halted),
        "bars_halted": int(np.count_nonzero(halted)),
        "n_bars": base["n_bars"],
        "final_equity": float(equity[-1]),
        "llm_calls": activity.llm_calls,
        "llm_failed_attempts": activity.llm_failed,
        "llm_cost_usd": activity.llm_cost_usd,
        "llm_check_cost_usd": activity.llm_check_cost_usd,
        "llm_usd_per_ask": _per(activity.llm_cost_usd - activity.llm_check_cost_usd, run.llm_asks),
        "llm_usd_per_order": _per(
            activity.llm_check_cost_usd, activity.orders_sent + activity.orders_vetoed
        ),
        "llm_asks": run.llm_asks,
        "orders_sent": activity.orders_sent,
        "orders_vetoed": activity.orders_vetoed,
        "fills": activity.fills,
        **trade_metrics(run),
        **_learner_metrics(run),
        **_memory_metrics(run),
    }


def _halts(halted: np.ndarray) -> int:
    """How many times the kill switch halted the account: bars halted after a bar that was not."""
    before = np.concatenate(([False], halted[:-1]))
    return int(np.count_nonzero(halted & ~before))


def _memory_metrics(run: StrategyResult) -> dict[str, Any]:
    """For a strategy with a trade memory: the trades it closed and the lessons written, with
    the memory's win rate and mean net return (the memory's own trades: a run of decisions on
    one side, see `orchestrator.memory`), and the recalls shown to the analysts."""
    if run.memory is None:
        return {}
    returns = [trade.net_return for trade in run.memory.trades]
    return {
        "memory": {
            "trades": len(returns),
            "lessons": len(run.memory.lessons),
            "recalls": len(run.memory.recalls),
            "win_rate": sum(r > 0.0 for r in returns) / len(returns) if returns else None,
            "mean_net_return": sum(returns) / len(returns) if returns else None,
        }
    }


def _learner_metrics(run: StrategyResult) -> dict[str, Any]:
    """For a strategy that learns weights: its final DRL weight, each source's own book's
    log-wealth as the learner scored it, the better source, and the learner's regret bound on the
    mixture's log-wealth against that source (log-wealth units; AdaHedge's covers its weights at
    scoring time, delayed AdaHedge's the weights traded; None for Thompson sampling); for a
    hybrid, the reliability of
    the LLM's stated confidence (`LLMConfidenceCalibrator.reliability`, one row per bin)."""
    reliability = {}
    if run.llm_calibrator is not None:
        rows = run.llm_calibrator.reliability()
        reliability = {"llm_reliability": [row.model_dump() for row in rows]}
    if run.learner is None:
        return reliability
    books = run.learner.book_log_wealth
    return {
        "learner": run.learner.learner,
        "final_drl_weight": run.learner.drl_weight,
        "final_weights": run.learner.weights,
        "sources_log_wealth": books,
        "best_source": max(books, key=books.__getitem__),
        "regret_bound": run.learner.regret_bound,
        **reliability,
    }


def backtest_metrics(result: BacktestResult, *, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """The content of metrics.json: the run, then one entry per strategy."""
    frames = [run.frame for run in result.strategies.values()]
    dates = frames[0].index
    return {
        "run": {
            "source": result.source,
            "symbol": result.symbol,
            "agent": result.agent,
            "first_decision": format_date(dates[0]),
            "last_bar": format_date(dates[-1]),
            "n_bars": len(dates) - 1,
            "in_sample": result.in_sample,
            "learner": result.learner,
            "initial_cash": result.initial_cash,
            "periods_per_year": result.periods_per_year,
            "order_checks": {
                check: list(result.order_checks.get(check, ()))
                for check in (RISK_MANAGER, EXECUTION_CHECK)
            },
            "bootstrap": {
                "method": "stationary (arch), Politis-White mean block length, percentile",
                "reps": BOOTSTRAP_REPS,
                "level": BOOTSTRAP_LEVEL,
                "seed": seed,
            },
        },
        "strategies": {
            name: strategy_metrics(run, result.periods_per_year, seed=seed)
            for name, run in result.strategies.items()
        },
    }


def equity_table(result: BacktestResult) -> pd.DataFrame:
    """Long format, one row per bar and strategy: date (with the time of day for intraday bars),
    strategy, position, equity, the target held over the bar, the DRL weight, and whether the
    kill switch held the account flat."""
    parts = [
        run.frame.reset_index().assign(strategy=name) for name, run in result.strategies.items()
    ]
    table = pd.concat(parts, ignore_index=True)
    table["date"] = _as_text(table["date"])
    columns = ["date", "strategy", "position", "equity", "held_position", "drl_weight", "halted"]
    return table[columns]


def _as_text(dates: pd.Series) -> pd.Series:
    """Dates as the CSVs write them: with the time of day only for intraday bars."""
    daily = bool((dates == dates.dt.normalize()).all())
    return dates.dt.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S")


def metrics_markdown(metrics: dict[str, Any]) -> str:
    run = metrics["run"]
    mark = IN_SAMPLE if run["in_sample"] else ""
    lines = [
        f"# Backtest{mark}: {run['source']} ({run['symbol']}), {run['first_decision']} to"
        f" {run['last_bar']}",
        "",
        *([IN_SAMPLE_WARNING, ""] if mark else []),
        f"{run['n_bars']} bars after the first decision, {run['initial_cash']:,.0f} starting"
        " equity per strategy; every figure after costs, the same fill model for all. The"
        f" hybrids learn their weights by {_LEARNER_NAMES.get(run['learner'], run['learner'])}.",
        "",
        _order_checks_line(run["order_checks"], list(metrics["strategies"])),
        "",
        f"## Per bar{mark}",
        "",
        *_table(_TABLE, metrics["strategies"]),
        "",
        TRADES_DEFINITION,
        "",
        f"## Per trade{mark} (the list: trades.csv)",
        "",
        *_table(_TRADE_TABLE, metrics["strategies"]),
        "",
        "## What each figure means",
        "",
        *(f"- {label}: {definition}." for _, label, _, definition in _TABLE + _TRADE_TABLE),
        "",
    ]
    lines += _memory_section(metrics["strategies"], mark)
    lines += _reliability_section(metrics["strategies"], mark)
    return "\n".join(lines)


def _memory_section(strategies: dict[str, Any], mark: str) -> list[str]:
    """The trade memory of each strategy that kept one: its own trades (runs of decisions on one
    side, fill to fill), how they ended, and the lessons and recalls (memory.sqlite holds them)."""
    rows = [
        f"| {name} | {m['trades']} | {_cell(m['win_rate'], '{:.1%}')} |"
        f" {_cell(m['mean_net_return'], '{:+.2%}')} | {m['lessons']} | {m['recalls']} |"
        for name, entry in strategies.items()
        if (m := entry.get("memory")) is not None
    ]
    if not rows:
        return []
    return [
        f"## Trade memory{mark} (memory.sqlite)",
        "",
        "Trades as the memory keeps them: a run of the strategy's decisions on one side, fill to"
        " fill at the next opens, net of costs; recalls: the times the analysts were shown the"
        " similar past trades and lessons.",
        "",
        "| Strategy | Trades | Win rate | Mean net return | Lessons | Recalls |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def metrics_table(strategies: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The metrics named by `keys` (metrics.json's names) as metrics.md prints them, one row per
    strategy; the columns in metrics.md's order."""
    return _table(
        tuple(column for column in _TABLE + _TRADE_TABLE if column[0] in keys), strategies
    )


def _table(columns: tuple[tuple[str, str, Any, str], ...], strategies: dict[str, Any]) -> list[str]:
    """A markdown table, one row per strategy."""
    lines = [
        "| Strategy | " + " | ".join(label for _, label, _, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, values in strategies.items():
        cells = [_cell(values[key], fmt) for key, _, fmt, _ in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _reliability_section(strategies: dict[str, Any], mark: str) -> list[str]:
    """The LLM's stated confidence against its realized hit rate, from the learned hybrid's
    calibrator (the hybrids see the same views, so one is shown)."""
    named = [name for name, values in strategies.items() if "llm_reliability" in values]
    if not named:
        return []
    name = "hybrid_learned" if "hybrid_learned" in named else named[0]
    return [
        f"## How reliable the LLM's stated confidence was ({name}){mark}",
        "",
        *reliability_table(strategies[name]["llm_reliability"]),
        "",
    ]


def reliability_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows of an `LLMConfidenceCalibrator.reliability` table: per stated-confidence
    bin, the views scored, their mean stated confidence, the realized hit rate, and the
    calibrated confidence the hybrid used for that bin at the end."""
    lines = [
        "| stated confidence | views scored | mean stated | hit rate | calibrated |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        mean = "-" if row["mean_stated"] is None else f"{row['mean_stated']:.2f}"
        hit = "-" if row["hit_rate"] is None else f"{row['hit_rate']:.1%}"
        lines.append(
            f"| {row['lower']:.1f}-{row['upper']:.1f} | {row['n']} | {mean} | {hit} |"
            f" {row['calibrated']:.2f} |"
        )
    return lines


def _order_checks_line(checks: dict[str, list[str]], names: list[str]) -> str:
    """One line: which strategies went through the risk manager, which through the LLM's
    execution check, and which through neither."""
    risk, execution = checks[RISK_MANAGER], checks[EXECUTION_CHECK]
    neither = [name for name in names if name not in risk and name not in execution]
    return (
        f"Orders through the risk manager: {_names(risk)}; through the LLM execution check:"
        f" {_names(execution)}; through neither (pure, the same fills and costs):"
        f" {_names(neither)}."
    )


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


REPORT_FILES = (
    "metrics.json",
    "equity.csv",
    "trades.csv",
    "metrics.md",
    *PLOT_FILES.values(),
    "report.html",
    MEMORY_FILE,
)


def write_backtest_report(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """Write metrics.json, equity.csv, trades.csv, metrics.md, the PNG plots and report.html into
    `out_dir`, and the trade memory's trades and lessons into memory.sqlite (when a strategy kept
    one): all of them or, after an error or an interrupt, none (`staged_report`)."""
    with staged_report(out_dir, REPORT_FILES) as staging:
        files = _write_report_files(result, staging)
    return {key: out_dir / path.name for key, path in files.items()}


def _write_report_files(result: BacktestResult, folder: Path) -> dict[str, Path]:
    metrics = backtest_metrics(result)
    files = {
        "metrics": folder / "metrics.json",
        "equity": folder / "equity.csv",
        "trades": folder / "trades.csv",
        "table": folder / "metrics.md",
    }
    try:
        files["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
        equity_table(result).to_csv(files["equity"], index=False)
        trades = trades_table(result)
        trades[["entry_date", "exit_date"]] = trades[["entry_date", "exit_date"]].apply(_as_text)
        trades.to_csv(files["trades"], index=False)
        files["table"].write_text(metrics_markdown(metrics))
        files.update(save_plots(result, folder))
        files["html"] = save_html(result, folder / "report.html")
        for run in result.strategies.values():
            if run.memory is not None:  # hybrid_memory's: the only strategy keeping one
                files["memory"] = folder / MEMORY_FILE
                write_memory_file(files["memory"], run.memory)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot write the trade memory file: {exc}") from None
    return files


def _per(dollars: float, count: int) -> float | None:
    """`dollars` per one of `count` (None when there were none)."""
    return dollars / count if count else None


def _cell(value: Any, fmt: str | Callable[[float], str]) -> str:
    if value is None:
        return "n/a"
    if callable(fmt):
        return fmt(value)
    if isinstance(value, list):
        return fmt.format(*value)
    return fmt.format(value)
