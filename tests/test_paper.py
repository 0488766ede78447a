"""The paper-trade loop end to end on a tiny agent, its command, and the journals it refuses.

The crash test, which kills the real command, is in test_paper_crash.py.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from agents import DRLAgent
from llm import build_analyst_team, load_settings
from orchestrator.errors import ConfigError
from orchestrator.execution.broker import client_order_id
from orchestrator.jobs import trader_choices
from orchestrator.journal import JournalReader
from orchestrator.reports import build_weights_report
from orchestrator.reports.backtest import backtest_metrics, strategy_metrics
from orchestrator.reports.weights_files import summary_markdown
from orchestrator.runs.activity import Activity
from orchestrator.runs.backtest import BacktestConfig, BacktestResult, run_backtest
from orchestrator.runs.display import LineDisplay, LiveDisplay
from orchestrator.runs.paper import (
    SOURCES_ALONE,
    Pacer,
    backtest_sources_alone,
    journaled_account,
    run_paper,
)
from orchestrator.runs.paper_config import (
    CACHE_SUFFIX,
    LEDGER_SUFFIX,
    PaperConfig,
    paper_llm_settings,
)
from orchestrator.runs.progress import BarProgress, PaperResult, RunHeader
from orchestrator.trader.market import load_trading_market
from tests.paper_helpers import END, N_BARS, assert_one_error_line, paper_args, run_cli, tiny_agent

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture(scope="module")
def finished(agent: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PaperResult]:
    """One whole paper run, in this process, and its result."""
    journal = tmp_path_factory.mktemp("run") / "journal.sqlite"
    settings = load_settings({}, env_file=None)
    result = run_paper(agent, "synthetic", "offline", journal, end=END, settings=settings)
    return journal, result


def table(journal: Path, query: str) -> pd.DataFrame:
    with sqlite3.connect(journal) as connection:
        return pd.read_sql_query(query, connection)


# ---- a whole run -------------------------------------------------------------------------------


def test_every_bar_is_decided_once_in_order_and_every_order_fills_at_the_next_open(
    finished: tuple[Path, PaperResult], agent: Path
) -> None:
    journal, result = finished
    bars = table(journal, "SELECT bar_index FROM bars ORDER BY rowid")["bar_index"]
    first = int(bars.iloc[0])
    assert list(bars) == list(range(first, first + N_BARS))
    decisions = table(journal, "SELECT bar_index FROM decisions ORDER BY rowid")["bar_index"]
    assert list(decisions) == list(bars)

    orders = table(journal, "SELECT * FROM orders ORDER BY rowid")
    checks = table(journal, "SELECT bar_index, order_shares FROM risk_checks")
    ordering_bars = checks.loc[checks["order_shares"] != 0.0, "bar_index"]
    assert list(orders["bar_index"]) == list(ordering_bars) and len(orders) > 5
    run_id = table(journal, "SELECT run_id FROM run")["run_id"].iloc[0]
    expected_ids = [
        client_order_id(run_id, int(bar), intent)
        for bar, intent in zip(orders["bar_index"], orders["intent"], strict=True)
    ]
    assert list(orders["client_order_id"]) == expected_ids
    assert (orders["duplicate"] == 0).all()

    fills = table(journal, "SELECT * FROM fills ORDER BY rowid").set_index("client_order_id")
    sent = orders[orders["broker_order_id"] != "not-sent"].set_index("client_order_id")
    last_bar = first + N_BARS - 1
    for client_id, order in sent.iterrows():
        if order["bar_index"] == last_bar:  # no next open to fill it: still working
            assert order["status"] == "accepted" and client_id not in fills.index
            continue
        fill = fills.loc[client_id]
        assert fill["bar_index"] == order["bar_index"] + 1 and fill["shares"] == order["quantity"]
        assert order["status"] == "filled"

    equity = table(journal, "SELECT equity FROM positions ORDER BY bar_index")["equity"]
    assert result.final_equity == equity.iloc[-1]
    assert (result.total, result.bars_new, result.bars_resumed) == (N_BARS, N_BARS, 0)
    assert result.activity.fills == len(fills) and result.activity.orders_sent == len(sent)
    assert result.activity.llm_cost_usd == 0.0


def test_buy_and_hold_is_the_same_cash_held_over_the_same_bars(
    finished: tuple[Path, PaperResult], agent: Path
) -> None:
    journal, result = finished
    bars = table(journal, "SELECT open, close FROM bars ORDER BY bar_index")
    # The one order semantics: sized at the first decision's close, filled at the next open,
    # with the buy costs (1 bp commission, 2 bp slippage). The summary shows envs.buy_and_hold,
    # the same benchmark as the backtest's row and the agent's evaluation.
    costs = 1.0002 * 1.0001
    shares = 100_000.0 / (bars["close"].iloc[0] * costs)
    cash = 100_000.0 - shares * bars["open"].iloc[1] * costs
    expected = cash + shares * bars["close"].iloc[-1]
    assert result.buy_and_hold_equity == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def backtested(agent: Path, tmp_path_factory: pytest.TempPathFactory) -> BacktestResult:
    """The backtest's sources alone and hybrid_learned over the bars of the `finished` run."""
    ledger = tmp_path_factory.mktemp("backtest") / "ledger.sqlite"
    settings = load_settings({"LLM_LEDGER_PATH": str(ledger)}, env_file=None)
    trained = DRLAgent.load(agent)
    with build_analyst_team("offline", settings=settings) as team:
        market = load_trading_market(trained, "synthetic", end=END)
        config = BacktestConfig(strategies=(*SOURCES_ALONE, "hybrid_learned"))
        return run_backtest(trained, market, team, config)


