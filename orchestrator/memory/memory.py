"""`TradeMemory`: the hybrid's closed trades, their lessons, and what it recalls at a decision.

A trade is a run of the hybrid's decisions on one side: it opens at the first close whose target
is at least `flat_below` long (or short) and closes at the first close whose target is not on
that side any more (flat, or the other side, which opens the next trade). It is priced as the
engine fills: at the open after each of those closes, with the fill model's costs, so its outcome
is known at the open after its exit decision and no earlier. At each decision (`close_due` first):

1. a trade whose exit filled at this bar's open or before is closed: its outcome is computed from
   bars up to that open, the `reflection` task writes its lesson (no lesson when the call fails:
   fail closed), the lesson is embedded and both are kept;
2. `recall` finds the `k` closed trades whose entry features lie nearest the current features
   (Euclidean, on the agent's normalised features) and the `lessons` lessons whose embeddings lie
   nearest the current situation's text (cosine), among trades and lessons known at this bar only;
3. `observe` opens or closes trades on the decision's target.

What each bar added is drained into the bar's records (`drain`), so the journal keeps it in the
bar's transaction: memory and lessons survive a crash exactly as the bar does, and a resumed run
loads them back (`load`) and recalls what an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, TypedDict

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt

from envs import CostModel, MarketArrays
from llm import (
    CompletionGateway,
    Embedder,
    LLMError,
    LLMGatewayDownError,
    PastTrade,
    RecalledLesson,
    TradeMemoryView,
    reflect,
    situation_text,
)
from orchestrator.checks import Settings, Value
from orchestrator.errors import InvalidInputError
from orchestrator.memory.records import (
    ClosedTrade,
    LessonRecord,
    MemoryRecords,
    Recall,
    Side,
    TradeContext,
)

UNKNOWN_REGIME = "unknown"


class TradeContextValues(TypedDict):
    """What the trader knows of a decision beyond the market: see `TradeContext`."""

    regime: str
    drl_signal: float
    llm_signal: float
    drl_weight: float


class MemoryConfig(Settings):
    """k: similar past trades recalled per decision. lessons: lessons recalled per decision.
    flat_below: a target whose absolute value is under this is flat (no trade open)."""

    k: PositiveInt = 5
    lessons: NonNegativeInt = 3
    flat_below: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1


class MemoryState(Value):
    """What `TradeMemory.state_dict` saves: the trade held (if any), and the trade whose exit was
    decided at `exit_bar` and fills at the next open (if any); the closed trades and lessons are
    saved apart (the journal's tables)."""

    open_trade: TradeContext | None = None
    closing: TradeContext | None = None
    exit_bar: NonNegativeInt | None = None


class TradeMemory:
    """The memory of one strategy over one market (see the module docstring).

    gateway: where the reflection task is asked (the analysts' gateway); embedder: how lessons
    and situations are embedded (`llm.HashingEmbedder` offline, the gateway's `/embeddings`
    model when one is configured).
    """

    def __init__(
        self,
        arrays: MarketArrays,
        symbol: str,
        cost_model: CostModel,
        *,
        gateway: CompletionGateway,
        embedder: Embedder,
        config: MemoryConfig | None = None,
    ) -> None:
        self.arrays = arrays
        self.symbol = symbol
        self.round_trip_cost = cost_model.buy_cost_rate + cost_model.sell_cost_rate
        self.gateway = gateway
        self.embedder = embedder
        self.config = config or MemoryConfig()
        self.trades: list[ClosedTrade] = []
        self.lessons: list[LessonRecord] = []
        self._features = np.empty((0, arrays.n_features), dtype=np.float64)
        self._trade_known = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, 0), dtype=np.float32)
        self._lesson_written = np.empty(0, dtype=np.int64)
        self._state = MemoryState()
        self._new = MemoryRecords()

    # ---- one decision ----------------------------------------------------------------------

    def close_due(self, bar: int) -> None:
        """Close the trade whose exit filled at `bar`'s open or before, and write its lesson."""
        state = self._state
        if state.closing is None or state.exit_bar is None or state.exit_bar >= bar:
            return
        trade = self._closed(state.closing, state.exit_bar)
        self._state = state.copy_with(closing=None, exit_bar=None)
        self._add_trade(trade)
        lesson = reflect(self.gateway, self.symbol, trade.story())
        vector = None if lesson is None else self._embedded(lesson.text())
        if lesson is None or vector is None:
            return  # no lesson, or none that can be retrieved: the ledger has the failure
        record = LessonRecord(
            entry_bar=trade.context.entry_bar,
            written_at_bar=bar,
            written_at=self._day(bar),
            lesson=lesson,
            embedding_model=self.embedder.model,
            vector=tuple(float(x) for x in vector),
        )
        self._add_lesson(record)

    def recall(
        self, bar: int, regime: str, drl_signal: float, llm_signal: float
    ) -> TradeMemoryView:
        """The similar past trades and the lessons for the decision at `bar` (known at `bar`)."""
        similar, distances = _nearest(
            np.sqrt(_squared_distances(self._features, self.arrays.features[bar])),
            self._trade_known <= bar,
            self.config.k,
        )
        lessons = self._nearest_lessons(bar, situation_text(regime, drl_signal, llm_signal))
        view = TradeMemoryView(
            similar=tuple(
                _past_trade(self.trades[i], float(d))
                for i, d in zip(similar, distances, strict=True)
            ),
            lessons=tuple(_recalled(self.lessons[i]) for i in lessons),
        )
        recall = Recall(
            bar=bar,
            similar=tuple(self.trades[i].context.entry_bar for i in similar),
            distances=tuple(float(d) for d in distances),
            win_rate=view.win_rate,
            mean_net_return=view.mean_net_return,
            lessons=tuple(self.lessons[i].entry_bar for i in lessons),
        )
        self._new = self._new.copy_with(recalls=(*self._new.recalls, recall))
        return view

    def observe(self, bar: int, target: float, context: TradeContextValues) -> None:
        """Open or close trades on the target decided at `bar` (see the module docstring)."""
        state = self._state
        side = self._side(target)
        held = state.open_trade
        if held is not None and side != held.side:  # its exit fills at the next open
            state = state.copy_with(open_trade=None, closing=held, exit_bar=bar)
        if side is not None and state.open_trade is None:
            opened = TradeContext(
                entry_bar=bar,
                entry_day=self._day(bar),
                features=tuple(float(x) for x in self.arrays.features[bar]),
                side=side,
                size=min(1.0, abs(target)),
                **context,
            )
            state = state.copy_with(open_trade=opened)
        self._state = state

    def drain(self) -> MemoryRecords:
        """What was added since the last drain (for the bar's records)."""
        new, self._new = self._new, MemoryRecords()
        return new

    # ---- saved and restored ----------------------------------------------------------------

    def state_dict(self) -> dict[str, object]:
        return self._state.model_dump(mode="json")

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        self._state = MemoryState.from_mapping(state)

    def load(self, records: MemoryRecords) -> None:
        """Take back the closed trades and lessons a journal kept (a resumed run); the recalls
        are a record only."""
        if records.trades:
            self.trades.extend(records.trades)
            self._index_trades(records.trades)
        models = {lesson.embedding_model for lesson in records.lessons} - {self.embedder.model}
        if models:
            raise InvalidInputError(
                f"the saved lessons were embedded by {', '.join(sorted(models))}, this run"
                f" embeds with {self.embedder.model}: their vectors cannot be compared"
            )
        if records.lessons:
            self.lessons.extend(records.lessons)
            self._index_lessons(records.lessons)

    # ---- helpers -----------------------------------------------------------------------------

    def _embedded(self, text: str) -> np.ndarray | None:
        """`text`'s vector, or None when the embedding call failed (fail closed: a gateway that
        is down stops the run, as it does for the analysts)."""
        try:
            return self.embedder.embed([text])[0]
        except LLMGatewayDownError:
            raise
        except LLMError:
            return None

    def _side(self, target: float) -> Side | None:
        if abs(target) < self.config.flat_below:
            return None
        return "long" if target > 0.0 else "short"

    def _day(self, bar: int) -> str:
        return pd.Timestamp(self.arrays.dates[bar]).isoformat()

    def _closed(self, context: TradeContext, exit_bar: int) -> ClosedTrade:
        """The trade entered after `context.entry_bar`'s close and left after `exit_bar`'s, from
        the bars up to the open after `exit_bar` only."""
        a = self.arrays
        entry_fill, exit_fill = context.entry_bar + 1, exit_bar + 1
        entry = float(a.open[entry_fill])
        sign = 1.0 if context.side == "long" else -1.0
        gross = sign * (float(a.open[exit_fill]) / entry - 1.0)
        extremes = (
            np.concatenate([a.low[entry_fill:exit_fill], a.high[entry_fill:exit_fill]]) / entry
            - 1.0
        )
        moves = sign * extremes
        return ClosedTrade(
            context=context,
            exit_bar=exit_bar,
            known_at_bar=exit_fill,
            known_at=self._day(exit_fill),
            net_return=gross - self.round_trip_cost,
            bars_held=exit_fill - entry_fill,
            worst_excursion=min(0.0, float(moves.min())),
            best_excursion=max(0.0, float(moves.max())),
        )

    def _add_trade(self, trade: ClosedTrade) -> None:
        self.trades.append(trade)
        self._new = self._new.copy_with(trades=(*self._new.trades, trade))
        self._index_trades([trade])

    def _add_lesson(self, lesson: LessonRecord) -> None:
        self.lessons.append(lesson)
        self._new = self._new.copy_with(lessons=(*self._new.lessons, lesson))
        self._index_lessons([lesson])

    def _index_trades(self, trades: Sequence[ClosedTrade]) -> None:
        """Append `trades` to the arrays the recall searches (features, when each was known)."""
        features = np.asarray([t.context.features for t in trades], dtype=np.float64)
        self._features = np.concatenate([self._features, features.reshape(len(trades), -1)])
        known = np.asarray([t.known_at_bar for t in trades], dtype=np.int64)
        self._trade_known = np.concatenate([self._trade_known, known])

    def _index_lessons(self, lessons: Sequence[LessonRecord]) -> None:
        vectors = np.asarray([lesson.vector for lesson in lessons], dtype=np.float32)
        self._vectors = np.concatenate([self._vectors, vectors]) if len(self._vectors) else vectors
        written = np.asarray([lesson.written_at_bar for lesson in lessons], dtype=np.int64)
        self._lesson_written = np.concatenate([self._lesson_written, written])

    def _nearest_lessons(self, bar: int, situation: str) -> list[int]:
        """The lessons written at `bar` or before whose embeddings lie nearest `situation`."""
        if not self.lessons or self.config.lessons == 0:
            return []
        query = self._embedded(situation)
        if query is None:
            return []
        # einsum, not BLAS: one thread, the same sums in the same order on every machine and
        # load (a threaded BLAS stalls on a busy machine, and may round differently)
        similarity = np.einsum("ij,j->i", self._vectors, query)
        nearest, _ = _nearest(-similarity, self._lesson_written <= bar, self.config.lessons)
        return nearest


