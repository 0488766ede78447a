"""`hybrid-trader tune`: Ray Tune over the agent's hyperparameters, chosen on validation only.

Each trial trains one agent (one seed) on the source's train split with a sampled learning rate,
discount, network and turnover penalty. After each validation run during training it reports
the validation split's summed net log return; ASHA (asynchronous successive halving) stops the
trials in the bottom half at each rung, so most of the budget goes to the promising ones. The
best trial is the one with the best validation return it ever reported (the model training
keeps is its best on validation too). Nothing reads a test bar: `train`'s once-off test
evaluation is computed by every finished trial, but never reported to Tune.

The number of trials is what `evaluate --prior-trials` needs to deflate the Sharpe ratio of the
chosen settings for the search that found them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, NonNegativeInt, PositiveInt

from agents import TrainConfig, check_output_directory, train_agents, training_setup
from envs import canonical_source
from orchestrator.checks import Settings
from orchestrator.errors import ConfigError
from orchestrator.evaluation.runner import start_ray
from orchestrator.evaluation.spec import Algorithm
from orchestrator.evaluation.store import write_json_atomically

METRIC = "validation_return"
GAMMAS = (0.8, 0.9, 0.95, 0.99)
NETWORKS = ((32,), (64, 64), (128, 128))
TURNOVER_PENALTIES = (0.0005, 0.002, 0.005)
LEARNING_RATES = (1e-5, 1e-3)  # sampled log-uniformly


class TuneSpec(Settings):
    """One search: `trials` sampled configurations of `algo` on `source`, each trained up to
    `timesteps` steps and validated every `validate_every` steps (ASHA's rungs start at
    `grace_steps`). training: further `train` options applied to every trial."""

    source: Annotated[str, Field(min_length=1)]
    algo: Algorithm = "dqn"
    trials: PositiveInt = 8
    timesteps: PositiveInt = 50_000
    validate_every: PositiveInt = 5_000
    grace_steps: PositiveInt = 10_000
    seed: NonNegativeInt = 0
    start: str | None = None
    end: str | None = None
    date_format: Annotated[str, Field(min_length=1)] | None = None
    periods_per_year: PositiveInt | None = None
    training: dict[str, Any] = Field(default_factory=dict)


def run_tune(
    spec: TuneSpec,
    out: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Search (see the module docstring) and write `out/tune.json` and `out/best.toml` (the
    chosen settings as an `evaluate --spec` [training] table); returns tune.json's content."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    check_output_directory(out, "--out", force=force)
    if spec.validate_every > spec.timesteps:
        raise ConfigError(
            f"--validate-every {spec.validate_every}: more than --timesteps {spec.timesteps},"
            " so no trial would ever be validated"
        )
    spec = spec.copy_with(source=canonical_source(spec.source))
    # a bad `training` option, or data training would refuse, is refused before Ray starts
    training_setup(_train_config(spec, {}, out / "check"))
    out.mkdir(parents=True, exist_ok=True)
    start_ray(address, workers)
    try:
        tuner = tune.Tuner(
            tune.with_parameters(_trial, spec=spec),
            param_space={
                "learning_rate": tune.loguniform(*LEARNING_RATES),
                "gamma": tune.choice(GAMMAS),
                "net_arch": tune.choice(NETWORKS),
                "turnover_penalty": tune.choice(TURNOVER_PENALTIES),
            },
            tune_config=tune.TuneConfig(
                metric=METRIC,
                mode="max",
                num_samples=spec.trials,
                search_alg=BasicVariantGenerator(random_state=spec.seed),
                scheduler=ASHAScheduler(
                    time_attr="timesteps",
                    max_t=spec.timesteps,
                    grace_period=min(spec.grace_steps, spec.timesteps),
                    reduction_factor=2,
                ),
            ),
            run_config=tune.RunConfig(name="trials", storage_path=str(out.resolve()), verbose=0),
        )
        grid = tuner.fit()
    finally:
        import ray

        ray.shutdown()
    trials = [_trial_summary(grid[index], spec.timesteps) for index in range(len(grid))]
    scored = [trial for trial in trials if trial.best_validation_return is not None]
    best = max(scored, key=lambda trial: trial.best_validation_return or 0.0) if scored else None
    best_training = None if best is None else training_options(spec, best.params)
    summary = {
        "spec": spec.model_dump(mode="json"),
        "trials": [trial.as_json() for trial in trials],
        "n_trials": len(trials),
        "best": None if best is None else best.as_json(),
        "best_training": best_training,
    }
    write_json_atomically(out / "tune.json", summary)
    if best is not None and best_training is not None:
        (out / "best.toml").write_text(_toml_table(best_training), encoding="utf-8")
        say(
            f"best of {len(trials)} trials on validation: {json.dumps(best.params)}, validation"
            f" return {best.best_validation_return:+.4f}"
        )
        say(
            f"use it with evaluate --spec {out / 'best.toml'} --prior-trials {len(trials)}, so"
            " that the deflated Sharpe counts this search"
        )
    say(f"wrote {out / 'tune.json'}")
    return summary


def training_options(spec: TuneSpec, params: dict[str, Any]) -> dict[str, Any]:
    """`train` options (TrainConfig fields) of `spec.training` with a trial's `params`."""
    options = dict(spec.training)
    algorithm_options = dict(options.get(spec.algo, {}))
    algorithm_options["learning_rate"] = params["learning_rate"]
    options[spec.algo] = algorithm_options
    options["gamma"] = params["gamma"]
    options["net_arch"] = list(params["net_arch"])
    options["turnover_penalty"] = params["turnover_penalty"]
    return options


