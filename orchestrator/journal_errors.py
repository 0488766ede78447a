"""Why a paper-trade journal cannot be opened or written; each names the file and what to do."""

from __future__ import annotations

from orchestrator.errors import OrchestratorError


class JournalError(OrchestratorError):
    """Base of the journal's errors; also a missing journal or a misuse (a bar out of order)."""


class JournalIdentityError(JournalError):
    """The journal was made by another run: another agent, data source, data or configuration."""


class JournalLockedError(JournalError):
    """Another process (or another open journal in this one) is writing this journal."""


class JournalCorruptError(JournalError):
    """The file is not a journal of this program: not SQLite, a foreign schema, or damaged."""