def test_the_paper_run_trades_exactly_as_the_backtest_s_hybrid_learned(
    finished: tuple[Path, PaperResult], backtested: BacktestResult
) -> None:
    journal, _ = finished
    backtest = backtested.strategies["hybrid_learned"]
    positions = table(journal, "SELECT equity FROM positions ORDER BY bar_index")
    np.testing.assert_array_equal(positions["equity"].to_numpy(), backtest.frame["equity"])

    # Read back from the journal, the account is the backtest's row, metric for metric.
    with JournalReader.open(journal) as reader:
        account = journaled_account(reader)
    pd.testing.assert_frame_equal(account.frame, backtest.frame)
    assert account.fills == backtest.fills
    assert account.fills  # it traded: the trade statistics compare something
    periods = backtested.periods_per_year
    expected = strategy_metrics(backtest, periods)
    read_back = strategy_metrics(account, periods)
    assert read_back == {name: expected[name] for name in read_back}


def test_the_weights_report_puts_the_backtest_s_rows_beside_the_account(
    finished: tuple[Path, PaperResult], backtested: BacktestResult, agent: Path, tmp_path: Path
) -> None:
    journal, _ = finished
    backtest = backtest_metrics(backtested)["strategies"]
    settings = load_settings({"LLM_LEDGER_PATH": str(tmp_path / "ledger.sqlite")}, env_file=None)
    with JournalReader.open(journal) as reader:
        alone = backtest_sources_alone(reader, agent, settings=settings, say=lambda _: None)
        report = build_weights_report(reader, alone)
    assert report.sources_alone == {name: backtest[name] for name in SOURCES_ALONE}
    hybrid = backtest["hybrid_learned"]
    assert report.account == {name: hybrid[name] for name in report.account}
    summary = summary_markdown(report)
    sections = ("## What the account earned", "## The learned mix", "## Each source alone")
    assert [summary.index(section) for section in sections] == sorted(
        summary.index(section) for section in sections
    )
    assert f"| drl | {backtest['drl']['total_return']:+.2%} |" in summary


def test_the_llm_ledger_and_cache_sit_beside_the_journal_unless_set(tmp_path: Path) -> None:
    journal = tmp_path / "runs" / "j.sqlite"
    settings = paper_llm_settings(load_settings({}, env_file=None), journal)
    assert settings.ledger_path == tmp_path / "runs" / f"j.sqlite{LEDGER_SUFFIX}"
    assert settings.cache_path == tmp_path / "runs" / f"j.sqlite{CACHE_SUFFIX}"
    chosen = load_settings({"LLM_LEDGER_PATH": "shared.sqlite"}, env_file=None)
    assert paper_llm_settings(chosen, journal).ledger_path == Path("shared.sqlite")


