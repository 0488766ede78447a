"""`hybrid-trader evaluate`: walk-forward over series x test years x algorithms x seeds, on Ray;
`hybrid-trader tune`: Ray Tune with ASHA over the agent's hyperparameters, on validation only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from orchestrator.cli.options import (
    SOURCE_HELP,
    DateFormatOption,
    EndOption,
    ForceOption,
    LLMChoice,
    PeriodsPerYearOption,
    SourceOption,
    StartOption,
)

AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="An existing Ray cluster, e.g. 10.0.0.5:6379 (default: local)."),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="CPUs of the local Ray runtime (default: all)."),
]
Algorithm = Literal["dqn", "ppo"]  # `orchestrator.evaluation.spec.Algorithm`: `--help` stays fast


def evaluate(
    *,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the stored cells (cells/) and the report; the same spec run again"
            " into it resumes, running only the missing cells.",
        ),
    ],
    data: Annotated[
        str | None, typer.Option("--data", help=f"Series, comma-separated: {SOURCE_HELP}.")
    ] = None,
    algo: Annotated[
        str | None, typer.Option("--algo", help="dqn, ppo or dqn,ppo (default: dqn).")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option("--seeds", help="Seeds, e.g. 0-4 or 0,1,2 (default: 0).")
    ] = None,
    windows: Annotated[
        str | None,
        typer.Option(
            "--windows",
            help="yearly: every year with enough history before it; or test years, e.g."
            " 2015-2018 or 2015,2017 (default: yearly).",
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="A TOML file with the same settings ([evaluate] data, algo, seeds, windows,"
            " timesteps, ...); options given here win.",
        ),
    ] = None,
    timesteps: Annotated[
        int | None, typer.Option("--timesteps", min=1, help="Training steps a cell (20,000).")
    ] = None,
    llm: Annotated[
        LLMChoice | None,
        typer.Option("--llm", help="offline ($0, default) or gateway (its dollars are charged)."),
    ] = None,
    start: StartOption = None,
    end: EndOption = None,
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
    min_train_years: Annotated[
        int | None,
        typer.Option(
            "--min-train-years", min=1, help="Years of history before a validation year (4)."
        ),
    ] = None,
    prior_trials: Annotated[
        int | None,
        typer.Option(
            "--prior-trials",
            min=0,
            help="Configurations tried before this grid (e.g. by tune), for the deflated Sharpe.",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0.0,
            help="With --llm gateway: a hard cap in dollars on the whole evaluation's LLM calls,"
            " shared equally by its cells, so it holds across a cluster (each machine keeps its"
            " own budgets). Without it, each cell is held to the budgets where it runs.",
        ),
    ] = None,
    address: AddressOption = None,
    workers: WorkersOption = None,
    no_ray: Annotated[
        bool, typer.Option("--no-ray", help="Run the cells one by one in this process.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Walk-forward: for each test year, train on the years before it, backtest every strategy."""
    from orchestrator.errors import ConfigError
    from orchestrator.evaluation import build_spec, read_spec_file, run_evaluation

    if address is not None and (workers is not None or no_ray):
        raise ConfigError(
            f"--address {address}: the cluster has its own CPUs; leave out --workers and --no-ray"
        )
    if no_ray and workers is not None:
        raise ConfigError("--workers: only for the local Ray runtime; leave out --no-ray")
    given: dict[str, Any] = {
        "data": data,
        "algo": algo,
        "seeds": seeds,
        "windows": windows,
        "timesteps": timesteps,
        "llm_mode": None if llm is None else llm.value,
        "start": start,
        "end": end,
        "date_format": date_format,
        "periods_per_year": periods_per_year,
        "min_train_years": min_train_years,
        "prior_trials": prior_trials,
        "max_cost_usd": max_cost,
    }
    options = read_spec_file(spec) if spec is not None else {}
    options |= {name: value for name, value in given.items() if value is not None}
    run_evaluation(
        build_spec(options),
        out,
        use_ray=not no_ray,
        address=address,
        workers=workers,
        force=force,
        progress=sys.stderr.isatty(),
        say=typer.echo,
    )


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
    address: AddressOption = None,
    workers: WorkersOption = None,
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
