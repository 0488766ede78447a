"""The strategies a backtest runs, by name: a module of its own, with no imports of the trading
stack, so that a process that only names strategies (the evaluation's driver, which validates a
spec and plans the cells while Ray workers train) need not load torch or the analysts."""

from __future__ import annotations

from typing import Literal, get_args

StrategyName = Literal[
    "buy_and_hold",
    "drl",
    "llm",
    "hybrid_fixed",
    "hybrid_learned",
    "hybrid_seed",
    "hybrid_market",
    "hybrid_memory",
]
STRATEGY_NAMES: tuple[StrategyName, ...] = get_args(StrategyName)
BUY_AND_HOLD: StrategyName = "buy_and_hold"
