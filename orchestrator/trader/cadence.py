"""When to ask the LLM analysts, and the view reused in between: the cost bound of the LLM side.

The bars are cut into windows of `every_bars` bars, counted from the first decision (bar b0):
window k holds bars b0 + k * every_bars .. b0 + (k + 1) * every_bars - 1. Every asker asks at
most once per window, and always at the first decision (there is no view yet):

- LLM alone (`below_drl_confidence=None`) asks at the first bar of each window.
- The hybrid (`below_drl_confidence` set) asks at the first bar of the window where the DRL agent
  is unsure (its calibrated confidence is under `below_drl_confidence`), or, if the agent was sure
  on every bar of the window before its last, at the window's last bar.

Why this rule, among those that ask once per window:
(a) cost: an asker that asks at most once per window, and at most once in the window the run
    ends in, never asks more often than LLM alone, which asks once in every window the run
    reaches; in a run that ends mid-window the hybrid may even ask once less. The second opinion
    the hybrid pays for is therefore never dearer than the LLM-alone baseline it is judged
    against, and is placed on the bar it is worth most: where the agent is unsure.
(b) staleness: a window always ends with an ask in it, so two consecutive asks are at most
    2 * every_bars - 1 bars apart (the first bar of one window, then the last bar of the next):
    a view is never 2 * every_bars bars old. Waiting for an unsure bar across windows would
    break this bound; asking at the window's first bar whatever the agent says would make the
    confidence irrelevant.
(c) "unsure" is relative to the agent: the threshold is a quantile (`unsure_quantile`, 0.2) of the
    agent's own confidence distribution on its validation split (`drl_unsure_threshold`), not a
    fixed number. An agent whose calibrated confidences all lie in 0.40-0.55 would be "unsure"
    on every bar under an absolute 0.55, and one whose confidences lie in 0.6-0.9 never.

In between asks, the last view is reused as it stands, with the bar it was asked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Protocol

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt

from agents import AgentError, split_with_history
from envs import MarketArrays, Splits, TradingEnv, assemble_market, prepare_market
from llm import MarketSnapshot, TradeMemoryView, TradingDecision
from orchestrator.checks import Settings, UnitInterval, Value
from orchestrator.errors import InvalidInputError
from orchestrator.execution import PortfolioState
from orchestrator.trader.snapshots import MarketSnapshots

if TYPE_CHECKING:
    from agents import DRLAgent

UNSURE_QUANTILE = 0.2
"""The default share of the agent's validation decisions that count as unsure."""

WEEKS_PER_YEAR = 52
OpenUnitInterval = Annotated[float, Field(gt=0.0, lt=1.0)]


def week_of_bars(periods_per_year: int) -> int:
    """Bars in a week of a market with `periods_per_year` bars a year (5 daily stock bars, 7
    daily crypto bars, 34 hourly stock bars), at least 1."""
    return max(1, round(periods_per_year / WEEKS_PER_YEAR))


class LLMView(Value):
    """The LLM's latest decision and the bar it was asked at; reused until it is asked again."""

    asked_at_bar: NonNegativeInt
    decision: TradingDecision


class Analyst(Protocol):
    """The LLM side at one snapshot (`llm.team.graph.AnalystTeam` satisfies it)."""

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision: ...


