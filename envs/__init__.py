"""Market data, causal features and the gymnasium trading environment.

`envs` imports nothing from `agents`, `llm` or `orchestrator` (see DESIGN.md).
"""

from envs.registration import TRADING_ENV_ID, register_trading_env

register_trading_env()

__all__ = ["TRADING_ENV_ID"]
