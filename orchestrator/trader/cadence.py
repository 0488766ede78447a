"""When to ask the LLM analysts, and the view reused in between: the cost bound of the LLM side.

A view is refreshed when it is `every_bars` bars old (counted from when it was last asked, for
whatever reason), or at once when the DRL agent's confidence falls under
`below_drl_confidence`: the bars where the agent is unsure are the ones a second opinion is worth
paying for. In between, the last view is reused as it stands, with the bar it was asked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import NonNegativeInt, PositiveInt

from llm import MarketSnapshot, TradingDecision
from orchestrator.checks import Settings, UnitInterval, Value
from orchestrator.errors import InvalidInputError
from orchestrator.execution import PortfolioState
from orchestrator.trader.snapshots import MarketSnapshots


class LLMView(Value):
    """The LLM's latest decision and the bar it was asked at; reused until it is asked again."""

    asked_at_bar: NonNegativeInt
    decision: TradingDecision


class Analyst(Protocol):
    """The LLM side at one snapshot (`llm.team.graph.AnalystTeam` satisfies it)."""

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision: ...


class LLMCadence(Settings):
    """every_bars: the oldest a view may be before it is asked again (5 daily bars: one week,
    which cuts the calls fivefold while a daily-bar view is rarely stale within a week).
    below_drl_confidence: ask at once when the agent's calibrated confidence is under this
    (0.55: the agent is then at best about as often wrong as right on the trade it proposes);
    None never asks for that reason.
    """

    every_bars: PositiveInt = 5
    below_drl_confidence: UnitInterval | None = 0.55

    def due(self, bar: int, view: LLMView | None, drl_confidence: float | None) -> bool:
        """Whether to ask at `bar` given the current view and the agent's confidence there."""
        if view is None or bar - view.asked_at_bar >= self.every_bars:
            return True
        threshold = self.below_drl_confidence
        return threshold is not None and drl_confidence is not None and drl_confidence < threshold


class LLMViewKeeper:
    """Holds the latest LLM view and asks the analysts for a new one when the cadence says so."""

    def __init__(
        self, analyst: Analyst, snapshots: MarketSnapshots, cadence: LLMCadence | None = None
    ) -> None:
        self.analyst = analyst
        self.snapshots = snapshots
        self.cadence = cadence or LLMCadence()
        self.view: LLMView | None = None
        self.asks = 0

    def view_at(
        self,
        bar: int,
        portfolio: PortfolioState,
        price: float,
        drl_confidence: float | None = None,
    ) -> tuple[LLMView, bool]:
        """The view to use at `bar` and whether it was asked for just now."""
        if self.view is not None and bar < self.view.asked_at_bar:
            raise InvalidInputError(
                f"bar {bar} comes before the LLM view asked at bar {self.view.asked_at_bar}"
            )
        if self.view is not None and not self.cadence.due(bar, self.view, drl_confidence):
            return self.view, False
        decision = self.analyst.decide(self.snapshots.at(bar, portfolio, price))
        self.view = LLMView(asked_at_bar=bar, decision=decision)
        self.asks += 1
        return self.view, True

    def state_dict(self) -> dict[str, object]:
        """How many times the analysts were asked, JSON-ready. The view itself is saved apart
        (the journal keeps each view once) and handed back to `load_state_dict`."""
        return KeeperState(asks=self.asks).model_dump()

    def load_state_dict(self, state: Mapping[str, object], view: LLMView | None) -> None:
        """Continue from `state` (from `state_dict`) with `view`, the view held when saved."""
        self.asks = KeeperState.from_mapping(state).asks
        self.view = view


class KeeperState(Value):
    """What `LLMViewKeeper.state_dict` saves."""

    asks: NonNegativeInt
