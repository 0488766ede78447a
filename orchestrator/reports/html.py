"""report.html: the backtest's equity (with the learned hybrid's buys and sells), positions and
drawdowns as one interactive page, with plotly.js inside it: it opens offline, from anywhere."""

from __future__ import annotations

from pathlib import Path

from orchestrator.reports.plots import MARKED, title
from orchestrator.runs import BacktestResult


def save_html(result: BacktestResult, path: Path) -> Path:
    """Write the interactive report to `path` (zoom, pan and hover share the time axis)."""
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.5, 0.25, 0.25],
        subplot_titles=("equity after costs", "position held (x equity)", "drawdown (%)"),
    )
    for index, (name, run) in enumerate(result.strategies.items()):
        frame, equity = run.frame, run.frame["equity"]
        rows = (equity, frame["held_position"], 100.0 * (equity / equity.cummax() - 1.0))
        line = {"width": 1.3, "color": _COLORS[index % len(_COLORS)]}
        for row, values in enumerate(rows, start=1):
            figure.add_scatter(
                x=frame.index,
                y=values,
                name=name,
                legendgroup=name,
                showlegend=row == 1,
                line=line,
                row=row,
                col=1,
            )
    if MARKED in result.strategies:
        run = result.strategies[MARKED]
        for side, symbol, color in ((1.0, "triangle-up", "green"), (-1.0, "triangle-down", "red")):
            fills = [fill for fill in run.fills if fill.shares * side > 0.0]
            figure.add_scatter(
                x=[fill.date for fill in fills],
                y=run.frame["equity"].loc[[fill.date for fill in fills]],
                mode="markers",
                marker={"symbol": symbol, "color": color, "size": 9},
                name=f"{MARKED} {'buys' if side > 0 else 'sells'}",
                text=[f"{fill.shares:+,.2f} shares at {fill.price:,.2f}" for fill in fills],
                row=1,
                col=1,
            )
    figure.update_layout(
        title=title(result, "backtest"), height=900, hovermode="x unified", template="plotly_white"
    )
    figure.write_html(path, include_plotlyjs=True, full_html=True)
    return path


_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
