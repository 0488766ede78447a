"""Registers the trading env with gymnasium on import, so that `gymnasium.make(TRADING_ENV_ID,
...)` works for whoever imported `TRADING_ENV_ID`."""

from __future__ import annotations

import gymnasium as gym

TRADING_ENV_ID = "HybridTrader/Trading-v0"


def register_trading_env() -> None:
    """Add the env to gymnasium's in-memory registry; idempotent (safe on re-import).

    `order_enforce=False`: TradingEnv itself refuses `step()` before `reset()` (its episode starts
    ended), with its own RuntimeError, so gymnasium's OrderEnforcing wrapper is not needed.
    """
    if TRADING_ENV_ID not in gym.registry:
        gym.register(
            id=TRADING_ENV_ID,
            entry_point="envs.trading.trading_env:TradingEnv",
            order_enforce=False,
        )


register_trading_env()
