"""The weights report on disk: weights.json, three PNG plots and summary.md in one folder.

Plots are drawn on `matplotlib.figure.Figure` objects rendered by the Agg canvas directly: no
pyplot, so no global backend or figure state, and nothing ever opens a window.
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.reports.backtest import IN_SAMPLE_WARNING, metrics_table, reliability_table
from orchestrator.reports.plots import IN_SAMPLE as IN_SAMPLE_MARK
from orchestrator.reports.staging import staged_report
from orchestrator.reports.weights import WeightsReport
from orchestrator.runs.paper_config import IN_SAMPLE

_DPI = 120
_LABELS = {
    "hybrid": "hybrid (the account)",
    "hedge_mix": "learned mix (hypothetical)",
    "drl": "DRL's book (hypothetical)",
    "llm": "LLM's book (hypothetical)",
}


REPORT_FILES = {
    "json": "weights.json",
    "weights_plot": "weights.png",
    "pnl_plot": "pnl.png",
    "fixed_weight_plot": "fixed_weights.png",
    "summary": "summary.md",
}


def write_weights_report(report: WeightsReport, out_dir: Path) -> dict[str, Path]:
    """Write every file of the report into `out_dir` (created if needed): all of them or, after an
    error or an interrupt, none (`staged_report`); returns them by name."""
    with staged_report(out_dir, REPORT_FILES.values()) as staging:
        files = {key: staging / name for key, name in REPORT_FILES.items()}
        files["json"].write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
        _save(_weights_figure(report), files["weights_plot"])
        _save(_pnl_figure(report), files["pnl_plot"])
        _save(_fixed_weight_figure(report), files["fixed_weight_plot"])
        files["summary"].write_text(summary_markdown(report))
    return {key: out_dir / name for key, name in REPORT_FILES.items()}


def _unfinished_line(report: WeightsReport) -> str:
    return (
        f"**Unfinished run**: the journal holds {report.bars_traded:,} of the"
        f" {report.bars_to_trade:,} bars its data held to trade; every figure below covers only"
        " those (run the same `paper` command again to finish it)."
    )


_EXPERT_LABELS = {"drl": "DRL", "llm": "LLM"}
ACCOUNT = "hybrid_account"
# The columns of the tables of real runs: the account and the backtest's rows beside it.
_RUN_METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "turnover",
    "n_trades",
    "round_trips",
    "exposure",
    "llm_cost_usd",
)


def summary_markdown(report: WeightsReport) -> str:
    """The report's figures as a short markdown page: what the account earned first, then the
    learned mix, then each source alone."""
    account, mix = report.account, report.attribution["hedge_mix"]
    first, last = report.cumulative["timestamp"].iloc[[0, -1]]
    config = report.run["config"] if isinstance(report.run["config"], dict) else {}
    bars = config.get("bars", {})
    in_sample = isinstance(bars, dict) and bars.get(IN_SAMPLE) is True
    initial = account["final_equity"] / (1.0 + account["total_return"])
    lines = [
        f"# Learned DRL/LLM weights{IN_SAMPLE_MARK if in_sample else ''}",
        "",
        *([IN_SAMPLE_WARNING, ""] if in_sample else []),
        f"Journal `{report.journal}`: run {report.run['run_id']}, data"
        f" {report.run['data_source']}, {report.n_updates} weight updates, from the first scored"
        f" decision on {first:%Y-%m-%d} to {last:%Y-%m-%d}.",
        "",
        *([_unfinished_line(report), ""] if report.unfinished else []),
        "## What the account earned",
        "",
        f"The hybrid account (the journal's equity, after the combiner, the risk manager and real"
        f" fills): {account['total_return']:+.2%} ({account['final_equity'] - initial:+,.2f} on"
        f" {initial:,.2f}), over its {account['n_bars']:,} bars after the first decision,"
        " measured as the backtest measures its rows (metrics.md defines every column):",
        "",
        *metrics_table({ACCOUNT: account}, _RUN_METRICS),
        "",
        "## The learned mix (hypothetical)",
        "",
        f"The learned weights applied to the two sources' own books, w x DRL + (1 - w) x LLM:"
        f" {mix.net_return:+.2%}. Nothing traded this mix as such; it is what the weights"
        " learned about, and what the regret below is measured on.",
        "",
        "Final weights: "
        + ", ".join(
            f"{_EXPERT_LABELS.get(name, name)} {weight:.3f}"
            for name, weight in report.final_weights.items()
        )
        + ".",
        "",
        "## Each source alone",
        "",
        *_sources_alone(report),
        "",
        "### The books the weights learned from (hypothetical)",
        "",
        "| book | hit rate | net return | PnL |",
        "|---|---|---|---|",
    ]
    for name, label in _LABELS.items():
        hit = report.hit_rates.get(name)
        hit_text = "-" if hit is None else _hit_text(hit.hits, hit.calls, hit.rate)
        part = report.attribution[name]
        lines.append(f"| {label} | {hit_text} | {part.net_return:+.2%} | {part.pnl:+,.2f} |")
    lines += [
        "",
        f"From the first scored decision, on its equity of {report.start_equity:,.2f}. Each"
        " source's book is the one the learner scores: its position held from open to open, net"
        " of its own costs, with no risk manager or execution check; the rows above, not these,"
        " are what each source earns trading alone.",
    ]
    net, loss = report.regret_net_return, report.regret_hedge_loss
    lines += [
        "",
        "## Regret against the best fixed weight in hindsight",
        "",
        f"- Net return: the learned mix earned {net.learned:+.2%}; the best fixed DRL weight,"
        f" {net.best_fixed_drl_weight:.2f}, earned {net.best_fixed:+.2%}: regret"
        f" {net.regret:+.2%}.",
        f"- Hedge loss: learned {loss.learned:+.5f}, best fixed (DRL weight"
        f" {loss.best_fixed_drl_weight:.2f}) {loss.best_fixed:+.5f}: regret {loss.regret:+.5f},"
        f" {_bound_sentence(report)}.",
        "",
        "## The weight learners side by side",
        "",
        "Each replayed on the two sources' books above, from equal weights; the run traded with"
        " the one marked.",
        "",
        "| learner | final DRL weight | log-wealth of its mix |",
        "|---|---|---|",
        *(
            f"| {name}{' (as run)' if replay.as_run else ''} | {replay.final_drl_weight:.3f} |"
            f" {replay.mix_log_wealth:+.5f} |"
            for name, replay in report.learners.items()
        ),
        "",
        f"Hybrid trading costs paid: {report.hybrid_costs_paid:,.2f}."
        f" LLM spend: ${report.llm_spend_usd:,.4f}.",
        "",
        "Plots: `weights.png` (weights over time), `pnl.png` (cumulative net return of each book),"
        " `fixed_weights.png` (every fixed weight against the learned ones).",
        "",
        "## How reliable the LLM's stated confidence was",
        "",
        "Each LLM view is scored once it is replaced: a hit when the asset moved its way by more"
        " than taking the position cost. The hybrid sizes and weighs the LLM by the calibrated"
        " confidence, learned from the views completed before each bar only.",
        "",
        *reliability_table([row.model_dump() for row in report.llm_reliability]),
        "",
    ]
    return "\n".join(lines)


def _sources_alone(report: WeightsReport) -> list[str]:
    """The backtest's rows for buy and hold, the DRL alone and the LLM alone, the account beside
    them; or how to get them."""
    if not report.sources_alone:
        return [
            "Not run: `hybrid-trader weights --agent DIR` (DIR: the agent this run traded) runs"
            " buy and hold, the DRL alone and the LLM alone over the same bars through the"
            " backtest, with this run's settings.",
        ]
    return [
        "Run by the backtest over the same bars with this run's settings: the same fills, costs"
        " and risk manager (buy and hold pure), the rows `hybrid-trader backtest` gives for this"
        " period, the account beside them.",
        "",
        *metrics_table({ACCOUNT: report.account, **report.sources_alone}, _RUN_METRICS),
    ]


def _hit_text(hits: int, calls: int, rate: float | None) -> str:
    return "no position taken" if rate is None else f"{rate:.1%} ({hits}/{calls})"


def _weights_figure(report: WeightsReport) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    trajectory = report.trajectory
    drl = trajectory["drl_weight_after"]
    axes.plot(trajectory["timestamp"], drl, label="DRL weight")
    axes.plot(trajectory["timestamp"], 1.0 - drl, label="LLM weight")
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    axes.set_ylim(0.0, 1.0)
    axes.set_ylabel("weight after the update")
    axes.set_title("Learned weights over time")
    axes.legend()
    figure.autofmt_xdate()
    return figure


def _pnl_figure(report: WeightsReport) -> Figure:
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.add_subplot()
    cumulative = report.cumulative
    for name, label in _LABELS.items():
        axes.plot(cumulative["timestamp"], 100.0 * cumulative[name], label=label)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_ylabel("cumulative net return (%)")
    axes.set_title("The books the weights learned from (hypothetical), net of their costs")
    axes.legend()
    figure.autofmt_xdate()
    return figure


def _fixed_weight_figure(report: WeightsReport) -> Figure:
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot()
    regret = report.regret_net_return
    axes.plot(regret.grid, [100.0 * value for value in regret.fixed], label="fixed DRL weight")
    axes.axhline(100.0 * regret.learned, color="C1", linestyle="--", label="learned weights")
    axes.set_xlabel("fixed DRL weight (LLM weight = 1 - DRL weight)")
    axes.set_ylabel("compounded net return (%)")
    axes.set_title("Learned weights against every fixed weight")
    axes.legend()
    return figure


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=_DPI)


def _bound_sentence(report: WeightsReport) -> str:
    """Whose regret bound the report prints: the run's AdaHedge learner's, or plain AdaHedge's as
    a reference for a learner without one (Thompson sampling)."""
    run = next((name for name, replay in report.learners.items() if replay.as_run), "hedge")
    if run == "hedge_delayed":
        return (
            "delayed AdaHedge's bound (the run's learner), on the weights each decision was"
            f" traded with, is {report.regret_bound:.5f}"
        )
    whose = "the run's learner" if run == "hedge" else f"a reference: {run} has no bound"
    return f"plain AdaHedge's bound (2 x its mixability gap; {whose}) is {report.regret_bound:.5f}"
