"""The analyst graph's state: what the parallel analysts write and the meta node reads.

Fields that several nodes write in the same step (signals, errors, skips, costs, models) are lists
merged by `operator.add`, so parallel analysts never overwrite each other.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, TypedDict

from llm.team.schemas import AgentSignal, TradingDecision
from llm.team.snapshot import MarketSnapshot


class IssueKind(StrEnum):
    MISSING_INPUT = "missing_input"
    BUDGET_SKIP = "budget_skip"
    CALL_FAILED = "call_failed"
    INVALID_ANSWER = "invalid_answer"


@dataclass(frozen=True)
class NodeIssue:
    """Why a node produced no answer. Skips (missing input, budget) are not errors."""

    node: str
    kind: IssueKind
    message: str


DecisionSource = Literal["meta", "council", "fallback"]


class AnalystState(TypedDict):
    snapshot: MarketSnapshot
    signals: Annotated[list[AgentSignal], operator.add]
    errors: Annotated[list[NodeIssue], operator.add]
    skipped: Annotated[list[NodeIssue], operator.add]
    costs: Annotated[list[float], operator.add]
    models: Annotated[list[str], operator.add]
    decision: TradingDecision | None
    decided_by: DecisionSource | None


class StateUpdate(TypedDict, total=False):
    """A node's partial write to `AnalystState`."""

    signals: list[AgentSignal]
    errors: list[NodeIssue]
    skipped: list[NodeIssue]
    costs: list[float]
    models: list[str]
    decision: TradingDecision
    decided_by: DecisionSource


def initial_state(snapshot: MarketSnapshot) -> AnalystState:
    return AnalystState(
        snapshot=snapshot,
        signals=[],
        errors=[],
        skipped=[],
        costs=[],
        models=[],
        decision=None,
        decided_by=None,
    )


def merge_updates(*updates: StateUpdate) -> StateUpdate:
    """Several calls' updates as one: list fields concatenated in order."""
    return StateUpdate(
        signals=[item for u in updates for item in u.get("signals", [])],
        errors=[item for u in updates for item in u.get("errors", [])],
        skipped=[item for u in updates for item in u.get("skipped", [])],
        costs=[item for u in updates for item in u.get("costs", [])],
        models=[item for u in updates for item in u.get("models", [])],
    )
