"""The memory's values: a trade's context at entry, a closed trade, a lesson, a recall.

All are frozen, checked values that round-trip through JSON (`Value.from_mapping`), so that the
journal stores and restores them exactly, and a resumed run recalls what an uninterrupted one did.
"""

from __future__ import annotations

from typing import Literal

from pydantic import NonNegativeInt, PositiveInt

from llm import Lesson
from orchestrator.checks import Finite, NonNegative, Position, UnitInterval, Value

Side = Literal["long", "short"]


class TradeContext(Value):
    """The situation a trade was opened in, at the close of its entry decision.

    features: the agent's normalised features at that close (what similarity is measured on).
    regime: the narrative analyst's regime in the LLM view then held ("unknown" without one).
    size: the hybrid's target position (its absolute value, a fraction of equity).
    """

    entry_bar: NonNegativeInt
    entry_day: str
    features: tuple[Finite, ...]
    regime: str
    side: Side
    size: UnitInterval
    drl_signal: Position
    llm_signal: Position
    drl_weight: UnitInterval


class ClosedTrade(Value):
    """A trade from its entry fill (the open after `context.entry_bar`) to its exit fill (the open
    after `exit_bar`), which is when its outcome is known (`known_at_bar`, `known_at`).

    net_return: the side's return from fill to fill less the fill model's costs of both fills, a
    fraction of the position. worst_excursion / best_excursion: the lowest and highest return the
    position showed over the bars it was held (their lows and highs), side taken into account.
    """

    context: TradeContext
    exit_bar: NonNegativeInt
    known_at_bar: NonNegativeInt
    known_at: str
    net_return: Finite
    bars_held: PositiveInt
    worst_excursion: Finite
    best_excursion: Finite

    def story(self) -> dict[str, object]:
        """The trade as the reflection prompt shows it (JSON values; no features: numbers a
        reader cannot interpret)."""
        context = self.context.model_dump(exclude={"features", "entry_bar"})
        outcome = self.model_dump(include={"net_return", "bars_held", "worst_excursion"})
        return {
            **context,
            **outcome,
            "best_excursion": self.best_excursion,
            "exit_day": self.known_at,
        }


class LessonRecord(Value):
    """The lesson written when the trade entered at `entry_bar` closed, at `written_at_bar`, and
    its embedding (`vector`, a unit vector from the `embedding_model`)."""

    entry_bar: NonNegativeInt
    written_at_bar: NonNegativeInt
    written_at: str
    lesson: Lesson
    embedding_model: str
    vector: tuple[Finite, ...]


class Recall(Value):
    """What the memory recalled at `bar` and gave the analysts: the similar past trades (by entry
    bar, nearest first, with their distances), their win rate and mean net return (None when
    none), and the lessons (by the entry bar of their trade, most relevant first)."""

    bar: NonNegativeInt
    similar: tuple[NonNegativeInt, ...]
    distances: tuple[NonNegative, ...]
    win_rate: UnitInterval | None
    mean_net_return: Finite | None
    lessons: tuple[NonNegativeInt, ...]


class MemoryRecords(Value):
    """What the memory added during one bar (or holds in all): closed trades, lessons, recalls."""

    trades: tuple[ClosedTrade, ...] = ()
    lessons: tuple[LessonRecord, ...] = ()
    recalls: tuple[Recall, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.trades or self.lessons or self.recalls)
