"""The error types of the orchestrator, so the CLI can print any of them as one clear line."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose; the message says what, where, why."""


class ConfigError(OrchestratorError, ValueError):
    """A setting (combiner thresholds, weight learning, risk limits) outside its allowed range."""


class InvalidInputError(OrchestratorError, ValueError):
    """A run-time value (a vote, a price, a portfolio, a saved state) outside its allowed range."""


class JournalError(OrchestratorError):
    """Base of the journal's errors; also a missing journal or a misuse (a bar out of order)."""


class JournalIdentityError(JournalError):
    """The journal was made by another run: another agent, data source, data or configuration."""


class JournalLockedError(JournalError):
    """Another process (or another open journal in this one) is writing this journal."""


class JournalCorruptError(JournalError):
    """The file is not a journal of this program: not SQLite, a foreign schema, or damaged."""


class CostEstimateError(OrchestratorError):
    """A gateway run whose estimated LLM cost exceeds what the budgets leave (and no --max-cost)."""


class ReportError(OrchestratorError):
    """A report that cannot be made: a journal with nothing to evaluate, or an unwritable folder."""
