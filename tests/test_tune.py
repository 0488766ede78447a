"""`tune`: Ray Tune with ASHA over the agent's hyperparameters, chosen on validation only; its
best settings and number of trials feed `evaluate`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agents import train_agents
from orchestrator.evaluation import TuneSpec, build_spec, read_spec_file, run_tune
from orchestrator.evaluation.tune import _toml_table, training_options
from tests.agents_helpers import tiny_config
from tests.evaluation_helpers import TINY_TRAINING
from tests.paper_helpers import assert_one_error_line, run_cli

PARAMS = {"learning_rate": 2e-4, "gamma": 0.95, "net_arch": [64, 64], "turnover_penalty": 0.005}


def test_the_best_settings_are_an_evaluate_spec(tmp_path: Path) -> None:
    spec = TuneSpec(source="synthetic", training=TINY_TRAINING)
    training = training_options(spec, PARAMS)
    assert training["dqn"]["learning_rate"] == 2e-4 and training["gamma"] == 0.95
    assert training["dqn"]["batch_size"] == TINY_TRAINING["dqn"]["batch_size"]  # kept
    path = tmp_path / "best.toml"
    path.write_text(_toml_table(training))
    evaluation = build_spec(read_spec_file(path) | {"data": "synthetic", "prior_trials": 8})
    assert evaluation.training == training and evaluation.prior_trials == 8


def test_training_tells_a_listener_each_validation_run(tmp_path: Path) -> None:
    heard: list[tuple[int, float]] = []
    train_agents(
        tiny_config(tmp_path / "agent", "dqn"),
        progress_bar=False,
        on_validation=lambda steps, score: heard.append((steps, score)),
    )
    assert [steps for steps, _ in heard] == [256, 512]  # eval_freq 256 of 512 steps
    assert all(math.isfinite(score) for _, score in heard)


@pytest.mark.slow
def test_tune_runs_trials_under_asha_and_keeps_the_best_on_validation(tmp_path: Path) -> None:
    spec = TuneSpec(
        source="synthetic",
        trials=4,
        timesteps=1024,
        validate_every=256,
        grace_steps=256,
        end="2009",
        training=TINY_TRAINING,
    )
    summary = run_tune(spec, tmp_path / "tune", workers=2, say=print)
    assert summary["n_trials"] == 4 and all(trial["error"] is None for trial in summary["trials"])
    returns = [trial["best_validation_return"] for trial in summary["trials"]]
    assert summary["best"]["best_validation_return"] == max(returns)
    saved = json.loads((tmp_path / "tune" / "tune.json").read_text())
    assert saved["best_training"] == training_options(spec, summary["best"]["params"])
    best = read_spec_file(tmp_path / "tune" / "best.toml")
    assert build_spec(best | {"data": "synthetic"}).training == saved["best_training"]


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["--data", "synthetc"], ["synthetc"]),
        (["--data", "synthetic", "--address", "x:1", "--workers", "2"], ["--address x:1"]),
        (["--data", "synthetic", "--algo", "sac"], ["--algo"]),
        (["--data", "synthetic", "--timesteps", "2000"], ["--validate-every 5000", "2000"]),
        (["--data", "synthetic", "--end", "2006-06"], ["synthetic", "calibration"]),
    ],
)
def test_tune_refuses_a_mistake_in_one_line_leaving_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str], parts: list[str]
) -> None:
    code, stdout, stderr = run_cli(capsys, "tune", *args, "--out", "t")
    assert_one_error_line(code, stdout, stderr, *parts)
    assert not Path("t").exists()