def _train_config(spec: TuneSpec, params: dict[str, Any], out: Path) -> TrainConfig:
    options = training_options(spec, params) if params else dict(spec.training)
    return TrainConfig.model_validate(
        options
        | {
            "algo": spec.algo,
            "data": spec.source,
            "out": out,
            "timesteps": spec.timesteps,
            "seeds": (spec.seed,),
            "eval_freq": spec.validate_every,
            "start": spec.start,
            "end": spec.end,
            "date_format": spec.date_format,
            "periods_per_year": spec.periods_per_year,
        }
    )


def _trial(params: dict[str, Any], spec: TuneSpec) -> None:
    """One trial: train with `params`, reporting each validation run to Tune."""
    from ray import tune

    def report(timesteps: int, score: float) -> None:
        tune.report({METRIC: score, "timesteps": timesteps})

    with tempfile.TemporaryDirectory(prefix="hybrid-trader-trial-") as folder:
        config = _train_config(spec, params, Path(folder) / "agent")
        train_agents(config, progress_bar=False, on_validation=report)


@dataclass(frozen=True)
class TrialSummary:
    """One trial: its sampled `params`, the best validation return it reported, the steps it
    reached (fewer than the budget when ASHA stopped it) and its error, if it failed."""

    params: dict[str, Any]
    best_validation_return: float | None
    timesteps: int
    stopped_early: bool
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _trial_summary(result: Any, budget: int) -> TrialSummary:
    """A Ray Tune `Result` as a TrialSummary."""
    history = result.metrics_dataframe
    reported = history is not None and METRIC in history
    steps = int(history["timesteps"].max()) if reported else 0
    return TrialSummary(
        params={
            name: list(value) if isinstance(value, tuple) else value
            for name, value in result.config.items()
        },
        best_validation_return=float(history[METRIC].max()) if reported else None,
        timesteps=steps,
        stopped_early=reported and steps < budget,
        error=None if result.error is None else str(result.error),
    )


def _toml_table(training: dict[str, Any]) -> str:
    """`training` as the [training] table of an `evaluate --spec` file."""
    lines = ["[training]"]
    nested = []
    for name, value in training.items():
        if isinstance(value, dict):
            nested.append(f"[training.{name}]")
            nested.extend(f"{key} = {json.dumps(item)}" for key, item in value.items())
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines + nested) + "\n"
