"""`hybrid-trader weights`: evaluate the learned DRL/LLM weights of a paper-trade journal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import ForceOption, MaxCostOption


def weights(
    journal: Annotated[
        Path, typer.Option("--journal", help="Journal file of a paper-trade run (read only).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for weights.json, plots, summary.md.")],
    agent: Annotated[
        Path | None,
        typer.Option(
            "--agent",
            help="The agent directory the run traded: backtests buy and hold, the DRL alone and"
            " the LLM alone over the journal's bars beside the account.",
        ),
    ] = None,
    max_cost: MaxCostOption = None,
    force: ForceOption = False,
) -> None:
    """What the account earned, the learned weights' trajectory, hit rates and regret, and (with
    --agent) each source alone over the same bars."""
    from orchestrator.jobs import weights_report  # heavy: keeps `--help` fast

    report, files = weights_report(
        journal, out, agent_dir=agent, max_cost_usd=max_cost, force=force, say=typer.echo
    )
    drl, llm = report.final_weights["drl"], report.final_weights["llm"]
    regret = report.regret_net_return
    mix = report.attribution["hedge_mix"]
    typer.echo(
        f"the account earned {report.account['total_return']:+.2%}; the learned mix"
        f" (hypothetical) {mix.net_return:+.2%}"
    )
    for name, metrics in report.sources_alone.items():
        typer.echo(f"{name} over the same bars: {metrics['total_return']:+.2%}")
    typer.echo(
        f"{report.n_updates} weight updates; final weights DRL {drl:.3f} / LLM {llm:.3f}; regret"
        f" against the best fixed weight ({regret.best_fixed_drl_weight:.2f}):"
        f" {regret.regret:+.2%} net return"
    )
    for path in files.values():
        typer.echo(f"wrote {path}")
