"""One buy and hold everywhere: on sp500 2015-2018 (its test split) the backtest's row, the paper
run's summary and the agent's evaluation hold the same cash over the same bars to the same cent.

The agent is the paper tests' tiny DQN, trained on the synthetic source: its features are the
same as sp500's, which is all a run on another source needs. Buy and hold does not depend on
what it learned, only on its window (the first decision) and its cost model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents import DRLAgent
from agents.training.evaluation import BUY_AND_HOLD, evaluate_agent
from envs import buy_and_hold
from llm import AnalystTeam, load_settings
from orchestrator.runs.backtest import BacktestConfig, run_backtest
from orchestrator.runs.paper import run_paper
from orchestrator.trader.market import TradingMarket, load_trading_market
from tests.paper_helpers import tiny_agent

CASH = 100_000.0


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture(scope="module")
def sp500(agent_dir: Path) -> TradingMarket:
    return load_trading_market(DRLAgent.load(agent_dir), "sp500")


def test_the_backtest_the_paper_summary_and_the_evaluation_agree_on_sp500_2015_2018(
    agent_dir: Path, team: AnalystTeam, sp500: TradingMarket, tmp_path: Path
) -> None:
    agent = DRLAgent.load(agent_dir)
    assert agent.env_config.initial_cash == CASH
    config = BacktestConfig(initial_cash=CASH, strategies=("buy_and_hold",))
    backtest = run_backtest(agent, sp500, team, config).strategies["buy_and_hold"]
    paper = run_paper(
        agent_dir,
        "sp500",
        "offline",
        tmp_path / "journal.sqlite",
        settings=load_settings({}, env_file=None),
    )
    evaluation = evaluate_agent(agent, sp500.arrays, "test")

    first, arrays = sp500.first_bar, sp500.arrays
    assert str(sp500.day(first + 1)) == evaluation.first_date == "2015-01-02"
    assert evaluation.last_date == "2018-12-31"
    in_backtest = float(backtest.frame["equity"].iloc[-1])
    in_evaluation = CASH * (1.0 + evaluation.strategies[BUY_AND_HOLD]["total_return"])
    # All in at the first fill, the open of 2015-01-02, costs paid; marked at the last close.
    costs = agent.env_config.cost_model
    by_hand = CASH / (arrays.open[first + 1] * (1.0 + costs.buy_cost_rate)) * arrays.close[-1]
    assert in_backtest == paper.buy_and_hold_equity
    assert in_evaluation == pytest.approx(in_backtest, rel=1e-12)
    assert in_backtest == pytest.approx(by_hand, rel=1e-12)
    assert paper.initial_cash == CASH


def test_the_backtest_s_buy_and_hold_is_never_stopped_out(
    agent_dir: Path, team: AnalystTeam, sp500: TradingMarket
) -> None:
    # Through the risk manager it was stopped out in February 2016 and bought back the next day
    # (3 fills); pure, it holds the one fill to the end, however far it falls.
    agent = DRLAgent.load(agent_dir)
    config = BacktestConfig(initial_cash=CASH, strategies=("buy_and_hold",))
    run = run_backtest(agent, sp500, team, config).strategies["buy_and_hold"]
    assert run.activity.fills == run.activity.orders_sent == 1
    assert (run.frame["held_position"].iloc[1:] == 1.0).all()
    assert (run.frame["position"].iloc[1:] > 0.999).all()
    hold = buy_and_hold(sp500.arrays, sp500.first_bar, CASH, agent.env_config.cost_model)
    np.testing.assert_array_equal(run.frame["equity"].to_numpy(), hold.equity)


def test_drl_alone_goes_through_the_risk_manager_but_asks_no_llm(
    agent_dir: Path, team: AnalystTeam, sp500: TradingMarket
) -> None:
    agent = DRLAgent.load(agent_dir)
    config = BacktestConfig(initial_cash=CASH, strategies=("buy_and_hold", "drl", "llm"))
    result = run_backtest(agent, sp500, team, config)
    assert result.order_checks == {"risk_manager": ("drl", "llm"), "execution_check": ("llm",)}
    drl, llm = result.strategies["drl"], result.strategies["llm"]
    assert drl.activity.orders_sent > 0 and drl.activity.llm_calls == 0
    assert llm.activity.llm_calls > 0
