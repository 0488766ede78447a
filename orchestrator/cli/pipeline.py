"""`hybrid-trader pipeline`: the main job on embedded defaults (README's first command)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from orchestrator.cli.options import (
    DateFormatOption,
    LLMChoice,
    PeriodsPerYearOption,
    SourceOption,
)

Algorithm = Literal[
    "dqn", "ppo"
]  # `orchestrator.jobs.Algorithm`, not imported: `--help` stays fast


def pipeline(
    *,
    data: SourceOption = "sp500",
    algo: Annotated[Algorithm, typer.Option("--algo", help="RL algorithm.")] = "dqn",
    timesteps: Annotated[
        int, typer.Option("--timesteps", min=1, help="Training env steps.")
    ] = 50_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Training seed.")] = 0,
    llm: Annotated[
        LLMChoice, typer.Option("--llm", help="offline ($0, no key) or gateway (needs a key).")
    ] = LLMChoice.OFFLINE,
    out: Annotated[
        Path, typer.Option("--out", help="Each run writes a new timestamped folder in here.")
    ] = Path("runs/pipeline"),
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
) -> None:
    """Train a small agent, backtest every strategy, paper trade, and evaluate the weights."""
    from orchestrator.jobs import PipelineConfig, PipelineFolders, run_pipeline
    from orchestrator.runs.display import LineDisplay

    interactive = sys.stdout.isatty()
    run_pipeline(
        PipelineConfig(
            data=data,
            algo=algo,
            timesteps=timesteps,
            seed=seed,
            llm_mode=llm.value,
            date_format=date_format,
            periods_per_year=periods_per_year,
        ),
        PipelineFolders.new(out),
        typer.echo,
        paper_display=LineDisplay(),
        progress_bar=interactive,
    )
