"""One backtest from an agent directory to a report folder: what `backtest` and `pipeline` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.drl_agent import DRLAgent
from envs.sources import DateLike
from llm.factory import LLMMode, build_analyst_team
from llm.settings import LLMSettings
from orchestrator.backtest import BacktestResult, run_backtest
from orchestrator.backtest_report import write_backtest_report
from orchestrator.offline_execution_rule import OFFLINE_EXECUTION_RULES
from orchestrator.trading_market import load_trading_market


@dataclass(frozen=True)
class BacktestOutput:
    result: BacktestResult
    files: dict[str, Path]

    def summary_lines(self) -> list[str]:
        """Each strategy's total return, then the files written."""
        lines = []
        for name, run in self.result.strategies.items():
            equity = run.frame["equity"]
            lines.append(f"{name:>15}: {equity.iloc[-1] / equity.iloc[0] - 1.0:+.2%} total return")
        lines.extend(f"wrote {path}" for path in self.files.values())
        return lines


def backtest_agent(
    agent_dir: Path,
    source: str,
    llm_mode: LLMMode,
    out_dir: Path,
    *,
    start: DateLike = None,
    end: DateLike = None,
    settings: LLMSettings | None = None,
) -> BacktestOutput:
    """Backtest the five strategies of the agent in `agent_dir` on `source`'s test split."""
    # The LLM side first: a missing key is reported before any data is loaded.
    with build_analyst_team(
        llm_mode, settings=settings, offline_rules=OFFLINE_EXECUTION_RULES
    ) as team:
        agent = DRLAgent.load(agent_dir)
        market = load_trading_market(agent, source, start, end)
        result = run_backtest(agent, market, team)
    return BacktestOutput(result, write_backtest_report(result, out_dir))
