"""The backtest's PNG plots: equity curves with the learned hybrid's buys and sells, positions held
(exposure), drawdowns, and the hybrids' weights over time; every title names the symbol and the
period.

Drawn on `matplotlib.figure.Figure` rendered by the Agg canvas directly (no pyplot), as the
weights report does: no global backend or figure state, and nothing ever opens a window.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from envs import format_date
from orchestrator.runs import BacktestResult

IN_SAMPLE = " (IN-SAMPLE)"  # in every title of a run the agent trained on part of

_DPI = 120
_HYBRIDS = ("hybrid_fixed", "hybrid_learned")
MARKED = "hybrid_learned"  # the strategy whose fills the equity plot marks


PLOT_FILES = {
    "equity_plot": "equity.png",
    "position_plot": "positions.png",
    "drawdown_plot": "drawdowns.png",
    "weights_plot": "weights.png",
}


def save_plots(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """Write the `PLOT_FILES` into `out_dir`; returns them by name."""
    files = {key: out_dir / name for key, name in PLOT_FILES.items()}
    _save(_equity_figure(result), files["equity_plot"])
    _save(_position_figure(result), files["position_plot"])
    _save(_drawdown_figure(result), files["drawdown_plot"])
    _save(_weights_figure(result), files["weights_plot"])
    return files


def title(result: BacktestResult, what: str) -> str:
    """The symbol and the period, then `what`: every plot says what it covers."""
    dates = next(iter(result.strategies.values())).frame.index
    period = f"{format_date(dates[0])} to {format_date(dates[-1])}"
    return f"{result.symbol} {period}{IN_SAMPLE if result.in_sample else ''}: {what}"


def _equity_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for name, run in result.strategies.items():
        axes.plot(run.frame.index, run.frame["equity"], label=name, linewidth=1.2)
    if MARKED in result.strategies:
        run = result.strategies[MARKED]
        for side, marker, color in ((1.0, "^", "green"), (-1.0, "v", "red")):
            dates = [fill.date for fill in run.fills if fill.shares * side > 0.0]
            label = f"{MARKED} {'buys' if side > 0 else 'sells'}"
            equity = run.frame["equity"].loc[dates]
            axes.scatter(dates, equity, marker=marker, color=color, s=24, zorder=3, label=label)
    axes.set_ylabel("equity")
    axes.set_title(title(result, "equity after costs"))
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    return figure


def _position_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    for name, run in result.strategies.items():
        axes.step(run.frame.index, run.frame["held_position"], where="post", label=name)
    axes.set_ylabel("position held (x equity)")
    axes.set_title(title(result, "exposure, the position held over each bar"))
    axes.legend(fontsize="small")
    figure.autofmt_xdate()
    return figure


def _drawdown_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    for name, run in result.strategies.items():
        equity = run.frame["equity"]
        axes.plot(run.frame.index, 100.0 * (equity / equity.cummax() - 1.0), label=name)
    axes.set_ylabel("drawdown from peak (%)")
    axes.set_title(title(result, "drawdowns"))
    axes.legend()
    figure.autofmt_xdate()
    return figure


def _weights_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    hybrids = [name for name in _HYBRIDS if name in result.strategies]
    for name in hybrids:
        frame = result.strategies[name].frame
        axes.plot(frame.index, frame["drl_weight"], label=f"{name}: DRL weight")
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    axes.set_ylim(0.0, 1.0)
    axes.set_ylabel("DRL weight (LLM weight = 1 - DRL weight)")
    axes.set_title(title(result, "hybrid weights over time"))
    if hybrids:
        axes.legend()
    figure.autofmt_xdate()
    return figure


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=_DPI)
