"""A backtest of any period: `--start` before the test split trades from there, and a period the
agent trained on is called in-sample in the title and every table."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agents import DRLAgent
from envs import load_market_data
from llm import AnalystTeam, load_settings
from orchestrator.jobs import backtest_agent
from orchestrator.journal import JournalReader
from orchestrator.reports import build_weights_report
from orchestrator.reports.weights_files import summary_markdown
from orchestrator.runs import BacktestConfig, run_backtest
from orchestrator.runs.display import LineDisplay
from orchestrator.runs.paper import run_paper
from orchestrator.trader import load_trading_market
from tests.paper_helpers import tiny_agent


def test_a_period_the_agent_trained_on_is_traded_and_called_in_sample(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    agent = tiny_agent(tmp_path_factory)  # trained on synthetic 2005 to mid-2006
    settings = load_settings({}, env_file=None)
    out = tmp_path / "bt"
    backtest_agent(
        agent, "synthetic", "offline", out, start="2005-06", end="2005-12", settings=settings
    )
    run = json.loads((out / "metrics.json").read_text())["run"]
    assert run["in_sample"] is True
    assert run["first_decision"].startswith("2005-06") and run["last_bar"] == "2005-12-30"
    table = (out / "metrics.md").read_text()
    assert table.splitlines()[0].startswith("# Backtest (IN-SAMPLE): synthetic")
    headings = [line for line in table.splitlines() if line.startswith("## ")]
    assert headings[:2] == [
        "## Per bar (IN-SAMPLE)",
        "## Per trade (IN-SAMPLE) (the list: trades.csv)",
    ]


def test_a_paper_run_of_such_a_period_and_its_weights_report_say_in_sample(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    agent = tiny_agent(tmp_path_factory)
    settings = load_settings({}, env_file=None)
    journal = tmp_path / "j.sqlite"
    shown = io.StringIO()
    run_paper(
        agent,
        "synthetic",
        "offline",
        journal,
        start="2005-06",
        end="2005-09",
        settings=settings,
        display=LineDisplay(stream=shown),
    )
    header = shown.getvalue().splitlines()[0]
    assert "(IN-SAMPLE: the agent trained or was selected on some of these bars)" in header
    with JournalReader.open(journal) as reader:
        summary = summary_markdown(build_weights_report(reader))
    assert summary.splitlines()[0] == "# Learned DRL/LLM weights (IN-SAMPLE)"
    assert "**In-sample**" in summary


def test_the_analysts_see_the_past_before_start_as_the_agent_s_features_do(
    tmp_path_factory: pytest.TempPathFactory, team: AnalystTeam
) -> None:
    """`--start` cuts what is traded, not what is seen: the first snapshot's chart reaches back
    before it, so a backtest from `--start` and the same bars pinned by their first decision (the
    weights report's "each source alone" for a paper run of that period) ask the same prompts."""
    agent = DRLAgent.load(tiny_agent(tmp_path_factory))
    market = load_trading_market(agent, "synthetic", start="2006-09", end="2006-12")
    assert market.history.index[0] == load_market_data("synthetic").index[0]
    pinned = load_trading_market(
        agent, "synthetic", end="2006-12", first_decision=market.timestamp(market.first_bar)
    )
    assert pinned.data_hash == market.data_hash
    config = BacktestConfig(strategies=("buy_and_hold", "llm"))
    from_start, from_pin = (
        run_backtest(agent, traded, team, config, say=lambda _: None) for traded in (market, pinned)
    )
    assert from_start.strategies["llm"].frame.equals(from_pin.strategies["llm"].frame)
