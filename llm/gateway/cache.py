"""Exact-match response cache in SQLite, so that a repeated prompt costs nothing.

The key covers everything that changes the answer's meaning: the requested model, the prompt
template version, the response schema's version (a hash of its JSON schema) and a canonical hash
of the messages (images included). Only the answer and its token counts are stored: no request
headers, so no keys. Only answers that parsed as their request's schema are stored (the gateway
checks before it stores, and drops a stored answer that no longer parses). In replay mode the
gateway serves from here only (expired entries too) and a miss is a `ReplayMissError`, which makes
a backtest re-run free and bit-reproducible.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from llm.gateway.types import LLMCallError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_requested TEXT NOT NULL,
    model_served TEXT NOT NULL,
    content TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
);
"""


class ReplayMissError(LLMCallError):
    """Replay mode found no cached answer for a request: the re-run is not reproducible."""


@dataclass(frozen=True)
class CachedAnswer:
    """A stored answer; `created_at` is seconds since the epoch."""

    model_requested: str
    model_served: str
    content: str
    input_tokens: int
    output_tokens: int
    created_at: float


@functools.cache
def schema_version(schema: type[BaseModel] | None) -> str:
    """A short hash of the response schema's JSON schema; "none" for free-text answers.

    Cached per class: building the JSON schema costs more than the rest of a cache look-up.
    """
    if schema is None:
        return "none"
    text = json.dumps(schema.model_json_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_key(model: str, template_version: str, schema: str, messages_digest: str) -> str:
    """The exact-match key of one request to one model."""
    parts = ("v1", model, template_version, schema, messages_digest)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe SQLite cache with a time-to-live in seconds. `path` may be ":memory:"."""

    def __init__(
        self, path: Path | str, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("cache ttl_s must be > 0")
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
        with self._lock, self._connection:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
            self._connection.executescript(_SCHEMA)

    def get(self, key: str, *, ignore_ttl: bool = False) -> CachedAnswer | None:
        """The answer stored under `key`, unless expired (replay passes `ignore_ttl=True`)."""
        with self._lock:
            row = self._connection.execute(
                "SELECT model_requested, model_served, content, input_tokens, output_tokens, "
                "created_at FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        answer = CachedAnswer(*row)
        if not ignore_ttl and self._clock() - answer.created_at > self.ttl_s:
            return None
        return answer

    def put(self, key: str, answer: CachedAnswer) -> None:
        with self._lock, self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    answer.model_requested,
                    answer.model_served,
                    answer.content,
                    answer.input_tokens,
                    answer.output_tokens,
                    answer.created_at,
                ),
            )

    def delete(self, key: str) -> None:
        """Forget the answer stored under `key` (one that no longer parses)."""
        with self._lock, self._connection:
            self._connection.execute("DELETE FROM responses WHERE key = ?", (key,))

    def clear(self) -> int:
        """Forget every stored answer; the number forgotten."""
        with self._lock, self._connection:
            return self._connection.execute("DELETE FROM responses").rowcount

    def now(self) -> float:
        return self._clock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
