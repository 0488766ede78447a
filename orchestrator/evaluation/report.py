"""The evaluation's report: evaluation.json, evaluation.md, heatmap.png and seeds.png.

The summary says in words, per series, which strategy has the best pooled Sharpe, in how many
windows it beat buy and hold, and whether that is significant: the SPA test against buy and hold
at 5% and the deflated Sharpe ratio at 0.95. Drawn on Agg figures directly, as the backtest's
plots are (no pyplot, nothing opens a window).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.evaluation.statistics import SIGNIFICANCE
from orchestrator.evaluation.store import write_json_atomically
from orchestrator.runs import BUY_AND_HOLD

DEFLATED_SHARPE_LEVEL = 0.95
_DPI = 110


def write_evaluation_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write the report's files into `out`; returns them by name."""
    files = {
        "json": out / "evaluation.json",
        "markdown": out / "evaluation.md",
        "heatmap": out / "heatmap.png",
        "seeds": out / "seeds.png",
    }
    write_json_atomically(files["json"], report)
    files["markdown"].write_text(evaluation_markdown(report), encoding="utf-8")
    _save(_heatmap(report), files["heatmap"])
    _save(_seed_spread(report), files["seeds"])
    return files


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Per series: the winner, where it wins, and whether it is significant."""
    lines = []
    for source, series in report["statistics"]["series"].items():
        strategies = series["strategies"]
        best = max(strategies, key=lambda label: strategies[label]["pooled_sharpe"])
        hold = strategies[BUY_AND_HOLD]
        n_years = len(series["years"])
        winners = ", ".join(f"{year} {label}" for year, label in series["best_by_year"].items())
        if best == BUY_AND_HOLD:
            verdict = (
                f"{source}: buy_and_hold has the best pooled Sharpe ({hold['pooled_sharpe']:.2f})"
                f" over {n_years} test year(s); no strategy beats it"
            )
            any_p = series["spa_any_pvalue"]
            if any_p is not None:
                verdict += f" (SPA p = {any_p:.2f} that any does)"
        else:
            stats = strategies[best]
            p_value, deflated = stats["spa_pvalue"], stats["deflated_sharpe"]
            significant = p_value < SIGNIFICANCE and deflated >= DEFLATED_SHARPE_LEVEL
            verdict = (
                f"{source}: {best} has the best pooled Sharpe, {stats['pooled_sharpe']:.3f}"
                f" against buy_and_hold's {hold['pooled_sharpe']:.3f}, and beat buy_and_hold in"
                f" {stats['windows_beating_buy_and_hold']} of {n_years} test year(s); SPA p ="
                f" {p_value:.2f}, deflated Sharpe {deflated:.2f} over {series['trials']} trials:"
                f" {'significant' if significant else 'not significant'} (that needs SPA p <"
                f" {SIGNIFICANCE} and a deflated Sharpe >= {DEFLATED_SHARPE_LEVEL})"
            )
        lines.append(f"{verdict}. Best per year: {winners}.")
    return lines


def evaluation_markdown(report: dict[str, Any]) -> str:
    spec = report["spec"]
    lines = [
        "# Walk-forward evaluation",
        "",
        f"Series {', '.join(spec['sources'])}; algorithms {', '.join(spec['algos'])}; seeds"
        f" {', '.join(map(str, spec['seeds']))}; {spec['timesteps']:,} training steps a cell;"
        f" LLM {spec['llm_mode']}. Each test year: trained on every bar before the year before"
        " it, validated on the year before it, backtested on the year alone, costs on.",
        "",
        "## Summary",
        "",
        *(f"- {line}" for line in summary_lines(report)),
        "",
    ]
    for source, series in report["statistics"]["series"].items():
        lines += [
            f"## {source}",
            "",
            f"Test years {', '.join(map(str, series['years']))}; {series['n_bars']} bars pooled;"
            f" {series['trials']} trials for the deflated Sharpe; SPA p-value that any strategy"
            f" beats buy_and_hold: {_number(series['spa_any_pvalue'])}.",
            "",
            "| strategy | Sharpe (mean ± sd) | return | max drawdown | turnover | trades | LLM $"
            " | pooled Sharpe [95% CI] | pooled annual return [95% CI]"
            " | pooled max drawdown [95% CI] | deflated Sharpe | SPA p vs buy_and_hold |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, stats in series["strategies"].items():
            mean, sd = stats["mean"], stats["sd"]
            lines.append(
                f"| {label} | {_pm(mean, sd, 'sharpe', '{:.2f}')}"
                f" | {_pm(mean, sd, 'total_return', '{:+.1%}')}"
                f" | {_pm(mean, sd, 'max_drawdown', '{:.1%}')}"
                f" | {_pm(mean, sd, 'turnover', '{:.1f}')}"
                f" | {_pm(mean, sd, 'trades', '{:.1f}')}"
                f" | {_pm(mean, sd, 'llm_usd', '{:.2f}')}"
                f" | {_with_interval(stats, 'pooled_sharpe', '{:.2f}')}"
                f" | {_with_interval(stats, 'pooled_annual_return', '{:+.1%}')}"
                f" | {_with_interval(stats, 'pooled_max_drawdown', '{:.1%}')}"
                f" | {stats['deflated_sharpe']:.2f} | {_number(stats['spa_pvalue'])} |"
            )
        lines.append("")
    lines += [
        "Mean ± sd over every cell (test years x seeds). Pooled: the test years in order, the"
        " seeds averaged bar by bar; its intervals: stationary bootstrap, 95%, percentile."
        " Deflated Sharpe: the probability that the true Sharpe is above what the best of the"
        " trials would show by luck. SPA: Hansen's test of superior predictive ability against"
        " buy_and_hold (p < 0.05: an edge unlikely to be luck).",
        "",
        "![Sharpe by test year and strategy](heatmap.png)",
        "",
        "![Sharpe of each seed](seeds.png)",
        "",
    ]
    return "\n".join(lines)


def _pm(mean: dict[str, Any], sd: dict[str, Any], metric: str, form: str) -> str:
    if mean[metric] is None:
        return "-"
    if sd[metric] is None:  # one cell: no spread to show
        return form.format(mean[metric])
    spread = form.replace("+", "").format(sd[metric])
    return f"{form.format(mean[metric])} ± {spread}"


def _with_interval(stats: dict[str, Any], name: str, form: str) -> str:
    """A pooled figure and its bootstrap interval (none with too few bars)."""
    interval = stats[f"{name}_ci"]
    shown = "" if interval is None else f" [{form.format(interval[0])}, {form.format(interval[1])}]"
    return f"{form.format(stats[name])}{shown}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _heatmap(report: dict[str, Any]) -> Figure:
    """Mean Sharpe over seeds, test years down, strategies across, one panel per series."""
    figure, labels, panels = _panels(report)
    for axes, source, series in panels:
        years = [str(year) for year in series["years"]]
        values = np.array(
            [
                [_nan(series["strategies"][label]["sharpe_by_year"][year]) for label in labels]
                for year in years
            ]
        )
        limit = max(float(np.nanmax(np.abs(values))), 1e-9) if np.isfinite(values).any() else 1.0
        image = axes.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
        axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        axes.set_yticks(range(len(years)), years)
        for (i, j), value in np.ndenumerate(values):
            axes.text(j, i, "-" if math.isnan(value) else f"{value:.2f}", ha="center", fontsize=7)
        axes.set_title(f"{source}: Sharpe by test year (mean over seeds)")
        figure.colorbar(image, ax=axes)
    figure.tight_layout()
    return figure


def _seed_spread(report: dict[str, Any]) -> Figure:
    """Each seed's pooled Sharpe per strategy (dots) and their mean (bar), per series."""
    figure, labels, panels = _panels(report)
    for axes, source, series in panels:
        for column, label in enumerate(labels):
            sharpes = list(series["strategies"][label]["sharpe_by_seed"].values())
            axes.bar(column, float(np.mean(sharpes)), color="lightsteelblue")
            axes.scatter([column] * len(sharpes), sharpes, color="navy", s=12, zorder=3)
        axes.axhline(0.0, color="grey", linewidth=0.8)
        axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        axes.set_ylabel("pooled Sharpe")
        axes.set_title(f"{source}: spread across seeds")
    figure.tight_layout()
    return figure


def _panels(report: dict[str, Any]) -> tuple[Figure, list[str], list[tuple[Axes, str, Any]]]:
    """A figure with one panel a series, stacked, sized for the strategies across: the figure,
    the strategy labels, and each panel's axes with its series' name and statistics."""
    all_series = report["statistics"]["series"]
    labels = list(next(iter(all_series.values()))["strategies"])
    figure = Figure(figsize=(1.1 * len(labels) + 3, 3.2 * len(all_series) + 0.5), dpi=_DPI)
    panels = [
        (figure.add_subplot(len(all_series), 1, row + 1), source, series)
        for row, (source, series) in enumerate(all_series.items())
    ]
    return figure, labels, panels


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path)
