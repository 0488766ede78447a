"""`evaluate`: the walk-forward grid, its cell store, statistics and report.

One tiny grid (synthetic 2005-2008, test year 2008, DQN seeds 0 and 1) runs once on a real Ray
cluster of two nodes started here; the other checks reuse its cells: a direct call gives the same
numbers, a run that stopped after one cell resumes and ends with the same report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents import training_setup
from llm import LedgerEntry
from orchestrator.errors import ConfigError
from orchestrator.evaluation import (
    CellStore,
    EvaluationOutput,
    build_spec,
    plan_evaluation,
    read_spec_file,
    run_cell,
    run_evaluation,
)
from orchestrator.evaluation.cell import strategy_record
from orchestrator.evaluation.plan import eligible_years
from orchestrator.evaluation.spec import parse_seeds, parse_windows
from orchestrator.evaluation.statistics import deflated_sharpe, spa_pvalue
from orchestrator.evaluation.store import SPEC_FILE
from orchestrator.execution import PortfolioState
from orchestrator.runs import StrategyResult
from orchestrator.runs.recorder import BacktestRecorder
from orchestrator.trader import HedgeWeights
from tests.evaluation_helpers import tiny_spec, two_node_cluster
from tests.paper_helpers import assert_one_error_line, run_cli


@pytest.fixture(scope="module")
def cluster_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, EvaluationOutput]]:
    """The tiny grid evaluated on a head and a second node, one CPU each."""
    out = tmp_path_factory.mktemp("evaluation") / "ray"
    with pytest.MonkeyPatch.context() as patch, two_node_cluster() as address:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        yield out, run_evaluation(tiny_spec(), out, address=address, progress=False, say=print)


def test_a_two_node_ray_cluster_runs_the_grid(cluster_run: tuple[Path, EvaluationOutput]) -> None:
    out, output = cluster_run
    assert output.cells_run == 2
    assert {path.name for path in output.files.values()} == {
        "evaluation.json",
        "evaluation.md",
        "heatmap.png",
        "seeds.png",
    }
    series = output.report["statistics"]["series"]["synthetic"]
    assert series["years"] == [2008] and series["trials"] == 4  # 2 strategies x 2 seeds
    assert set(series["strategies"]) == {"buy_and_hold", "dqn/drl", "dqn/hybrid_learned"}
    learned = series["strategies"]["dqn/hybrid_learned"]
    assert learned["n_cells"] == 2 and set(learned["sharpe_by_seed"]) == {"0", "1"}
    assert 0.0 <= learned["spa_pvalue"] <= 1.0 and 0.0 <= learned["deflated_sharpe"] <= 1.0
    assert series["strategies"]["buy_and_hold"]["sd"]["sharpe"] == 0.0  # the same in every seed
    hold = series["strategies"]["buy_and_hold"]  # it moves every bar: each interval is a range
    for name in ("pooled_sharpe", "pooled_annual_return", "pooled_max_drawdown"):
        low, high = hold[f"{name}_ci"]
        assert low < high and low <= hold[name] <= high, name
    markdown = (out / "evaluation.md").read_text()
    assert "## Summary" in markdown and "synthetic: " in markdown and "SPA" in markdown


def test_a_cell_gives_the_same_numbers_without_ray(
    cluster_run: tuple[Path, EvaluationOutput],
) -> None:
    out, _ = cluster_run
    spec = tiny_spec()
    cell = plan_evaluation(spec).cells[0]
    direct = json.loads(json.dumps(run_cell(cell, spec)))
    assert direct == CellStore(out).load(cell.key)


def test_a_stopped_run_resumes_from_its_stored_cells(
    cluster_run: tuple[Path, EvaluationOutput], tmp_path: Path
) -> None:
    """A run stopped after its first cell (its folder as the kill left it: the spec and one
    cell) runs only the other cell and ends with the same report."""
    done, finished = cluster_run
    spec = tiny_spec()
    first = plan_evaluation(spec).cells[0]
    out = tmp_path / "resumed"
    (out / "cells").mkdir(parents=True)
    shutil.copy(done / SPEC_FILE, out / SPEC_FILE)
    shutil.copy(CellStore(done).path(first.key), CellStore(out).path(first.key))
    resumed = run_evaluation(spec, out, use_ray=False, progress=False, say=print)
    assert resumed.cells_run == 1
    assert resumed.report == finished.report
    again = run_evaluation(spec, out, use_ray=False, progress=False, say=print)
    assert again.cells_run == 0 and again.report == finished.report
    damaged = CellStore(out).path(first.key)
    damaged.write_text(damaged.read_text()[:100])  # cut by something else, e.g. a full disk
    repaired = run_evaluation(spec, out, use_ray=False, progress=False, say=print)
    assert repaired.cells_run == 1 and repaired.report == finished.report


@pytest.mark.slow
def test_a_killed_command_resumes_with_the_same_report(
    cluster_run: tuple[Path, EvaluationOutput], tmp_path: Path
) -> None:
    """`hybrid-trader evaluate` killed (SIGKILL) once its first cell is stored, then run again."""
    import signal
    import subprocess
    import time

    from tests.paper_helpers import CLI

    _, finished = cluster_run
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(_toml(tiny_spec().model_dump(mode="json")))
    out = tmp_path / "run"
    command = [str(CLI), "evaluate", "--spec", str(spec_file), "--out", str(out), "--no-ray"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((out / "cells").glob("*.json")) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list((out / "cells").glob("*.json"))) == 1
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert "2 cells: 1 stored" in rerun.stdout
    assert json.loads((out / "evaluation.json").read_text()) == finished.report


def _toml(values: dict[str, object], prefix: str = "") -> str:
    """A flat spec as TOML (tables for nested mappings), enough for `read_spec_file`."""
    lines, tables = [], []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append(_toml(value, f"{prefix}{name}."))
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return head + "\n".join(lines) + "\n" + "".join(tables)


def test_seeds_and_windows_read_as_on_the_command_line() -> None:
    assert parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("0,2, 5-6") == (0, 2, 5, 6)
    assert parse_windows("yearly") is None
    assert parse_windows("2015-2017") == (2015, 2016, 2017)
    for bad in ("4-0", "a", "1,,2"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
    with pytest.raises(ConfigError, match="--windows 'monthly'"):
        parse_windows("monthly")


def test_the_spec_refuses_what_would_make_a_cell_wrong() -> None:
    with pytest.raises(ConfigError, match="buy_and_hold"):
        tiny_spec(strategies=["drl"])
    with pytest.raises(ConfigError, match="set per cell"):
        tiny_spec(training={"timesteps": 5})
    with pytest.raises(ConfigError, match="repeat"):
        tiny_spec(seeds="0,0")
    with pytest.raises(ConfigError, match="--gamma"):
        tiny_spec(training={"gamma": 2.0})


def test_cells_cover_the_grid_and_their_keys_name_what_they_depend_on() -> None:
    plan = plan_evaluation(tiny_spec(algo="dqn,ppo"))
    assert [(c.test_year, c.algo, c.seed) for c in plan.cells] == [
        (2008, "dqn", 0),
        (2008, "dqn", 1),
        (2008, "ppo", 0),
        (2008, "ppo", 1),
    ]
    assert len({cell.key for cell in plan.cells}) == 4
    assert plan.cells[0].end == "2008-12-31" and plan.cells[0].validation_start == "2007-01-01"
    same = plan_evaluation(tiny_spec()).cells[0].key
    assert same == plan.cells[0].key
    assert plan_evaluation(tiny_spec(timesteps=513)).cells[0].key != same
    assert plan_evaluation(tiny_spec(end="2009")).cells[0].key == same  # bars after 2008 unread


def test_only_years_with_enough_history_are_tested() -> None:
    plan = plan_evaluation(tiny_spec(windows="yearly", end="2010"))
    assert plan.years["synthetic"] == (2008, 2009, 2010)
    with pytest.raises(ConfigError, match=r"--windows 2007: synthetic .* needs 2 years of bars"):
        plan_evaluation(tiny_spec(windows="2007"))
    with pytest.raises(ConfigError, match=r"--windows 2012: .* has no bars in that year"):
        plan_evaluation(tiny_spec(windows="2012"))


def test_eligible_years_need_a_validation_year_and_history_before_it() -> None:
    import pandas as pd

    index = pd.bdate_range("2005-01-03", "2010-06-30")
    assert eligible_years(index, 2) == (2008, 2009, 2010)
    assert eligible_years(index, 4) == (2010,)


def test_the_deflated_sharpe_falls_as_more_configurations_were_tried() -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0005, 0.01, 1000)
    trials = list(rng.normal(0.0, 0.03, 20))
    alone = deflated_sharpe(returns, trials, 1)
    assert alone > 0.5  # one try: the probability that the Sharpe is above zero
    assert deflated_sharpe(returns, trials, 20) < alone
    assert deflated_sharpe(returns, trials, 1000) < deflated_sharpe(returns, trials, 20)
    # one Sharpe at hand and the others tried elsewhere (--prior-trials): still deflated
    assert deflated_sharpe(returns, trials[:1], 1000) < deflated_sharpe(returns, trials[:1], 20)
    assert deflated_sharpe(returns, [], 20) < deflated_sharpe(returns, [], 1) == alone


def test_spa_finds_a_real_edge_and_none_in_a_copy() -> None:
    rng = np.random.default_rng(1)
    benchmark = rng.normal(0.0, 0.01, 750)
    better = benchmark + 0.002 + rng.normal(0.0, 0.001, 750)
    assert spa_pvalue(benchmark, [better]) < 0.05
    worse = benchmark - 0.001 + rng.normal(0.0, 0.001, 750)
    assert spa_pvalue(benchmark, [worse]) > 0.2
    assert spa_pvalue(benchmark, [benchmark.copy()]) == 1.0


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["--data", "synthetic", "--seeds", "3-1"], ["--seeds '3-1'"]),
        (["--data", "synthetic", "--seeds", "0,0"], ["--seeds: must not repeat", "(0, 0)"]),
        (["--data", "synthetic", "--windows", "2006"], ["--windows 2006", "needs 4 years"]),
        (["--data", "synthetc"], ["error: synthetc: unknown source: did you mean `synthetic`?"]),
        (["--data", "synthetic", "--address", "x:1", "--workers", "2"], ["--address x:1"]),
        (["--data", "synthetic", "--spec", "missing.toml"], ["--spec missing.toml"]),
        (["--data", "synthetic", "--algo", "sac"], ["--algo 'sac'"]),
        (["--data", "synthetic", "--max-cost", "2"], ["--max-cost 2: only with --llm gateway"]),
        (["--data", "synthetic", "--windows", "2012", "--llm", "gateway"], ["no API key"]),
    ],
)
def test_evaluate_refuses_a_mistake_in_one_line_leaving_nothing(
    capsys: pytest.CaptureFixture[str], args: list[str], parts: list[str]
) -> None:
    code, stdout, stderr = run_cli(capsys, "evaluate", *args, "--out", "ev")
    assert_one_error_line(code, stdout, stderr, *parts)
    assert not Path("ev").exists()


def test_a_spec_file_takes_the_option_names_and_names_itself_for_an_unknown_one(
    capsys: pytest.CaptureFixture[str], cli_env: Path
) -> None:
    spec_file = cli_env / "spec.toml"
    spec_file.write_text(
        'data = "synthetic"\nllm = "gateway"\nmax-cost = 2.5\nmin_train_years = 3\n'
    )
    spec = build_spec(read_spec_file(spec_file))
    assert (spec.llm_mode, spec.max_cost_usd, spec.min_train_years) == ("gateway", 2.5, 3)
    spec_file.write_text('data = "synthetic"\nseed = [1]\n')
    code, stdout, stderr = run_cli(capsys, "evaluate", "--spec", "spec.toml", "--out", "ev")
    assert_one_error_line(code, stdout, stderr, "--spec spec.toml: unknown setting seed (known:")
    assert not (cli_env / "ev").exists()


def test_a_window_training_would_refuse_is_refused_before_the_folder_is_touched(
    capsys: pytest.CaptureFixture[str], cli_env: Path
) -> None:
    """Two years of history less the two-year calibration hold-out leave 228 bars to train on:
    too few for a 252-bar episode. The plan refuses it, before a line is printed or a folder
    made, with the numbers that do not fit."""
    (cli_env / "spec.toml").write_text(
        '[evaluate]\ndata = "synthetic"\nwindows = "2009"\nmin_train_years = 2\n'
        "[evaluate.training]\nepisode_length = 252\n"
    )
    args = ("evaluate", "--spec", "spec.toml", "--no-ray", "--out")
    code, stdout, stderr = run_cli(capsys, *args, "ev")
    assert_one_error_line(code, stdout, stderr, "synthetic", "228 bars", "episode_length=252")
    assert stdout == "" and not (cli_env / "ev").exists()


def test_the_default_episode_fits_what_is_left_after_the_calibration_hold_out() -> None:
    """With no episode length given, an episode is a year or the whole part left to train on,
    whichever is shorter: the same short window is planned, not refused."""
    spec = tiny_spec(windows="2009", end="2009", training={})
    _, env_config = training_setup(plan_evaluation(spec).cells[0].train_config(spec))
    assert env_config.episode_length == 228 - env_config.window_size


def test_a_cell_that_fails_leaves_no_folder_behind(
    capsys: pytest.CaptureFixture[str], cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stores no cell (its first cell raised) removes the folder it made, or empties
    the empty folder it was given."""

    def refuse(cell: object, spec: object) -> None:
        raise ConfigError("the cell refused")

    monkeypatch.setattr("orchestrator.evaluation.cell.run_cell", refuse)
    args = ("evaluate", "--data", "synthetic", "--windows", "2009", "--min-train-years", "2")
    args = (*args, "--no-ray", "--out")
    code, _, stderr = run_cli(capsys, *args, "ev")
    assert code == 2 and stderr.strip() == "error: the cell refused"
    assert not (cli_env / "ev").exists()
    (cli_env / "empty").mkdir()
    code, _, _ = run_cli(capsys, *args, "empty")
    assert code == 2 and not any((cli_env / "empty").iterdir())


