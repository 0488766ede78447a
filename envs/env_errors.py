"""The error type of the trading environment and its parts (settings, costs, market arrays)."""

from __future__ import annotations


class EnvSetupError(ValueError):
    """A setting, or a market, that the trading environment cannot run on; the message says why."""
