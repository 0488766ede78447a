"""The jobs behind the commands, as a Python API: backtest an agent directory into a report folder,
the main pipeline (train -> backtest -> paper trade -> weights report), and Alpaca's bars fed into
a CSV for `paper --follow`.

The pipeline writes into a fresh timestamped folder, so re-running never meets a journal made with
another agent (which the paper loop would rightly refuse) and earlier results stay for comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt

from agents import (
    AgentError,
    DRLAgent,
    TrainConfig,
    check_output_directory,
    train_agents,
    training_setup,
)
from envs import DateLike, MarketDataError, describe_market, parse_date_option
from llm import LLMMode, LLMSettings, build_analyst_team
from orchestrator.checks import Settings
from orchestrator.errors import ConfigError
from orchestrator.journal import JournalReader
from orchestrator.memory import MemoryConfig
from orchestrator.reports import (
    WeightsReport,
    build_weights_report,
    write_backtest_report,
    write_weights_report,
)
from orchestrator.runs import (
    BacktestConfig,
    BacktestResult,
    IdlePoller,
    PaperDisplay,
    backtest_sources_alone,
    run_backtest,
    run_paper,
)
from orchestrator.trader import (
    COMBINER_RULES,
    DEFAULT_LEARNER,
    EXTRA_EXPERTS,
    LEARNERS,
    TraderConfig,
    load_trading_market,
)


@dataclass(frozen=True)
class BacktestOutput:
    """A finished backtest and the files its report was written to."""

    result: BacktestResult
    files: dict[str, Path]

    def summary_lines(self) -> list[str]:
        """Each strategy's total return (with its LLM answers, failed attempts and dollars, for
        one that asked), then the files written."""
        lines = []
        for name, run in self.result.strategies.items():
            equity = run.frame["equity"]
            line = f"{name:>15}: {equity.iloc[-1] / equity.iloc[0] - 1.0:+.2%} total return"
            activity = run.activity
            asked = activity.llm_calls or activity.llm_failed
            lines.append(f"{line}; {activity.llm_line()}" if asked else line)
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
    date_format: str | None = None,
    periods_per_year: int | None = None,
    max_cost_usd: float | None = None,
    learner: str = DEFAULT_LEARNER,
    force: bool = False,
) -> BacktestOutput:
    """Backtest every strategy of the agent in `agent_dir` on `source`'s test split; a gateway
    run first prints its cost estimate and is held to the budgets or to `max_cost_usd`.

    date_format: the strftime format of a file's dates (None: recognised). periods_per_year: bars
    in a year, for annualised metrics (None: inferred from the source's dates). learner: how the
    hybrids learn their weights (`--learner`: one of `LEARNERS`). force: write into `out_dir`
    even when it already holds files (else refused before anything runs).
    """
    config = BacktestConfig(trader=trader_choices(learner=learner))
    check_output_directory(out_dir, "--out", force=force)
    # Everything the user named is read before the analyst team opens its ledger, so that a
    # mistake leaves no file behind.
    agent = DRLAgent.load(agent_dir)
    market = load_trading_market(
        agent, source, start, end, date_format=date_format, periods_per_year=periods_per_year
    )
    with build_analyst_team(llm_mode, settings=settings) as team:
        result = run_backtest(agent, market, team, config, max_cost_usd=max_cost_usd)
    return BacktestOutput(result, write_backtest_report(result, out_dir))


def weights_report(
    journal: Path,
    out_dir: Path,
    *,
    agent_dir: Path | None = None,
    max_cost_usd: float | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> tuple[WeightsReport, dict[str, Path]]:
    """The learned-weights report of `journal` written into `out_dir`; with `agent_dir` (the
    agent the run traded), buy and hold, the DRL alone and the LLM alone are backtested over the
    journal's bars beside the account (a gateway run's LLM alone is asked again, under its cost
    estimate or `max_cost_usd`). force: write into `out_dir` even when it already holds files."""
    check_output_directory(out_dir, "--out", force=force)
    with JournalReader.open(journal) as reader:
        alone = None
        if agent_dir is not None:
            alone = backtest_sources_alone(reader, agent_dir, max_cost_usd=max_cost_usd, say=say)
        report = build_weights_report(reader, alone)
    return report, write_weights_report(report, out_dir)


def trader_choices(
    combiner: str = "mixture",
    experts: str = "drl,llm",
    *,
    memory: bool = False,
    learner: str = DEFAULT_LEARNER,
) -> TraderConfig:
    """The hybrid's settings from the command line's `--combiner`, `--experts` (comma-separated:
    drl and llm, optionally market and cash), `--memory` (a trade memory with its default
    settings) and `--learner` (one of `LEARNERS`); a bad choice is a ConfigError naming the
    option."""
    names = [name.strip() for name in experts.split(",")]
    extras = [name for name in names if name not in ("drl", "llm")]
    unknown = [name for name in extras if name not in EXTRA_EXPERTS]
    if "drl" not in names or "llm" not in names or unknown or len(set(names)) != len(names):
        raise ConfigError(
            f"--experts {experts!r}: give drl,llm and optionally {' and/or '.join(EXTRA_EXPERTS)},"
            " each once, comma-separated (e.g. drl,llm,market)"
        )
    if extras and combiner != "mixture":
        raise ConfigError(
            f"--experts {experts!r} needs --combiner mixture: the seed rule combines drl and llm"
            " only"
        )
    if learner not in LEARNERS:
        raise ConfigError(f"--learner {learner!r}: choose one of {', '.join(LEARNERS)}")
    if combiner not in COMBINER_RULES:
        raise ConfigError(f"--combiner {combiner!r}: choose one of {', '.join(COMBINER_RULES)}")
    default = TraderConfig()
    return default.copy_with(
        combiner=default.combiner.copy_with(rule=combiner),
        extra_experts=tuple(extras),
        memory=MemoryConfig() if memory else None,
        learner=learner,
    )


# Enough DQN steps to leave the random policy behind, few enough for minutes on 2 cores.
DEFAULT_PIPELINE_TIMESTEPS = 50_000


Algorithm = Literal["dqn", "ppo"]  # the agents' `TrainConfig.algo`


class PipelineConfig(Settings):
    """The main job's choices: the data (with the strftime format of a file's dates and its bars
    a year, None: read from the file), the agent's training budget and seed, the LLM mode."""

    data: Annotated[str, Field(min_length=1)] = "sp500"
    algo: Algorithm = "dqn"
    timesteps: PositiveInt = DEFAULT_PIPELINE_TIMESTEPS
    seed: NonNegativeInt = 0
    llm_mode: LLMMode = "offline"
    date_format: Annotated[str, Field(min_length=1)] | None = None
    periods_per_year: PositiveInt | None = None