class LLMCadence(Settings):
    """When to ask the LLM (see the module docstring for the rule and why).

    every_bars: the window length, in bars; one ask per window at most. None: a week of the
    market's bars (`week_of_bars`; 5 daily stock bars, which cuts the calls fivefold while a
    daily-bar view is rarely stale within a week), set by the view keeper from its market.
    below_drl_confidence: the agent's calibrated confidence under which it is unsure, in [0, 1];
    the hybrid then asks at the first unsure bar of a window. None asks at each window's first bar
    (LLM alone, or a hybrid whose agent's threshold is not known). Set it from the agent with
    `for_agent`, or pass a number (`drl_unsure_threshold(agent, quantile)` computes one).
    unsure_quantile: the share of the agent's validation decisions `for_agent` counts as unsure
    (0.2: the least sure fifth); it is read only by `for_agent`.
    """

    every_bars: PositiveInt | None = None
    below_drl_confidence: UnitInterval | None = None
    unsure_quantile: OpenUnitInterval = UNSURE_QUANTILE

    def for_agent(self, agent: DRLAgent) -> LLMCadence:
        """These settings with `below_drl_confidence` at `agent`'s `unsure_quantile` confidence
        on its validation split (see `drl_unsure_threshold`)."""
        threshold = drl_unsure_threshold(agent, self.unsure_quantile)
        return self.copy_with(below_drl_confidence=threshold)

    def for_market(self, periods_per_year: int) -> LLMCadence:
        """These settings with a window of a week of bars, unless `every_bars` is set, for a
        market of `periods_per_year` bars a year."""
        if self.every_bars is not None:
            return self
        return self.copy_with(every_bars=week_of_bars(periods_per_year))

    @property
    def bars(self) -> int:
        """The window length, in bars (set: see `for_market`)."""
        if self.every_bars is None:
            raise InvalidInputError("LLMCadence.every_bars is not set: call for_market first")
        return self.every_bars

    def window(self, bar: int, first_bar: int) -> int:
        """The window `bar` falls in, counted from the window of `first_bar` (0)."""
        if bar < first_bar:
            raise InvalidInputError(f"bar {bar} comes before the first decision at bar {first_bar}")
        return (bar - first_bar) // self.bars

    def due(
        self, bar: int, first_bar: int, view: LLMView | None, drl_confidence: float | None
    ) -> bool:
        """Whether to ask at `bar`, given the first decision's bar, the view held and the agent's
        confidence at `bar` (None: not known, never unsure)."""
        if view is None:
            return True
        window = self.window(bar, first_bar)
        viewed = self.window(max(view.asked_at_bar, first_bar), first_bar)
        if viewed == window:
            return False  # asked in this window already
        threshold = self.below_drl_confidence
        if threshold is None:
            return True  # the calendar: the window's first bar (or the first one reached)
        last_of_window = (bar - first_bar) % self.bars == self.bars - 1
        unsure = drl_confidence is not None and drl_confidence < threshold
        # A window skipped without an ask (bars not shown to the keeper) asks at once.
        return unsure or last_of_window or window - viewed >= 2


class LLMViewKeeper:
    """Holds the latest LLM view and asks the analysts for a new one when the cadence says so.

    The windows are counted from the first bar it is asked about (the run's first decision), which
    `state_dict` saves so that a resumed run keeps the same windows.
    """

    def __init__(
        self, analyst: Analyst, snapshots: MarketSnapshots, cadence: LLMCadence | None = None
    ) -> None:
        self.analyst = analyst
        self.snapshots = snapshots
        self.cadence = (cadence or LLMCadence()).for_market(
            snapshots.market.arrays.periods_per_year
        )
        self.view: LLMView | None = None
        self.first_bar: int | None = None
        self.asks = 0

    def view_at(
        self,
        bar: int,
        portfolio: PortfolioState,
        price: float,
        drl_confidence: float | None = None,
        recall: Callable[[], TradeMemoryView] | None = None,
    ) -> tuple[LLMView, bool]:
        """The view to use at `bar` and whether it was asked for just now; `recall`, when given,
        is what the caller's trade memory shows the analysts (asked only when they are)."""
        if self.view is not None and bar < self.view.asked_at_bar:
            raise InvalidInputError(
                f"bar {bar} comes before the LLM view asked at bar {self.view.asked_at_bar}"
            )
        if self.first_bar is None:
            # A fresh keeper starts its windows here; one resumed from a state saved before
            # windows were kept starts them at its view.
            self.first_bar = bar if self.view is None else self.view.asked_at_bar
        if self.view is not None and not self.cadence.due(
            bar, self.first_bar, self.view, drl_confidence
        ):
            return self.view, False
        snapshot = self.snapshots.at(bar, portfolio, price)
        if recall is not None:
            snapshot = replace(snapshot, memory=recall())
        decision = self.analyst.decide(snapshot)
        self.view = LLMView(asked_at_bar=bar, decision=decision)
        self.asks += 1
        return self.view, True

    def state_dict(self) -> dict[str, object]:
        """How many times the analysts were asked and where the windows start, JSON-ready. The
        view itself is saved apart (the journal keeps each view once) and handed back to
        `load_state_dict`."""
        return KeeperState(asks=self.asks, first_bar=self.first_bar).model_dump()

    def load_state_dict(self, state: Mapping[str, object], view: LLMView | None) -> None:
        """Continue from `state` (from `state_dict`) with `view`, the view held when saved."""
        saved = KeeperState.from_mapping(state)
        self.asks, self.first_bar = saved.asks, saved.first_bar
        self.view = view


