"""Scrubs secrets out of text before it reaches a log line, an exception or the ledger.

Servers sometimes echo the key they were sent ("Incorrect API key provided: sk-..."), so every
error text from outside passes through here. Known key values are removed exactly; anything shaped
like a bearer token or an `sk-` key is masked as well, in case a key came from elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_MIN_SECRET_CHARS = 4
_KEY_SHAPES = re.compile(r"(?i)(bearer\s+)\S+|\bsk-[A-Za-z0-9_\-]{6,}")


class Redactor:
    """Replaces the given secret values, and key-shaped tokens, with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a key containing another key is removed whole.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _KEY_SHAPES.sub(lambda m: f"{m.group(1) or ''}{MASK}", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"
