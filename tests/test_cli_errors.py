"""Every mistake a user can make on the command line: one `error: ...` line naming what they typed,
exit status 2, nothing left behind and nothing overwritten. Usage errors run the installed console
script; the rest run `hybrid-trader` in this process, with no LLM key and in a clean folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envs import load_market_data
from tests.paper_helpers import CLI, END, assert_one_error_line, run_cli, tiny_agent


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    assert CLI.is_file(), f"{CLI} is missing: run `pip install -e .` first"
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["backtest", "--ot", "x"], ["No such option: --ot"]),
        (["backtest", "--data", "sp500", "--out", "x"], ["Missing option '--agent'"]),
        (["paper", "--agent", "a", "--data", "sp500", "--journal", "j", "--llm", "x"], ["--llm"]),
        (["bactest"], ["No such command 'bactest'"]),
        (
            ["paper", "--agent", "a", "--data", "sp500", "--journal", "j", "--pace", "-1"],
            ["'--pace': Input should be greater than or equal to 0, got -1"],
        ),
    ],
)
def test_typer_s_usage_errors_are_one_line(args: list[str], parts: list[str]) -> None:
    result = run_script(*args)
    assert_one_error_line(result.returncode, result.stdout, result.stderr, *parts)


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (["evaluate", "--data", "sp500", "--out", "o", "--workers=0"], "equal to 1, got 0"),
        (["train", "--timesteps", "5", "--timesteps", "many"], "integer, got many"),
        (["train", "--algo", "a2c"], "'a2c' is not one of 'dqn', 'ppo'."),
    ],
)
def test_an_option_s_refused_value_is_echoed_once(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: list[str], part: str
) -> None:
    code, stdout, stderr = run_cli(capsys, *args)
    assert_one_error_line(code, stdout, stderr, part)
    assert stderr.count(args[-1].split("=")[-1]) == 1


def test_version_and_help_load_no_heavy_library() -> None:
    assert run_script("--version").stdout.startswith("hybrid-trader ")
    code = (
        "import sys\nfrom orchestrator.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pandas', 'gymnasium',"
        " 'torch', 'langchain_core'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"  # `--help` stays fast


def test_train_refuses_a_file_or_a_folder_with_files_as_out(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = cli_env / "README.md"
    readme.write_text("mine")
    result = run_cli(capsys, "train", "--data", "synthetic", "--out", "README.md")
    assert_one_error_line(*result, "--out README.md: a file, not a folder")
    (cli_env / "agent").mkdir()
    (cli_env / "agent" / "model.zip").write_text("earlier")
    result = run_cli(capsys, "train", "--data", "synthetic", "--out", "agent")
    assert_one_error_line(*result, "--out agent: the folder already holds files", "--force")
    assert sorted(p.name for p in cli_env.rglob("*")) == ["README.md", "agent", "model.zip"]
    assert readme.read_text() == "mine"


def test_backtest_refuses_to_overwrite_earlier_results(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "bt").mkdir()
    (cli_env / "bt" / "metrics.json").write_text("{}")
    args = ["backtest", "--agent", "agent", "--data", "synthetic", "--out", "bt"]
    assert_one_error_line(*run_cli(capsys, *args), "--out bt: the folder already holds files")
    assert_one_error_line(*run_cli(capsys, *args, "--force"), "agent: agent directory not found")
    assert sorted(p.name for p in cli_env.rglob("*")) == ["bt", "metrics.json"]


def test_a_refused_paper_run_leaves_no_file(
    cli_env: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    agent = str(tiny_agent(tmp_path_factory))
    (cli_env / "notes.txt").write_text("not a journal")
    paper = ["paper", "--data", "synthetic", "--end", END]
    cases = [
        (["--agent", agent, "--journal", "notes.txt"], "notes.txt is not a SQLite file"),
        (["--agent", "nope", "--journal", "j.sqlite"], "nope: agent directory not found"),
        (["--agent", agent, "--journal", "j.sqlite", "--start", "2030"], "empty date range"),
        (["--agent", agent, "--journal", "j.sqlite", "--llm", "gateway"], "OPENROUTER_API_KEY"),
    ]
    for args, message in cases:
        assert_one_error_line(*run_cli(capsys, *paper, *args), message)
        assert sorted(p.name for p in cli_env.iterdir()) == ["notes.txt"], args
    assert (cli_env / "notes.txt").read_text() == "not a journal"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "sp5000"], "did you mean `sp500`?"),
        (["--llm", "gateway"], "OPENROUTER_API_KEY"),
        (["--out", "README.md"], "--out README.md: a file, not a folder"),
        (
            ["--data", "short.csv"],
            "(lower --calibration-bars). The pipeline trains with the defaults; `hybrid-trader"
            " train` takes the options that change them",
        ),
    ],
)
def test_the_pipeline_checks_every_input_before_training(
    args: list[str], message: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cli_env / "README.md").write_text("mine")
    load_market_data("sp500").iloc[:400].to_csv(cli_env / "short.csv")
    assert_one_error_line(*run_cli(capsys, "pipeline", *args), message)
    assert sorted(p.name for p in cli_env.iterdir() if p.name != "runs") == [
        "README.md",
        "short.csv",
    ]
    assert not list((cli_env / "runs").glob("pipeline/*"))


@pytest.mark.parametrize("command", [["backtest", "--out", "bt"], ["paper", "--journal", "j"]])
def test_a_cost_cap_for_the_offline_analyst_is_refused_not_ignored(
    command: list[str], cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*command, "--agent", "a", "--data", "sp500", "--max-cost", "0.5"]
    assert_one_error_line(*run_cli(capsys, *args), "--max-cost 0.5: only with --llm gateway")
    assert list(cli_env.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["paper", "--agent", "a", "--data", "sp500", "--journal", "j", "--max-idle", "0"],
            "--max-idle",
        ),
        (["paper", "--agent", "a", "--data", "sp500", "--journal", "j", "--poll", "2"], "--poll"),
        (
            ["feed", "--symbol", "SPY", "--out", "spy.csv", "--poll", "5", "--max-idle", "9"],
            "--poll, --max-idle",
        ),
    ],
)
def test_a_waiting_option_without_follow_is_refused_not_ignored(
    args: list[str], named: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_error_line(*run_cli(capsys, *args), f"{named}: only with --follow")
    assert list(cli_env.iterdir()) == []
