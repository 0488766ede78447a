"""The values a journal stores and gives back: run identity, bars, the LLM view, the resume state.

Everything is turned into canonical JSON (sorted keys, no NaN) before it is stored, so the same
run always writes the same text and a resumed run can compare its identity byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd
from pydantic import ValidationError

from agents.decision import DRLDecision
from llm.schemas import TradingDecision
from orchestrator.broker import OrderRequest
from orchestrator.combiner import HybridAction, HybridDecision
from orchestrator.journal_errors import JournalCorruptError, JournalError
from orchestrator.portfolio import PortfolioState
from orchestrator.validation import checked_number
from orchestrator.votes import SourceVote
from orchestrator.weights import HedgeWeights, WeightUpdate

JsonObject = Mapping[str, object]
_MISSING = "<missing>"


def canonical_json(value: object, what: str) -> str:
    """`value` as compact JSON with sorted keys; NaN, infinities and non-JSON types are refused."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"{what} must be JSON-ready (no NaN, no objects): {exc}") from None


def canonical_hash(value: object, what: str = "value") -> str:
    """sha256 of `canonical_json(value)`: e.g. the hash of an agent manifest's `to_dict()`."""
    return hashlib.sha256(canonical_json(value, what).encode()).hexdigest()


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs the same run: a journal refuses to resume under any other identity.

    agent_hash: hash of the agent's manifest (`canonical_hash(manifest.to_dict())`).
    data_source / data_hash: the source name or path, and the hash of its bars.
    config: every setting that changes the run's results (combiner, weights, risk, costs, LLM
        cadence), as JSON-ready values. Leave out what does not (e.g. display pacing), or a run
        could not be resumed with another.
    """

    agent_hash: str
    data_source: str
    data_hash: str
    config: JsonObject

    def __post_init__(self) -> None:
        for name in ("agent_hash", "data_source", "data_hash"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise JournalError(f"RunIdentity.{name} must be a non-empty string, got {value!r}")
        if not isinstance(self.config, Mapping):
            raise JournalError(f"RunIdentity.config must be a mapping, got {self.config!r}")
        config = json.loads(canonical_json(dict(self.config), "RunIdentity.config"))
        object.__setattr__(self, "config", MappingProxyType(config))

    @property
    def config_json(self) -> str:
        return canonical_json(dict(self.config), "RunIdentity.config")

    def mismatches(self, other: RunIdentity) -> list[str]:
        """What differs from `other`, one readable line per field (config: per top-level key)."""
        found = [
            f"{name}: journal has {getattr(other, name)!r}, this run has {getattr(self, name)!r}"
            for name in ("agent_hash", "data_source", "data_hash")
            if getattr(self, name) != getattr(other, name)
        ]
        for key in sorted(set(self.config) | set(other.config)):
            mine = self.config.get(key, _MISSING)
            theirs = other.config.get(key, _MISSING)
            if canonical_json(mine, key) != canonical_json(theirs, key):
                found.append(f"config[{key!r}]: journal has {theirs!r}, this run has {mine!r}")
        return found


@dataclass(frozen=True)
class BarSeen:
    """One bar of the live feed, with its position in the feed (`index`, from 0)."""

    index: int
    timestamp: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    def __post_init__(self) -> None:
        index = self.index
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise JournalError(f"bar index must be an int >= 0, got {index!r}")
        if not isinstance(self.timestamp, dt.datetime):
            raise JournalError(f"bar {index}: timestamp must be a datetime, got {self.timestamp!r}")
        for name in ("open", "high", "low", "close"):
            value = checked_number(
                f"bar {index} {name}",
                getattr(self, name),
                low=0.0,
                low_open=True,
                error=JournalError,
            )
            object.__setattr__(self, name, value)
        volume = checked_number(f"bar {index} volume", self.volume, low=0.0, error=JournalError)
        object.__setattr__(self, "volume", volume)

    @classmethod
    def from_frame(cls, bars: pd.DataFrame, index: int) -> BarSeen:
        """Row `index` of a market-data frame (the DESIGN contract: lower-case OHLCV columns)."""
        row = bars.iloc[index]
        return cls(
            index=index,
            timestamp=pd.Timestamp(bars.index[index]).to_pydatetime(),
            open=float(row["open"]),
            high=float(row["high"]),
            low=float(row["low"]),
            close=float(row["close"]),
            volume=float(row["volume"]),
        )


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


@dataclass(frozen=True)
class RestoredState:
    """Everything a resumed run needs to continue exactly where the last completed bar left off.

    bar: the last completed bar. portfolio: the account after it (as `record_state` saved it).
    weights: the Hedge weights with their whole history. llm_view: the last LLM view, if any.
    last_decision: the latest hybrid decision (the sources' last positions, for their costs).
    pending_orders: orders sent and not yet (fully) filled: hand them to `resubmit_pending`.
    loop_state: the loop's own JSON values saved with the bar.
    """

    bar: BarSeen
    portfolio: PortfolioState
    weights: HedgeWeights
    llm_view: LLMView | None
    last_decision: HybridDecision | None
    pending_orders: tuple[OrderRequest, ...]
    loop_state: JsonObject


def drl_record(decision: DRLDecision) -> dict[str, object]:
    """A DRL decision as JSON-ready values (the raw Q-values or probabilities as lists)."""
    return {
        "action": decision.action,
        "target_position": decision.target_position,
        "confidence": decision.confidence,
        "q_values": None if decision.q_values is None else decision.q_values.tolist(),
        "action_probs": None if decision.action_probs is None else decision.action_probs.tolist(),
    }


def decision_from_record(record: Mapping[str, object]) -> HybridDecision:
    """The inverse of `HybridDecision.to_record`."""
    try:
        fields = dict(record)
        return HybridDecision(
            **{
                **fields,
                "drl": SourceVote(**fields["drl"]),  # type: ignore[arg-type]
                "llm": SourceVote(**fields["llm"]),  # type: ignore[arg-type]
                "action": HybridAction(fields["action"]),
            }
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalCorruptError(f"saved hybrid decision is malformed: {exc}") from None


def weights_from_records(
    state: Mapping[str, object], history: Sequence[WeightUpdate]
) -> HedgeWeights:
    """Hedge weights from a saved `state_dict` (config and log-odds) and the journaled updates."""
    try:
        return HedgeWeights.from_state(state, history=history)
    except ValueError as exc:  # InvalidInputError and ConfigError are ValueErrors
        raise JournalCorruptError(f"saved weights are malformed: {exc}") from None


def portfolio_from_record(record: Mapping[str, object]) -> PortfolioState:
    try:
        return PortfolioState.from_dict(dict(record))
    except ValueError as exc:
        raise JournalCorruptError(f"saved portfolio is malformed: {exc}") from None