@dataclass(frozen=True)
class PipelineFolders:
    """Where one run of the main job puts everything."""

    root: Path

    @classmethod
    def new(cls, out: Path, now: dt.datetime | None = None) -> PipelineFolders:
        """A folder named by the time under `out` (a file there is refused), never one that
        exists: a second run in the same second gets `-2`."""
        check_output_directory(out, "--out", force=True)
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        root, number = out / stamp, 1
        while root.exists():
            number += 1
            root = out / f"{stamp}-{number}"
        return cls(root)

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
    """Train -> backtest -> paper trade -> weights report, telling `say` where each result is.

    Every input is checked before step 1 (the data source and dates, whether they are long enough
    to train on, the LLM key in gateway mode), so that a mistake is not found after minutes of
    training.
    """
    describe_market(  # a file that is missing or malformed is refused as it is
        config.data, date_format=config.date_format, periods_per_year=config.periods_per_year
    )
    train_config = TrainConfig(
        algo=config.algo,
        data=config.data,
        out=folders.agent,
        timesteps=config.timesteps,
        seeds=(config.seed,),
        date_format=config.date_format,
        periods_per_year=config.periods_per_year,
    )
    try:
        training_setup(train_config)
    except (AgentError, MarketDataError) as exc:
        raise ConfigError(
            f"{exc}. The pipeline trains with the defaults; `hybrid-trader train` takes the"
            " options that change them"
        ) from None
    with build_analyst_team(config.llm_mode):
        pass  # gateway mode without a key is refused here
    say(f"1/4 training a {config.algo.upper()} agent on {config.data} into {folders.agent}")
    train_agents(train_config, progress_bar=progress_bar)
    say(f"2/4 backtesting every strategy on the test split into {folders.backtest}")
    backtest = backtest_agent(
        folders.agent,
        config.data,
        config.llm_mode,
        folders.backtest,
        date_format=config.date_format,
        periods_per_year=config.periods_per_year,
    )
    for line in backtest.summary_lines():
        say(f"    {line}")
    say(f"3/4 paper trading the test split with the {config.llm_mode} LLM into {folders.journal}")
    paper = run_paper(
        folders.agent,
        config.data,
        config.llm_mode,
        folders.journal,
        display=paper_display,
        date_format=config.date_format,
        periods_per_year=config.periods_per_year,
    )
    for line in paper.summary_lines():
        say(f"    {line}")
    say(f"4/4 evaluating the learned weights into {folders.weights}")
    _, files = weights_report(
        folders.journal,
        folders.weights,
        agent_dir=folders.agent,
        say=lambda line: say(f"    {line}"),
    )
    for path in files.values():
        say(f"    wrote {path}")
    say(f"done: everything is under {folders.root}")


def feed_alpaca(
    symbol: str,
    timeframe: str,
    path: Path,
    start: DateLike,
    *,
    follow: IdlePoller | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Append `symbol`'s closed `timeframe` bars from Alpaca (keys from the environment) after the
    last row of the CSV at `path`, or from `start` (UTC) for a new file; with `follow`, ask again
    as often and as long as it says. Returns the number of bars appended."""
    from orchestrator.execution.alpaca_bars import AlpacaBars, append_bars, last_date

    bars = AlpacaBars.from_environment(symbol, timeframe)
    if path.is_file() and path.stat().st_size > 0:
        after = last_date(path)
    else:
        first = parse_date_option(start, "--start", str(path), "start")
        if first is None:
            raise ConfigError(f"{path} does not exist yet: give --start, the first date to fetch")
        after = first - pd.Timedelta(seconds=1)
    added = 0
    while True:
        new = append_bars(path, bars.closed_after(after))
        if new:
            after, added = last_date(path), added + new
            say(f"{path}: {new} new {symbol} bars, the last at {after}")
            if follow is not None:
                follow.news()
        if follow is None or not follow.next_look():
            return added