class KeeperState(Value):
    """What `LLMViewKeeper.state_dict` saves. first_bar: the bar the windows are counted from
    (None before the first decision, and in states saved before windows were kept)."""

    asks: NonNegativeInt
    first_bar: NonNegativeInt | None = None


# ---- the agent's threshold of "unsure" ---------------------------------------------------------


def drl_unsure_threshold(agent: DRLAgent, quantile: float = UNSURE_QUANTILE) -> float:
    """The confidence under which `agent` is unsure: `unsure_cut` of its calibrated confidences
    over its own validation split (`validation_confidences`) at `quantile`."""
    return unsure_cut(validation_confidences(agent), quantile)


def unsure_cut(confidences: np.ndarray, quantile: float = UNSURE_QUANTILE) -> float:
    """The threshold that leaves the share of `confidences` closest to `quantile` strictly below
    it: halfway between the two neighbouring distinct values where that share is reached.

    For confidences that rarely tie this is the `quantile` quantile. Calibrated confidences often
    take a few values only (a Platt map with a zero slope gives one value per action), where a
    plain quantile falls on a value held by many decisions and a strict "below" then counts none
    of them (or a "below or equal" most): cutting between distinct values keeps the unsure share
    near `quantile`, and above 0 and below 1 whenever the confidences are not all equal. All equal,
    the value itself is returned: no decision is under it, so none is unsure.
    """
    if not 0.0 < quantile < 1.0:
        raise InvalidInputError(f"unsure_cut: quantile must be in (0, 1), got {quantile}")
    values = np.asarray(confidences, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
        raise InvalidInputError("unsure_cut: confidences must be a non-empty 1-D array of numbers")
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) == 1:
        return float(distinct[0])
    shares = np.cumsum(counts)[:-1] / len(values)  # share at or below each value but the last
    best = int(np.argmin(np.abs(shares - quantile)))  # the first (smaller share) on a tie
    return float((distinct[best] + distinct[best + 1]) / 2.0)


def validation_confidences(agent: DRLAgent) -> np.ndarray:
    """The agent's calibrated confidence at each decision of one sequential pass through its
    validation split: the source and split dates of its manifest, its saved normaliser, its own
    trades deciding the account it observes (as in `agents.training.rollout`), costs on.

    Only bars up to the split's last date are loaded; the window of train bars before the split
    supplies the first observation, as in training. A source whose bars no longer give the
    manifest's validation dates is refused (an `AgentError`): the distribution would describe other
    bars than the ones the agent was calibrated on.
    """
    return confidences_along(agent, _validation_market(agent))


def confidences_along(agent: DRLAgent, market: MarketArrays) -> np.ndarray:
    """The agent's confidence at each decision of its own sequential pass through `market`."""
    env = TradingEnv(market, replace(agent.env_config, episode_length=None))
    observation, _ = env.reset()
    confidences: list[float] = []
    done = False
    while not done:
        decision = agent.decide(observation)
        confidences.append(decision.confidence)
        observation, _, terminated, truncated, _ = env.step(decision.action)
        done = terminated or truncated
    return np.asarray(confidences, dtype=np.float64)


def _validation_market(agent: DRLAgent) -> MarketArrays:
    manifest = agent.manifest
    if "validation" not in manifest.splits or "train" not in manifest.splits:
        raise AgentError(
            f"{agent.source}: the manifest records no train and validation split dates"
            f" (it has {sorted(manifest.splits)})"
        )
    first, last = (pd.Timestamp(day) for day in manifest.splits["validation"])
    train_first = pd.Timestamp(manifest.splits["train"][0])
    normalizer = agent.feature_normalizer()
    loaded = prepare_market(
        manifest.data_source,
        train_first,
        last,
        normalizer=normalizer,
        date_format=manifest.train_config.get("date_format"),
    )
    splits = Splits(
        validation_start=first,
        test_start=last + pd.Timedelta(days=1),
        scheme="the agent's validation split (its manifest's dates)",
    )
    prepared = assemble_market(
        manifest.data_source, loaded.bars, loaded.features, splits, normalizer
    )
    validation = prepared.split("validation")
    got = (pd.Timestamp(validation.dates[0]), pd.Timestamp(validation.dates[-1]))
    if got != (first, last):
        raise AgentError(
            f"{agent.source}: {manifest.data_source} now gives validation bars"
            f" {got[0].date()} to {got[1].date()}, the agent was calibrated on"
            f" {first.date()} to {last.date()}"
        )
    return split_with_history(prepared, "validation", agent.env_config.window_size)
