"""Each source's view at one bar, reduced to the two numbers the combiner mixes.

A vote's `signal` is a target position in [-1, 1] (+1 fully long, -1 fully short, 0 flat) and its
`confidence` is in [0, 1]. Reducing both sources to this one shape is what lets the combiner, the
weight learner and the reports treat the DRL agent and the LLM analysts alike.

The DRL agent's confidence is calibrated offline, on its validation split (`agents.confidence`).
The analysts' stated confidence is not calibrated at all (the offline analyst often states 0.08,
and language models state confidence badly), so `LLMConfidenceCalibrator` calibrates it online,
from the LLM's own realized outcomes only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from agents import DRLDecision
from llm import Action, TradingDecision
from orchestrator.checks import Finite, NonNegative, Position, UnitInterval, Value, checked_args
from orchestrator.errors import InvalidInputError


class SourceVote(Value):
    """One source's target position (`signal`, in [-1, 1]) and how sure it is (in [0, 1])."""

    signal: Position
    confidence: UnitInterval


def vote_from_drl(decision: DRLDecision) -> SourceVote:
    """The agent's target position is its signal; its calibrated confidence passes through."""
    return SourceVote(signal=decision.target_position, confidence=decision.confidence)


_LLM_DIRECTION = {Action.BUY: 1.0, Action.SELL: -1.0, Action.HOLD: 0.0}


def llm_direction(decision: TradingDecision) -> float:
    """+1 for BUY, -1 for SELL, 0 for HOLD: the direction the decision bets on."""
    return _LLM_DIRECTION[decision.action]


def vote_from_llm(
    decision: TradingDecision, calibrator: LLMConfidenceCalibrator | None = None
) -> SourceVote:
    """BUY -> +size, SELL -> -size, HOLD -> 0 (flat). The confidence is the stated one, or, given
    a `calibrator`, the hit rate it has observed at that stated confidence."""
    confidence = decision.confidence
    if calibrator is not None:
        confidence = calibrator.calibrated(confidence)
    return SourceVote(signal=llm_direction(decision) * decision.size, confidence=confidence)


DEFAULT_CALIBRATION_BINS = 5


