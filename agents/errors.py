"""The one error type a user can cause in `agents` (bad agent directory, bad option, mismatch)."""

from __future__ import annotations


class AgentError(Exception):
    """A clear, user-facing problem with an agent, its files or its training options.

    The message names what is wrong and where (the file, the option, the features that differ),
    so the CLI can print it as one line with no traceback.
    """
