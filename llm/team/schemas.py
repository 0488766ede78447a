"""Structured output of the analyst graph: signals, decisions and the answers asked of each model.

Every analyst rates the market on ONE shared scale (`SIGNAL_SCALE`): a signal in [-1, 1] and a
confidence in [0, 1], so the meta node and the orchestrator can weigh analysts against each other.
The `*Answer` models are what a model is asked to return (their JSON schema goes in the prompt);
`AgentSignal` and `TradingDecision` are what the graph hands on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Signal = Annotated[float, Field(ge=-1.0, le=1.0, description="-1 strong sell ... +1 strong buy")]
Confidence = Annotated[float, Field(ge=0.0, le=1.0, description="0 no conviction ... 1 certain")]
Size = Annotated[float, Field(ge=0.0, le=1.0, description="fraction of the maximum position")]
ShortText = Annotated[str, Field(max_length=2000)]
FeatureList = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20)]
Regime = Literal["bull", "bear", "ranging", "volatile"]

SIGNAL_SCALE = (
    "Rating scale shared by every analyst: signal in [-1, 1] where -1 = strong sell, "
    "-0.5 = sell, 0 = neutral, +0.5 = buy, +1 = strong buy; confidence in [0, 1] where "
    "0 = no conviction and 1 = certain."
)


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class _Strict(BaseModel):
    """Answers are validated strictly: unknown fields are a mistake, not something to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSignal(_Strict):
    """One analyst's view on the shared scale."""

    analyst: str = Field(min_length=1, max_length=64)
    signal: Signal
    confidence: Confidence
    key_features: FeatureList = Field(default_factory=list)
    reasoning: ShortText = ""


class _SizedAction(_Strict):
    """An action with a size; HOLD carries no size, BUY/SELL carry a size above zero."""

    action: Action
    size: Size
    confidence: Confidence
    risk_level: RiskLevel
    reasoning: ShortText

    @model_validator(mode="after")
    def _size_matches_action(self) -> Self:
        if self.action is Action.HOLD and self.size != 0.0:
            raise ValueError(f"HOLD must have size 0, got size {self.size}")
        if self.action is not Action.HOLD and self.size == 0.0:
            raise ValueError(f"{self.action.value} must have a size above 0")
        return self


class CouncilVote(_Strict):
    """One council seat's ballot: its model, and its action, size and confidence (no action: the
    seat gave no valid vote, which counts for nobody)."""

    model: str = Field(min_length=1, max_length=200)
    action: Action | None = None
    size: Size = 0.0
    confidence: Confidence = 0.0


class TradingDecision(_SizedAction):
    """The graph's final decision, with the models that served it and what it cost in dollars.

    `size` is the fraction of the maximum position to act with (0 for HOLD); the orchestrator's
    risk manager decides what that means in shares.
    """

    models: list[str] = Field(default_factory=list)
    cost_usd: float = Field(ge=0.0)
    signals: list[AgentSignal] = Field(default_factory=list)
    """Each analyst's view the decision weighed (`AnalystTeam.decide` attaches them), so that a
    journal keeps every analyst's reasoning, not only the meta decision's."""
    council_votes: list[CouncilVote] = Field(default_factory=list)
    """Each council seat's ballot when a council decided (empty otherwise), kept with the
    decision in the journal."""


class AnalystAnswer(_Strict, ABC):
    """Fields every analyst answer shares: its rating on the common scale and why."""

    signal: Signal
    confidence: Confidence
    reasoning: ShortText

    @abstractmethod
    def key_features(self) -> list[str]:
        """The answer's specific findings as short strings, for `AgentSignal.key_features`."""

    def to_signal(self, analyst: str) -> AgentSignal:
        return AgentSignal(
            analyst=analyst,
            signal=self.signal,
            confidence=self.confidence,
            key_features=self.key_features()[:20],
            reasoning=self.reasoning,
        )


class ChartAnswer(AnalystAnswer):
    """What the chart analyst reads off the candlestick chart."""

    trend: Literal["up", "down", "sideways"]
    support: float | None = Field(default=None, gt=0.0)
    resistance: float | None = Field(default=None, gt=0.0)
    patterns: FeatureList = Field(default_factory=list)
    candlestick_signals: FeatureList = Field(default_factory=list)

    def key_features(self) -> list[str]:
        levels = [
            f"{name}={value:.6g}"
            for name, value in (("support", self.support), ("resistance", self.resistance))
            if value is not None
        ]
        return [f"trend={self.trend}", *levels, *self.patterns, *self.candlestick_signals]


class NarrativeAnswer(AnalystAnswer):
    """The market regime and the story behind it."""

    regime: Regime
    drivers: FeatureList = Field(default_factory=list)
    risks: FeatureList = Field(default_factory=list)

    def key_features(self) -> list[str]:
        return [
            f"regime={self.regime}",
            *(f"driver: {d}" for d in self.drivers),
            *(f"risk: {r}" for r in self.risks),
        ]


class DataAnswer(AnalystAnswer):
    """Order flow and volume findings from trades, or from bars when there are no trades."""

    order_flow_imbalance: Signal
    volume_spike: bool
    block_trades: int = Field(ge=0)
    micro_patterns: FeatureList = Field(default_factory=list)

    def key_features(self) -> list[str]:
        return [
            f"order_flow_imbalance={self.order_flow_imbalance:+.3f}",
            f"volume_spike={'yes' if self.volume_spike else 'no'}",
            f"block_trades={self.block_trades}",
            *self.micro_patterns,
        ]


class MetaAnswer(_SizedAction):
    """What the meta orchestrator model returns; the graph adds models and cost."""

    @classmethod
    def fail_closed(cls, reasoning: str) -> MetaAnswer:
        """Do nothing, with no conviction: the answer when nothing can be trusted."""
        return cls(
            action=Action.HOLD,
            size=0.0,
            confidence=0.0,
            risk_level=RiskLevel.HIGH,
            reasoning=reasoning,
        )

    def to_decision(self, *, models: list[str], cost_usd: float) -> TradingDecision:
        return TradingDecision(
            **self.model_dump(),
            models=models,
            cost_usd=cost_usd,
        )


class Lesson(_Strict):
    """What a closed trade teaches, as the reflection task writes it: the situation, what was
    decided and why, what happened, and what to do next time in a situation like it."""

    situation: ShortText
    decision: ShortText
    outcome: ShortText
    next_time: ShortText

    def text(self) -> str:
        """The lesson as one line: what is embedded for retrieval and shown in prompts."""
        return (
            f"{self.situation} Decided: {self.decision} Outcome: {self.outcome}"
            f" Next time: {self.next_time}"
        )
