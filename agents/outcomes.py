"""Was a decision right? The hindsight test that the confidence is calibrated against.

A decision at close t is right when no other action would have ended bar t+1 with more equity, after
costs: every action is replayed from the same portfolio through the env's own order model
(`envs.trading.execution.market_order`, sized at close[t], filled at open[t+1]), then marked at
close[t+1], exactly the timing of `TradingEnv.step`. So "right" includes the cost of trading:
holding a position can be right on a small move that would not pay for switching.
"""

from __future__ import annotations

import numpy as np

from envs import CostModel, market_order

RELATIVE_TOLERANCE = 1e-12  # equities equal up to rounding count as ties, and a tie is right


def one_step_equities(
    cash: float,
    shares: float,
    held_target: float,
    targets: np.ndarray,
    *,
    close_now: float,
    open_next: float,
    close_next: float,
    cost_model: CostModel,
) -> np.ndarray:
    """Equity at close[t+1] after each action's target, from the portfolio held at close t.

    An action whose target is the one already held trades nothing, as in `TradingEnv.step`.
    """
    targets = np.asarray(targets, dtype=np.float64)
    n = len(targets)
    fill = market_order(
        np.full(n, cash), np.full(n, shares), targets, close_now, open_next, cost_model
    )
    traded_equity = fill.cash + fill.shares * close_next
    return np.where(targets == held_target, cash + shares * close_next, traded_equity)


def chosen_was_best(equities: np.ndarray, chosen: int) -> bool:
    """Whether the chosen action's equity is the best of all actions (ties count as best)."""
    best = float(np.max(equities))
    return bool(equities[chosen] >= best - RELATIVE_TOLERANCE * abs(best))
