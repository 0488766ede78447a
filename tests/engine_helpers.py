"""Small markets, strategies, agents and recorders for the bar-engine and hybrid-trader tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from agents import DRLDecision
from llm import Action, MarketSnapshot, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.trader.cadence import LLMView
from orchestrator.trader.hedge import HedgeWeights, WeightUpdate
from orchestrator.trader.market import TradingMarket
from orchestrator.trader.strategy import StrategyDecision
from tests.agents_helpers import hand_market


def trading_market(
    open_: Sequence[float],
    close: Sequence[float],
    *,
    window: int = 2,
    features: np.ndarray | None = None,
) -> TradingMarket:
    """A hand-made market whose first decision is at bar `window - 1`."""
    arrays = hand_market(list(open_), list(close))
    if features is not None:
        names = tuple(f"f{i}" for i in range(features.shape[1]))
        arrays = replace(arrays, features=features.astype(np.float32), feature_names=names)
    history = pd.DataFrame(
        {name: getattr(arrays, name) for name in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex(arrays.dates),
    )
    return TradingMarket("hand", "TEST", arrays, history, first_bar=window - 1, data_hash="hand")


@dataclass
class ScriptedStrategy:
    """Targets given per bar (0 where none is given); learns nothing."""

    targets: Mapping[int, float]

    @property
    def weights(self) -> HedgeWeights:
        return HedgeWeights()

    @property
    def llm_view(self) -> LLMView | None:
        return None

    def learn(self, bar: int, bar_return: float, label: str) -> WeightUpdate | None:
        return None

    def decide(self, bar: int, portfolio: PortfolioState, price: float) -> StrategyDecision:
        return StrategyDecision(self.targets.get(bar, 0.0), "scripted")

    def state_dict(self) -> dict[str, object]:
        return {}

    def load_state_dict(
        self,
        state: Mapping[str, object],
        *,
        weight_history: Sequence[WeightUpdate] = (),
        llm_view: LLMView | None = None,
    ) -> None:
        """Nothing to restore."""


@dataclass
class ListRecorder:
    """A `BarRecorder` that keeps every call as (method name, first argument, keywords)."""

    calls: list[tuple[str, object, dict[str, object]]] = field(default_factory=list)

    def _keep(self, name: str, value: object = None, **keywords: object) -> None:
        self.calls.append((name, value, keywords))

    def of(self, name: str) -> list[object]:
        return [value for method, value, _ in self.calls if method == name]

    def record_decision(self, decision: object, **keywords: object) -> None:
        self._keep("decision", decision, **keywords)

    def record_risk_check(self, check: object) -> None:
        self._keep("risk_check", check)

    def record_order(self, order: object, ack: object) -> None:
        self._keep("order", (order, ack))

    def record_order_closed(self, ack: object) -> None:
        self._keep("order_closed", ack)

    def record_fill(self, fill: object) -> None:
        self._keep("fill", fill)

    def record_weight_update(self, update: object, *, decision_bar: int) -> None:
        self._keep("weight_update", update, decision_bar=decision_bar)

    def record_llm_call(self, entry: object) -> None:
        self._keep("llm_call", entry)

    def record_memory(self, records: object) -> None:
        self._keep("memory", records)

    def record_state(self, **keywords: object) -> None:
        self._keep("state", None, **keywords)


class FeatureAgent:
    """A stand-in DRL agent: target = the last feature row's first value, confidence its second.

    Targets map to actions as the long-only env does: 0 -> 0, 0.5 -> 1, 1 -> 2.
    """

    def __init__(self, window: int, n_features: int) -> None:
        self.last_row = (window - 1) * n_features
        self.seen: list[np.ndarray] = []

    def decide(self, observation: np.ndarray) -> DRLDecision:
        self.seen.append(observation.copy())
        target = float(observation[self.last_row])
        confidence = float(observation[self.last_row + 1])
        return DRLDecision(action=round(target * 2), target_position=target, confidence=confidence)


class TrendAnalyst:
    """A stand-in analyst team: BUY 0.6 when the snapshot's last close is at or above its first,
    else SELL 0.4 (so the same snapshot always gets the same answer); keeps its snapshots."""

    def __init__(self) -> None:
        self.snapshots: list[MarketSnapshot] = []

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision:
        self.snapshots.append(snapshot)
        buy = snapshot.bars[-1].close >= snapshot.bars[0].close
        return TradingDecision(
            action=Action.BUY if buy else Action.SELL,
            size=0.6 if buy else 0.4,
            confidence=0.5,
            risk_level=RiskLevel.MEDIUM,
            reasoning="trend",
            models=["stub"],
            cost_usd=0.0,
        )
