"""Options several commands share, defined once so that their names and help never drift apart."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from orchestrator.runs import IdlePoller

SOURCE_HELP = (
    "sp500, nasdaq (indices), aapl, amzn, nvda, msft (stocks), synthetic, or a CSV/Parquet path"
)


class LLMChoice(StrEnum):
    OFFLINE = "offline"
    GATEWAY = "gateway"


SourceOption = Annotated[str, typer.Option("--data", help=SOURCE_HELP)]
AgentOption = Annotated[Path, typer.Option("--agent", help="Agent directory written by train.")]
LLMOption = Annotated[
    LLMChoice,
    typer.Option(
        "--llm",
        help="offline: the deterministic offline analyst at $0; gateway: the configured"
        " models (needs a key).",
    ),
]
StartOption = Annotated[
    str | None, typer.Option(help="First date of data used, YYYY[-MM[-DD]] (default: all)")
]
EndOption = Annotated[
    str | None, typer.Option(help="Last date of data used, inclusive (default: all)")
]


class CombinerChoice(StrEnum):
    MIXTURE = "mixture"
    SEED = "seed"


CombinerOption = Annotated[
    CombinerChoice,
    typer.Option(
        "--combiner",
        help="mixture: hold the learned weight-mix of each source's position (its regret bound"
        " covers what is traded); seed: the first hybrid's confidence-weighted score with an"
        " agreement boost and a dead zone.",
    ),
]
ExpertsOption = Annotated[
    str,
    typer.Option(
        "--experts",
        help="What the weights are learned over: drl,llm, plus market (fully invested) and/or"
        " cash (flat), so that the hybrid is never much worse than either (mixture only).",
    ),
]
DEFAULT_EXPERTS = "drl,llm"
DateFormatOption = Annotated[
    str | None,
    typer.Option(
        help="strftime format of a file's dates, for ambiguous ones such as 01/02/2017, e.g."
        " '%d/%m/%Y' (default: recognised)"
    ),
]
PeriodsPerYearOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Bars in a year, for annualised metrics and the windows counted in bars, such as"
        " how often the LLM is asked (default: inferred from the dates: 252 daily, 365 for"
        " markets open at weekends, bars a day times that for intraday bars)",
    ),
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        min=0.0,
        help="A hard cap in dollars on this run's LLM calls, the execution check included (past"
        " it, orders are not confirmed, so not sent). Without it, a gateway run whose estimated"
        " cost exceeds what the daily and monthly budgets leave stops before its first call.",
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Overwrite --out when it already holds files.")
]
LearnerOption = Annotated[
    str,
    typer.Option(
        "--learner",
        help="How the DRL/LLM weights are learned: hedge_delayed (default: AdaHedge run for the"
        " one-decision feedback delay, with a regret bound on the weights each decision was"
        " traded with), hedge (plain AdaHedge, whose bound covers its own weights one update"
        " later) or thompson (Thompson sampling on the same outcomes).",
    ),
]
DEFAULT_LEARNER = "hedge_delayed"
"""`orchestrator.trader.hedge.DEFAULT_LEARNER`, spelled here so that `--help` loads no numpy (a
test keeps the two equal)."""


def follow_poller(
    follow: bool, poll: float | None, max_idle: float | None, *, default_poll: float
) -> IdlePoller | None:
    """The waiting rule of `--follow` (None without it). `--poll` or `--max-idle` without
    `--follow` is refused: it would be ignored, and the run would end at the file's last bar."""
    from orchestrator.errors import ConfigError
    from orchestrator.runs import IdlePoller

    if not follow:
        given = [
            name
            for name, value in (("--poll", poll), ("--max-idle", max_idle))
            if value is not None
        ]
        if given:
            raise ConfigError(
                f"{', '.join(given)}: only with --follow; add --follow or leave it out"
            )
        return None
    return IdlePoller(default_poll if poll is None else poll, max_idle)


def refuse_offline_cost_cap(llm: LLMChoice, max_cost: float | None) -> None:
    """`--max-cost` with the offline analyst is refused: it costs nothing, so the cap would be
    silently ignored, and the user may have meant `--llm gateway`."""
    from orchestrator.errors import ConfigError

    if max_cost is not None and llm is LLMChoice.OFFLINE:
        raise ConfigError(
            f"--max-cost {max_cost:g}: only with --llm gateway; the offline analyst costs nothing"
        )
