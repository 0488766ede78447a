"""When to ask the LLM analysts, and the view reused in between: the cost bound of the LLM side.

A view is refreshed when it is `every_bars` bars old (counted from when it was last asked, for
whatever reason), or at once when the DRL agent's confidence falls under
`below_drl_confidence`: the bars where the agent is unsure are the ones a second opinion is worth
paying for. In between, the last view is reused as it stands, with the bar it was asked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from llm import MarketSnapshot, TradingDecision
from orchestrator.errors import ConfigError, InvalidInputError, JournalCorruptError
from orchestrator.execution import PortfolioState
from orchestrator.trader.snapshots import MarketSnapshots
from orchestrator.validation import checked_setting


@dataclass(frozen=True)
class LLMView:
    """The LLM's latest decision and the bar it was asked at; reused until it is asked again."""

    asked_at_bar: int
    decision: TradingDecision

    def to_record(self) -> dict[str, object]:
        return {
            "asked_at_bar": self.asked_at_bar,
            "decision": self.decision.model_dump(mode="json"),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> LLMView:
        try:
            decision = TradingDecision.model_validate(record["decision"])
            return cls(asked_at_bar=int(record["asked_at_bar"]), decision=decision)  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise JournalCorruptError(f"saved LLM view is malformed: {exc}") from None


class Analyst(Protocol):
    """The LLM side at one snapshot (`llm.team.graph.AnalystTeam` satisfies it)."""

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision: ...


@dataclass(frozen=True)
class LLMCadence:
    """every_bars: the oldest a view may be before it is asked again (5 daily bars: one week,
    which cuts the calls fivefold while a daily-bar view is rarely stale within a week).
    below_drl_confidence: ask at once when the agent's calibrated confidence is under this
    (0.55: the agent is then at best about as often wrong as right on the trade it proposes);
    None never asks for that reason.
    """

    every_bars: int = 5
    below_drl_confidence: float | None = 0.55

    def __post_init__(self) -> None:
        every = self.every_bars
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"LLMCadence.every_bars must be an int >= 1, got {every!r}")
        if self.below_drl_confidence is not None:
            checked_setting(self, "below_drl_confidence", low=0.0, high=1.0)

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
        return {"view": None if self.view is None else self.view.to_record(), "asks": self.asks}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        try:
            record = state["view"]
            asks = state["asks"]
        except KeyError as exc:
            raise InvalidInputError(f"saved LLM state lacks {exc}") from None
        if isinstance(asks, bool) or not isinstance(asks, int) or asks < 0:
            raise InvalidInputError(f"saved LLM state: asks must be an int >= 0, got {asks!r}")
        self.view = None if record is None else LLMView.from_record(record)  # type: ignore[arg-type]
        self.asks = asks