def test_evaluate_refuses_a_folder_of_another_spec(
    capsys: pytest.CaptureFixture[str], cli_env: Path
) -> None:
    (cli_env / "ev").mkdir()
    (cli_env / "ev" / SPEC_FILE).write_text(json.dumps(build_spec({"data": "sp500"}).model_dump()))
    code, stdout, stderr = run_cli(
        capsys, "evaluate", "--data", "synthetic", "--windows", "2010", "--out", "ev"
    )
    assert_one_error_line(code, stdout, stderr, "--out ev", "another spec", "--force")
    (cli_env / "notes").mkdir()
    (cli_env / "notes" / "a.txt").write_text("mine")
    code, stdout, stderr = run_cli(
        capsys, "evaluate", "--data", "synthetic", "--windows", "2010", "--out", "notes"
    )
    assert_one_error_line(code, stdout, stderr, "--out notes", "not an evaluation")
    assert [path.name for path in (cli_env / "notes").iterdir()] == ["a.txt"]


def test_the_driver_of_a_ray_run_does_not_load_the_trading_stack() -> None:
    """The driver validates the spec, plans, stores and reports; only the cells (in the Ray
    workers) need torch, SB3 and the analysts, seconds of imports a driver would add to every
    command's fixed start."""
    probe = (
        "import sys\n"
        "import orchestrator.evaluation.evaluate\n"
        "heavy = ('torch', 'stable_baselines3', 'langgraph', 'langchain_openai')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_a_local_runtime_keeps_token_authentication_without_the_notice() -> None:
    """Ray turns token authentication on for a new local runtime and warns so on every start:
    the runtime `evaluate` starts keeps the protection, and its stderr stays for its own lines."""
    probe = (
        "import ray\n"
        "from orchestrator.evaluation.runner import start_ray\n"
        "start_ray(None, 1)\n"
        "from ray._private.authentication.authentication_utils import is_token_auth_enabled\n"
        "print(is_token_auth_enabled())\n"
        "ray.shutdown()\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    started = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    assert "Token authentication" not in started.stderr
    assert started.stdout.split() == ["True"]


def test_a_cell_charges_the_llm_dollars_at_the_bar_they_were_spent() -> None:
    """Gateway mode: each bar's LLM calls come out of the strategy's equity at that bar's close,
    so a strategy is judged after paying for its analysts, and when it paid."""
    recorder = BacktestRecorder()
    account = PortfolioState.opening(1_000.0)
    for day, cost in enumerate((0.0, 0.0, 10.0, 0.0)):
        recorder.begin_bar(pd.Timestamp("2020-01-01") + pd.Timedelta(days=day), close=100.0)
        if cost:
            recorder.record_llm_call(LedgerEntry("meta_orchestrator", "m", "m", 1, 1, cost))
        recorder.record_state(portfolio=account, weights=HedgeWeights(), llm_view=None)
    frame = recorder.frame()
    assert frame["llm_usd"].tolist() == [0.0, 0.0, 10.0, 0.0]
    run = StrategyResult("llm", frame, recorder.activity, llm_asks=1)

    record = strategy_record(run, periods_per_year=252)
    assert record["returns"] == pytest.approx([0.0, -0.01, 0.0])  # $10 of $1,000, at bar 2 only
    assert record["llm_usd"] == 10.0
    assert record["total_return"] == pytest.approx(-0.01)


def test_a_gateway_evaluation_s_cap_is_shared_equally_by_its_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each machine of a cluster keeps its own budgets: `--max-cost` gives every cell an equal
    share as its hard cap, so the cells' spend sums to at most the cap wherever they run."""
    capped = plan_evaluation(tiny_spec(llm_mode="gateway", max_cost_usd=1.0))
    assert [cell.max_cost_usd for cell in capped.cells] == [0.5, 0.5]
    uncapped = plan_evaluation(tiny_spec(llm_mode="gateway")).cells[0]
    assert uncapped.max_cost_usd is None
    assert capped.cells[0].key != uncapped.key  # calls past the cap are skipped: other numbers
    with pytest.raises(ConfigError, match="only with --llm gateway"):
        tiny_spec(max_cost_usd=1.0)  # nothing to pay: a cap would be ignored, so it is refused

    caps: list[float | None] = []

    def backtest(*_args: object, max_cost_usd: float | None = None, **_kwargs: object) -> None:
        caps.append(max_cost_usd)
        raise InterruptedError  # the cell's training is done: enough

    monkeypatch.setattr("orchestrator.evaluation.cell.run_backtest", backtest)
    with pytest.raises(InterruptedError):
        run_cell(replace(plan_evaluation(tiny_spec()).cells[0], max_cost_usd=0.25), tiny_spec())
    assert caps == [0.25]


def test_one_cell_has_no_spread_rather_than_a_spread_of_zero() -> None:
    from orchestrator.evaluation.report import _pm
    from orchestrator.evaluation.statistics import _sd

    assert _sd([0.5]) is None and _sd([]) is None and _sd([0.5, 0.7]) == pytest.approx(0.1414, 1e-3)
    assert _pm({"sharpe": 0.5}, {"sharpe": None}, "sharpe", "{:.2f}") == "0.50"
    assert _pm({"sharpe": 0.5}, {"sharpe": 0.0}, "sharpe", "{:.2f}") == "0.50 ± 0.00"