class LLMConfidenceCalibrator:
    """Stated LLM confidence -> the hit rate the LLM's own decisions have realized at it, online.

    The stated confidence's range [0, 1] is cut into `n_bins` equal bins (5: a few hundred daily
    decisions still fill each with dozens). A bin's calibrated confidence is its Beta(1, 1)
    posterior mean hit rate, (hits + 1) / (outcomes + 2); an empty bin takes the pooled posterior
    mean over all bins, and with no outcome at all that is 0.5 (nothing known either way).

    An outcome is one non-HOLD decision of the LLM scored over the whole interval its position was
    held: a hit when `direction * realized_return - cost > 0`, that is when the asset moved the way
    the decision bet by more than what taking the position cost. HOLD decisions bet on nothing and
    are not scored. Only outcomes that are complete are counted, so a confidence calibrated at bar t
    uses nothing from bar t or later (see `record_held`, which enforces it for a caller that feeds
    it interval by interval, and `update`, which leaves it to the caller).
    """

    @checked_args()
    def __init__(self, n_bins: PositiveInt = DEFAULT_CALIBRATION_BINS) -> None:
        self.n_bins = n_bins
        self._outcomes = [0] * n_bins
        self._hits = [0] * n_bins
        self._stated_sums = [0.0] * n_bins
        self._held: HeldView | None = None

    # ---- counting outcomes ----------------------------------------------------------------

    def update(
        self,
        stated_confidence: float,
        direction: float,
        realized_return: float,
        cost: float = 0.0,
    ) -> bool:
        """Count one complete outcome; whether it counted (a HOLD, direction 0, does not).

        stated_confidence: the confidence the LLM stated with the decision, in [0, 1].
        direction: the decision's direction, +1 BUY, -1 SELL, 0 HOLD (only its sign is read;
            `llm_direction` gives it).
        realized_return: the asset's simple return over the whole interval the decision's position
            was held, from its fill to the fill of the next LLM decision (e.g. open[b+1] / open[a+1]
            - 1 for a view asked at close a and replaced at close b); a fraction, not a percent.
        cost: what taking the position cost, as a fraction of equity (0 by default); the hit is
            then net of it.
        The caller must call it only once the interval has ended: the calibrator cannot tell.
        """
        checked = _Outcome(
            stated_confidence=stated_confidence,
            direction=direction,
            realized_return=realized_return,
            cost=cost,
        )
        if checked.direction == 0.0:
            return False
        hit = math.copysign(1.0, checked.direction) * checked.realized_return - checked.cost > 0.0
        index = self._bin(checked.stated_confidence)
        self._outcomes[index] += 1
        self._hits[index] += int(hit)
        self._stated_sums[index] += checked.stated_confidence
        return True

    def record_held(
        self,
        asked_at_bar: int,
        stated_confidence: float,
        direction: float,
        held_return: float,
        cost: float = 0.0,
    ) -> bool:
        """Feed one interval held under an LLM view; whether an outcome was counted now.

        Call it from the learning step, once per scored decision, with the LLM view that decision
        used (`asked_at_bar`, its decision's stated confidence and `llm_direction`, from the
        `LLMView`), `held_return`, the asset's
        return over the interval that decision's position was held (the return the weights are
        scored on), and `cost`, what moving the LLM's own book to that decision's position cost
        (the LLM's repositioning cost, 0 when it held its position). Consecutive intervals under
        the same view (same `asked_at_bar`) compound into one outcome; the first interval under a
        newer view closes the previous view's outcome and counts it with `update`. A view's
        outcome is therefore counted only after its last interval has been held to its end, and
        the view being held counts nothing yet.
        """
        if self._held is not None and asked_at_bar < self._held.asked_at_bar:
            raise InvalidInputError(
                f"view asked at bar {asked_at_bar} comes before the view held, asked at bar"
                f" {self._held.asked_at_bar}"
            )
        counted = False
        held = self._held
        if held is not None and asked_at_bar != held.asked_at_bar:
            counted = self.update(
                held.stated_confidence, held.direction, held.growth - 1.0, held.cost
            )
            held = None
        held = held or HeldView(
            asked_at_bar=asked_at_bar,
            stated_confidence=stated_confidence,
            direction=direction,
            growth=1.0,
            cost=0.0,
        )
        self._held = held.copy_with(growth=held.growth * (1.0 + held_return), cost=held.cost + cost)
        return counted

    # ---- reading them ---------------------------------------------------------------------

    @property
    def n_outcomes(self) -> int:
        return sum(self._outcomes)

    def calibrated(self, stated_confidence: float) -> float:
        """The hit rate observed at `stated_confidence`'s bin (see the class docstring)."""
        index = self._bin(_Stated(confidence=stated_confidence).confidence)
        if self._outcomes[index]:
            return (self._hits[index] + 1.0) / (self._outcomes[index] + 2.0)
        return (sum(self._hits) + 1.0) / (self.n_outcomes + 2.0)

    def reliability(self) -> tuple[ReliabilityRow, ...]:
        """One row per bin: its bounds, how many outcomes, the mean stated confidence and the raw
        hit rate (None in an empty bin), and the calibrated confidence the bin gives."""
        rows = []
        for index in range(self.n_bins):
            n = self._outcomes[index]
            rows.append(
                ReliabilityRow(
                    lower=index / self.n_bins,
                    upper=(index + 1) / self.n_bins,
                    n=n,
                    mean_stated=self._stated_sums[index] / n if n else None,
                    hit_rate=self._hits[index] / n if n else None,
                    calibrated=self.calibrated((index + 0.5) / self.n_bins),
                )
            )
        return tuple(rows)

    def _bin(self, confidence: float) -> int:
        return min(int(confidence * self.n_bins), self.n_bins - 1)

    # ---- saving ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, object]:
        """The counts and the view being held, JSON-ready; `load_state_dict` reads them back."""
        return CalibratorState(
            n_bins=self.n_bins,
            outcomes=list(self._outcomes),
            hits=list(self._hits),
            stated_sums=list(self._stated_sums),
            held=self._held,
        ).model_dump(mode="json")

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Continue from `state` (from `state_dict`); a bad state is an InvalidInputError."""
        saved = CalibratorState.from_mapping(state)
        self.n_bins = saved.n_bins
        self._outcomes = list(saved.outcomes)
        self._hits = list(saved.hits)
        self._stated_sums = list(saved.stated_sums)
        self._held = saved.held


class ReliabilityRow(Value):
    """One bin of `LLMConfidenceCalibrator.reliability`: stated confidence in [lower, upper) (the
    last bin closed), `n` outcomes, their mean stated confidence and hit rate (None if n = 0), and
    the calibrated confidence the bin maps to."""

    lower: UnitInterval
    upper: UnitInterval
    n: NonNegativeInt
    mean_stated: UnitInterval | None
    hit_rate: UnitInterval | None
    calibrated: UnitInterval


class HeldView(Value):
    """The LLM view `record_held` is accumulating: asked at `asked_at_bar` with its stated
    confidence and direction, its gross growth (1 + return) and summed cost so far."""

    asked_at_bar: NonNegativeInt
    stated_confidence: UnitInterval
    direction: Position
    growth: NonNegative
    cost: NonNegative


class CalibratorState(Value):
    """What `LLMConfidenceCalibrator.state_dict` saves: per bin, outcomes, hits and the sum of the
    stated confidences; and the view being held."""

    n_bins: PositiveInt
    outcomes: list[NonNegativeInt]
    hits: list[NonNegativeInt]
    stated_sums: list[NonNegative]
    held: HeldView | None

    @model_validator(mode="after")
    def _consistent(self) -> CalibratorState:
        lengths = {len(self.outcomes), len(self.hits), len(self.stated_sums)}
        if lengths != {self.n_bins}:
            raise ValueError(f"outcomes, hits and stated_sums must each hold {self.n_bins} bins")
        for n, hits, total in zip(self.outcomes, self.hits, self.stated_sums, strict=True):
            if hits > n or total > n + 1e-9:
                raise ValueError("a bin holds more hits or stated confidence than outcomes")
        return self


class _Outcome(Value):
    """The arguments of `LLMConfidenceCalibrator.update`, checked."""

    stated_confidence: UnitInterval
    direction: Finite
    realized_return: Annotated[float, Field(ge=-1.0, allow_inf_nan=False)]
    cost: NonNegative


class _Stated(Value):
    confidence: UnitInterval
