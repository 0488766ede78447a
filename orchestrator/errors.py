"""The error types of the orchestrator, so the CLI can print any of them as one clear line."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose; the message says what, where, why."""


class ConfigError(OrchestratorError, ValueError):
    """A setting (combiner thresholds, weight learning, risk limits) outside its allowed range."""


class InvalidInputError(OrchestratorError, ValueError):
    """A run-time value (a vote, a price, a portfolio, a saved state) outside its allowed range."""
