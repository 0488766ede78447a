"""`hybrid-trader weights`: evaluate the learned DRL/LLM weights of a paper-trade journal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def weights(
    journal: Annotated[
        Path, typer.Option("--journal", help="Journal file of a paper-trade run (read only).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for weights.json, plots, summary.md.")],
) -> None:
    """Weight trajectory, hit rates, PnL attribution and regret of the learned weights."""
    from orchestrator.journal import JournalReader  # heavy: keeps `--help` fast
    from orchestrator.reports import build_weights_report, write_weights_report

    with JournalReader.open(journal) as reader:
        report = build_weights_report(reader)
    files = write_weights_report(report, out)
    drl, llm = report.final_weights["drl"], report.final_weights["llm"]
    regret = report.regret_net_return
    account, mix = report.attribution["hybrid"], report.attribution["hedge_mix"]
    typer.echo(
        f"the account earned {account.net_return:+.2%}; the learned mix (hypothetical)"
        f" {mix.net_return:+.2%}"
    )
    typer.echo(
        f"{report.n_updates} weight updates; final weights DRL {drl:.3f} / LLM {llm:.3f}; regret"
        f" against the best fixed weight ({regret.best_fixed_drl_weight:.2f}):"
        f" {regret.regret:+.2%} net return"
    )
    for path in files.values():
        typer.echo(f"wrote {path}")
