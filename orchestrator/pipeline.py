"""The main job: train a small agent, backtest it, paper trade it, and evaluate the learned weights.

Each run writes into a fresh timestamped folder, so re-running never meets a journal made with
another agent (which the paper loop would rightly refuse) and earlier results stay for comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agents.config import TrainConfig
from agents.training import train_agents
from llm.factory import LLMMode
from orchestrator.backtest_job import backtest_agent
from orchestrator.journal import JournalReader
from orchestrator.paper import run_paper
from orchestrator.paper_display import PaperDisplay
from orchestrator.weights_report import build_weights_report
from orchestrator.weights_report_files import write_weights_report

# Enough DQN steps to leave the random policy behind, few enough for minutes on 2 cores.
DEFAULT_PIPELINE_TIMESTEPS = 50_000


@dataclass(frozen=True)
class PipelineConfig:
    data: str = "sp500"
    algo: str = "dqn"
    timesteps: int = DEFAULT_PIPELINE_TIMESTEPS
    seed: int = 0
    llm_mode: LLMMode = "offline"


@dataclass(frozen=True)
class PipelineFolders:
    """Where one run of the main job puts everything."""

    root: Path

    @classmethod
    def new(cls, out: Path, now: dt.datetime | None = None) -> PipelineFolders:
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        return cls(out / stamp)

    @property
    def agent(self) -> Path:
        return self.root / "agent"

    @property
    def backtest(self) -> Path:
        return self.root / "backtest"

    @property
    def journal(self) -> Path:
        return self.root / "paper-journal.sqlite"

    @property
    def weights(self) -> Path:
        return self.root / "weights"


def run_pipeline(
    config: PipelineConfig,
    folders: PipelineFolders,
    say: Callable[[str], None],
    paper_display: PaperDisplay | None = None,
    progress_bar: bool = True,
) -> None:
    """Train -> backtest -> paper trade -> weights report, telling `say` where each result is."""
    say(f"1/4 training a {config.algo.upper()} agent on {config.data} into {folders.agent}")
    train_agents(
        TrainConfig(
            algo=config.algo,
            data=config.data,
            out=folders.agent,
            timesteps=config.timesteps,
            seeds=(config.seed,),
        ),
        progress_bar=progress_bar,
    )
    say(f"2/4 backtesting five strategies on the test split into {folders.backtest}")
    backtest = backtest_agent(folders.agent, config.data, config.llm_mode, folders.backtest)
    for line in backtest.summary_lines():
        say(f"    {line}")
    say(f"3/4 paper trading the test split with the {config.llm_mode} LLM into {folders.journal}")
    paper = run_paper(
        folders.agent, config.data, config.llm_mode, folders.journal, display=paper_display
    )
    for line in paper.summary_lines():
        say(f"    {line}")
    say(f"4/4 evaluating the learned weights into {folders.weights}")
    with JournalReader.open(folders.journal) as reader:
        report = build_weights_report(reader)
    for path in write_weights_report(report, folders.weights).values():
        say(f"    wrote {path}")
    say(f"done: everything is under {folders.root}")
