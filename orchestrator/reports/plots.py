"""The backtest's PNG plots: equity curves, drawdowns, and the hybrids' weights over time.

Drawn on `matplotlib.figure.Figure` rendered by the Agg canvas directly (no pyplot), as the
weights report does: no global backend or figure state, and nothing ever opens a window.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.runs import BacktestResult

_DPI = 120
_HYBRIDS = ("hybrid_fixed", "hybrid_learned")


def save_plots(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """Write equity.png, drawdowns.png and weights.png into `out_dir`; returns them by name."""
    files = {
        "equity_plot": out_dir / "equity.png",
        "drawdown_plot": out_dir / "drawdowns.png",
        "weights_plot": out_dir / "weights.png",
    }
    _save(_equity_figure(result), files["equity_plot"])
    _save(_drawdown_figure(result), files["drawdown_plot"])
    _save(_weights_figure(result), files["weights_plot"])
    return files


def _equity_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for name, run in result.strategies.items():
        axes.plot(run.frame.index, run.frame["equity"], label=name, linewidth=1.2)
    axes.set_ylabel("equity")
    axes.set_title(f"{result.symbol}: equity after costs")
    axes.legend()
    figure.autofmt_xdate()
    return figure


def _drawdown_figure(result: BacktestResult) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    for name, run in result.strategies.items():
        equity = run.frame["equity"]
        axes.plot(run.frame.index, 100.0 * (equity / equity.cummax() - 1.0), label=name)
    axes.set_ylabel("drawdown from peak (%)")
    axes.set_title("Drawdowns")
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
    axes.set_title("Hybrid weights over time")
    if hybrids:
        axes.legend()
    figure.autofmt_xdate()
    return figure


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=_DPI)