def _squared_distances(rows: np.ndarray, point: np.ndarray) -> np.ndarray:
    gaps = rows - point.astype(np.float64)
    return np.einsum("ij,ij->i", gaps, gaps)


def _nearest(scores: np.ndarray, known: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    """The indices of the `k` lowest `scores` where `known` (ties: the earliest first), and
    their scores: a partition to the k-th lowest score, then a stable sort of the few at or
    under it, rather than a sort of every row."""
    candidates = np.flatnonzero(known)
    candidate_scores = scores[candidates]
    if len(candidates) > k:
        kth = np.partition(candidate_scores, k - 1)[k - 1]
        keep = candidate_scores <= kth
        candidates, candidate_scores = candidates[keep], candidate_scores[keep]
    order = candidates[np.argsort(candidate_scores, kind="stable")[:k]]
    return [int(i) for i in order], scores[order]


def _past_trade(trade: ClosedTrade, distance: float) -> PastTrade:
    return PastTrade(
        known_at=pd.Timestamp(trade.known_at).to_pydatetime(),
        side=trade.context.side,
        regime=trade.context.regime,
        net_return=trade.net_return,
        bars_held=trade.bars_held,
        distance=distance,
    )


def _recalled(record: LessonRecord) -> RecalledLesson:
    return RecalledLesson(pd.Timestamp(record.written_at).to_pydatetime(), record.lesson.text())