# ---- the command -------------------------------------------------------------------------------


def test_the_command_runs_then_resuming_the_complete_journal_changes_nothing(
    agent: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = cli_env / "journal.sqlite"
    code, stdout, stderr = run_cli(capsys, *paper_args(agent, journal))
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("paper trading SYNTHETIC 2006-12-29 to 2007-06-29")
    assert f"bar {N_BARS}/{N_BARS}:" in stdout  # the line display (stdout is not a terminal)
    assert f"{N_BARS} bars: {N_BARS} traded now, 0 resumed" in stdout
    assert (cli_env / f"journal.sqlite{LEDGER_SUFFIX}").is_file()

    before = journal.read_bytes()
    code, stdout, stderr = run_cli(capsys, *paper_args(agent, journal))
    assert code == 0, stderr
    assert stdout.splitlines()[0] == (
        f"journal {journal} is complete ({N_BARS} bars): nothing to do; its results are:"
    )
    assert journal.read_bytes() == before

    weights = ("weights", "--journal", str(journal), "--out", "w", "--agent", str(agent))
    code, stdout, stderr = run_cli(capsys, *weights)
    assert code == 0, stderr
    assert "drl over the same bars: " in stdout
    report = json.loads((cli_env / "w" / "weights.json").read_text())
    assert set(report["sources_alone"]) == set(SOURCES_ALONE)
    again = run_cli(capsys, *weights)
    assert_one_error_line(*again, "--out w: the folder already holds files", "--force")
    assert run_cli(capsys, *weights, "--force")[0] == 0
    assert report["n_updates"] == N_BARS - 2  # a decision is scored once held open to open
    # The LLM's reliability: every view replaced before the last bar is scored in some bin.
    reliability = report["llm_reliability"]
    assert len(reliability) == 5 and sum(row["n"] for row in reliability) > 0
    summary = (cli_env / "w" / "summary.md").read_text()
    assert "How reliable the LLM's stated confidence was" in summary
    assert "delayed AdaHedge's bound (the run's learner), on the weights each decision" in summary


def test_the_market_and_cash_experts_are_learned_journaled_and_resumed(
    agent: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = cli_env / "experts.sqlite"
    experts = ("--experts", "drl,llm,market,cash")
    code, _, stderr = run_cli(capsys, *paper_args(agent, journal, *experts))
    assert code == 0, stderr
    extras = table(journal, "SELECT extras_json FROM weight_updates")["extras_json"]
    assert len(extras) == N_BARS - 2
    last = json.loads(extras.iloc[-1])
    assert set(last) == {"market", "cash"} and last["market"]["position"] == 1.0
    assert last["cash"]["position"] == 0.0 and last["cash"]["loss"] == 0.0
    # Resuming under other experts is another run: refused, the journal left as it is.
    before = journal.read_bytes()
    assert_one_error_line(*run_cli(capsys, *paper_args(agent, journal)), str(journal))
    assert journal.read_bytes() == before
    code, _, stderr = run_cli(capsys, "weights", "--journal", str(journal), "--out", "w")
    assert code == 0, stderr
    weights = json.loads((cli_env / "w" / "weights.json").read_text())["final_weights"]
    assert set(weights) == {"drl", "llm", "market", "cash"}
    assert sum(weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--experts", "drl,market"), "--experts 'drl,market'"),
        (("--experts", "drl,llm,gold"), "--experts 'drl,llm,gold'"),
        (("--experts", "drl,llm,cash", "--combiner", "seed"), "needs --combiner mixture"),
    ],
)
def test_bad_expert_choices_are_one_error_line(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    options: tuple[str, ...],
    named: str,
) -> None:
    journal = cli_env / "j.sqlite"
    assert_one_error_line(*run_cli(capsys, *paper_args(agent, journal, *options)), named)
    assert not journal.exists()


def test_every_default_threshold_of_the_seed_rule_fires_on_a_trained_agent(
    agent: Path, tmp_path: Path
) -> None:
    """The seed rule's defaults on the confidences a trained agent and the offline analyst really
    produce: each condition holds on some bars and fails on others (a default that can never
    fire, like the old absolute 0.7 agreement threshold, is a defect)."""
    journal = tmp_path / "seed.sqlite"
    settings = load_settings({}, env_file=None)
    config = PaperConfig(trader=trader_choices("seed"))
    run_paper(agent, "synthetic", "offline", journal, end=END, settings=settings, config=config)
    decisions = table(journal, "SELECT * FROM decisions")
    combiner = config.trader.for_agent(DRLAgent.load(agent)).combiner
    sure_cut = combiner.agree_drl_confidence
    assert sure_cut is not None
    conditions = {
        "DRL sure": decisions["drl_confidence"] >= sure_cut,
        "LLM sure": decisions["llm_confidence"] >= combiner.agree_threshold,
        "score above the buy threshold": decisions["score"] >= combiner.buy_threshold,
        "score in the dead zone": decisions["score"].abs() < combiner.buy_threshold,
    }
    for name, holds in conditions.items():
        assert 0 < holds.sum() < len(decisions), name


class StopAfter(LineDisplay):
    """A display that stops the run after `bars` bars, as a kill would."""

    def __init__(self, bars: int) -> None:
        super().__init__(stream=io.StringIO())
        self.bars = bars

    def update(self, progress: BarProgress) -> None:
        if progress.done == self.bars:
            raise KeyboardInterrupt


def test_the_weights_report_of_an_unfinished_run_says_how_much_it_covers(
    agent: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "cut.sqlite"
    settings = load_settings({}, env_file=None)
    with pytest.raises(KeyboardInterrupt):
        run_paper(
            agent,
            "synthetic",
            "offline",
            journal,
            end=END,
            settings=settings,
            display=StopAfter(40),
        )
    with JournalReader.open(journal) as reader:
        report = build_weights_report(reader)
    assert (report.bars_traded, report.bars_to_trade, report.unfinished) == (40, N_BARS, True)
    assert (
        f"**Unfinished run**: the journal holds 40 of the {N_BARS} bars its data held to trade"
        in summary_markdown(report)
    )


def test_a_journal_of_another_agent_is_refused_and_left_as_it_is(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[Path, PaperResult],
) -> None:
    journal, _ = finished
    other = cli_env / "other-agent"
    other.mkdir()
    for item in agent.iterdir():
        if item.is_file():
            (other / item.name).write_bytes(item.read_bytes())
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["seeds"] = [manifest["seeds"][0] + 1]
    (other / "manifest.json").write_text(json.dumps(manifest))
    before = journal.read_bytes()
    result = run_cli(capsys, *paper_args(other, journal))
    assert_one_error_line(*result, f"journal {journal} was made by another run", "agent_hash")
    assert journal.read_bytes() == before
    out = cli_env / "weights"
    result = run_cli(
        capsys, "weights", "--journal", str(journal), "--out", str(out), "--agent", str(other)
    )
    assert_one_error_line(*result, f"agent {other} is not the agent that traded journal {journal}")
    assert not out.exists()


def test_a_journal_of_other_bars_is_refused(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[Path, PaperResult],
) -> None:
    journal, _ = finished
    args = paper_args(agent, journal)
    args[args.index("--end") + 1] = "2007-05"
    assert_one_error_line(*run_cli(capsys, *args), "the data given ends at 2007-05-31")


def test_a_resume_with_a_start_before_its_first_decision_is_the_same_run(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[Path, PaperResult],
) -> None:
    """The journal pins the first decision, and `--start` cuts no past that the run saw: the
    features and the analysts' charts both read the bars before it, and so does the data hash."""
    journal = cli_env / "copy.sqlite"
    shutil.copy(finished[0], journal)
    code, stdout, stderr = run_cli(capsys, *paper_args(agent, journal, "--start", "2005-02"))
    assert code == 0, stderr
    assert "resum" in stdout.lower(), stdout


def test_a_journal_resumed_with_another_year_of_bars_is_refused(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[Path, PaperResult],
) -> None:
    """The LLM's window is a week of bars, so another --periods-per-year is another run."""
    journal, _ = finished
    before = journal.read_bytes()
    args = [*paper_args(agent, journal), "--periods-per-year", "365"]
    assert_one_error_line(*run_cli(capsys, *args), "was made by another run", "'every_bars': 7")
    assert journal.read_bytes() == before


_HOLD_THE_LOCK = """
import sys
from pathlib import Path
from orchestrator.journal.schema import JournalLock
lock = JournalLock.acquire(Path(sys.argv[1]))  # held until this process ends
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_journal_another_process_writes_is_refused(
    agent: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = cli_env / "journal.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_LOCK, str(journal)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = run_cli(capsys, *paper_args(agent, journal))
    finally:
        holder.communicate("", timeout=60)
    assert_one_error_line(*result, f"journal {journal} is in use by another run", str(holder.pid))
    assert not journal.exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupted_journal_is_refused_and_left_byte_identical(
    agent: Path,
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    finished: tuple[Path, PaperResult],
    damage: str,
) -> None:
    journal = cli_env / "journal.sqlite"
    if damage == "garbage":
        journal.write_bytes(b"not a journal at all\n" * 100)
    else:
        data = finished[0].read_bytes()
        journal.write_bytes(data[: len(data) // 2])
    before = journal.read_bytes()
    result = run_cli(capsys, *paper_args(agent, journal))
    assert_one_error_line(*result, str(journal))
    assert journal.read_bytes() == before


def test_gateway_mode_without_a_key_is_the_llm_configuration_error(
    agent: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = cli_env / "journal.sqlite"
    args = paper_args(agent, journal)
    args[args.index("--llm") + 1] = "gateway"
    assert_one_error_line(*run_cli(capsys, *args), "OPENROUTER_API_KEY")
    assert not journal.exists()


# ---- pacing and display ------------------------------------------------------------------------


def test_the_pacer_holds_each_bar_to_its_pace_without_catching_up() -> None:
    now, slept = [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait()  # the first bar at once
    now[0] += 0.5  # a bar that took 0.5 s
    pacer.wait()
    now[0] += 3.0  # a slow bar: the next one starts at once
    pacer.wait()
    now[0] += 1.0
    pacer.wait()
    assert slept == [1.5, 1.0]
    with pytest.raises(ConfigError, match="seconds_per_bar"):
        Pacer(-1.0)


HEADER = RunHeader(
    journal=Path("j.sqlite"),
    symbol="SP500",
    llm_mode="offline",
    first_day=pd.Timestamp("2015-01-02").date(),
    last_day=pd.Timestamp("2015-01-09").date(),
    total=6,
    resumed=2,
)


def progress(done: int) -> BarProgress:
    return BarProgress(
        day=pd.Timestamp("2015-01-02").date() + pd.Timedelta(days=done),
        done=done,
        total=6,
        position=0.5,
        equity=101_234.5,
        drl_weight=0.625,
        activity=Activity(orders_sent=3, orders_vetoed=1, fills=2, llm_cost_usd=0.0123),
    )


def test_the_line_display_writes_every_few_bars_and_the_last() -> None:
    stream = io.StringIO()
    display = LineDisplay(every=2, stream=stream)
    display.start(HEADER)
    for done in range(3, 7):
        display.update(progress(done))
    display.stop()
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "paper trading SP500 2015-01-02 to 2015-01-09 (LLM offline): resuming after 2 of 6"
        " bars; journal j.sqlite"
    )
    assert [line.split(":")[0] for line in lines[1:]] == [
        "2015-01-06 bar 4/6",
        "2015-01-08 bar 6/6",
    ]
    assert lines[-1].endswith(
        "position +0.50, equity 101,234.50, weights DRL 0.625 / LLM 0.375,"
        " orders 3 (vetoed 1), fills 2, LLM $0.0123"
    )


def test_the_live_display_shows_the_latest_bar() -> None:
    stream = io.StringIO()
    display = LiveDisplay(Console(file=stream, force_terminal=True, width=100))
    display.start(HEADER)
    display.update(progress(5))
    display.stop()
    text = stream.getvalue()
    for part in ("2015-01-07", "(5/6)", "+0.50", "101,234.50", "DRL 0.625 / LLM 0.375", "$0.0123"):
        assert part in text
