"""`python train.py` and `hybrid-trader train`: one command definition, one-line user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.config import ALGORITHMS, TrainConfig
from agents.storage import AgentPaths
from agents.training.cli import USER_ERROR_EXIT_CODE, Algo, main
from orchestrator.cli import app as cli

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timesteps", "0"], "error: --timesteps must be at least 1, got 0"),
        (["--seeds", "0,x"], "error: --seeds must be written as 0-4, 0,1,2 or both (0-2,7)"),
        (["--seeds", "3-1"], "error: --seeds must be written as 0-4, 0,1,2 or both (0-2,7)"),
        (["--seeds", "1,0-2"], "error: --seeds must not repeat a seed, got (1, 0, 1, 2)"),
        (["--net-arch", "64,big"], "error: --net-arch must be comma-separated layer sizes"),
        (["--gamma", "1.5"], "error: --gamma must be in (0, 1]"),
        (["--algo", "ppo", "--learning-rate", "0"], "error: --learning-rate must be in (0, 1]"),
        (["--learning-rate", "inf"], "error: --learning-rate must be finite, got inf"),
        (["--target-update-interval", "0"], "error: --target-update-interval must be at least 1"),
        (["--ppo-batch-size", "1"], "error: --ppo-batch-size must be at least 2"),
        (["--slippage-bps", "-1"], "error: --slippage-bps must be in [0, 1000)"),
        (["--window-size", "0"], "error: --window-size must be an int >= 1"),
        (["--data", "missing.csv"], "error: missing.csv"),
        (
            ["--data", "synthetic", "--test-start", "03/04/2015"],
            "error: synthetic: bad date: --test-start '03/04/2015' is not a date",
        ),
    ],
)
def test_a_bad_option_value_prints_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path / "agent"), "--no-progress"])

    stderr = capsys.readouterr().err
    assert exit_info.value.code == USER_ERROR_EXIT_CODE
    assert stderr.startswith(message)
    assert stderr.count("\n") == 1


def test_seeds_are_read_as_evaluate_reads_them() -> None:
    assert TrainConfig.model_validate({"seeds": "0-2,7"}).seeds == (0, 1, 2, 7)


def test_hybrid_trader_train_reports_the_same_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--timesteps", "0"])

    assert exit_info.value.code == cli.USER_ERROR_EXIT_CODE
    assert capsys.readouterr().err == "error: --timesteps must be at least 1, got 0\n"


def test_both_entry_points_offer_the_same_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    standalone = capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    through_cli = capsys.readouterr().out

    for option in ("--algo", "--data", "--timesteps", "--seeds", "--n-envs", "--ent-coef"):
        assert option in standalone and option in through_cli


def test_the_algo_choices_of_other_commands_are_the_configs() -> None:
    assert tuple(Algo) == ALGORITHMS


def test_train_py_fails_cleanly_in_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "train.py", "--algo", "sac"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "'sac' is not one of 'dqn', 'ppo'" in result.stderr


def test_a_tiny_run_through_the_cli_writes_an_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "agent"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                *("--algo", "ppo", "--data", "synthetic", "--timesteps", "128", "--n-envs", "2"),
                *("--n-steps", "64", "--ppo-batch-size", "64", "--net-arch", "16"),
                *("--out", str(out), "--no-progress"),
            ]
        )

    assert exit_info.value.code == 0
    assert AgentPaths(out).manifest.is_file()
    printed = capsys.readouterr().out
    assert "buy_and_hold" in printed and f"agent written to {out}" in printed
