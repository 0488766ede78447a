"""`hybrid-trader tune`: Ray Tune with ASHA over the agent's hyperparameters, on validation only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from orchestrator.cli.options import (
    DateFormatOption,
    EndOption,
    ForceOption,
    PeriodsPerYearOption,
    SourceOption,
    StartOption,
)

Algorithm = Literal["dqn", "ppo"]  # `orchestrator.evaluation.spec.Algorithm`: `--help` stays fast


def tune(
    *,
    data: SourceOption,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for tune.json, best.toml and Ray Tune's trials.")
    ],
    algo: Annotated[Algorithm, typer.Option("--algo", help="RL algorithm.")] = "dqn",
    trials: Annotated[int, typer.Option("--trials", min=1, help="Configurations sampled.")] = 8,
    timesteps: Annotated[
        int, typer.Option("--timesteps", min=1, help="Most training steps a trial.")
    ] = 50_000,
    validate_every: Annotated[
        int, typer.Option("--validate-every", min=1, help="Steps between validation runs.")
    ] = 5_000,
    grace_steps: Annotated[
        int,
        typer.Option(
            "--grace-steps", min=1, help="Steps every trial gets before ASHA may stop it."
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Sampling and training seed.")] = 0,
    start: StartOption = None,
    end: EndOption = None,
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
    address: Annotated[
        str | None, typer.Option("--address", help="An existing Ray cluster (default: local).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="CPUs of the local Ray runtime (default: all)."),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Search learning rate, discount, network and turnover penalty; choose on validation."""
    from orchestrator.errors import ConfigError
    from orchestrator.evaluation import TuneSpec, run_tune

    if address is not None and workers is not None:
        raise ConfigError(f"--address {address}: the cluster has its own CPUs; leave out --workers")
    run_tune(
        TuneSpec(
            source=data,
            algo=algo,
            trials=trials,
            timesteps=timesteps,
            validate_every=validate_every,
            grace_steps=grace_steps,
            seed=seed,
            start=start,
            end=end,
            date_format=date_format,
            periods_per_year=periods_per_year,
        ),
        out,
        address=address,
        workers=workers,
        force=force,
        say=typer.echo,
    )
