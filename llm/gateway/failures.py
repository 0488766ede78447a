"""What went wrong with one attempt, sorted into the kinds the retry loop treats differently.

The SDK's retries are off (`max_retries=0`), so every failure of the client surfaces here once:
- auth (401/403, or a 400 whose body says the key or the caller was refused, as LiteLLM sends
  `No connected db.`): the endpoint rejects us; never retried, the run stops;
- context length: not retried; the router may send the call to the long-context model;
- rejected (other 4xx): not retried; the next model is tried;
- rate limited (429): retried after the server's Retry-After, when that wait is within the cap;
- server errors (5xx), timeouts, dropped connections, unparseable bodies: retried (after the
  server's Retry-After when it sends one), then the next model;
- an invalid answer (HTTP 200 whose content fails the request's schema): retried, then the next
  model, exactly like an HTTP error (the gateway classifies it, not this function);
- the wrong model (a critical answer served by a model outside its task's chain): not retried.
Anything else is a bug, not a model failure, and propagates unchanged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import openai
from langchain_core.exceptions import ContextOverflowError

_DETAIL_CHARS = 200
_ERROR_CODE_PREFIX = re.compile(r"^Error code: \d+ - ")  # the SDK's prefix; we add our own
_AUTH_WORDS = re.compile(
    r"auth|api[ _-]?key|unauthori[sz]ed|forbidden|permission denied|no connected db",
    re.IGNORECASE,
)
_CONTEXT_WORDS = re.compile(
    r"context[ _]length|context window|maximum context|prompt is too long|too many tokens",
    re.IGNORECASE,
)


class FailureKind(StrEnum):
    AUTH = "auth"
    CONTEXT_LENGTH = "context_length"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    INVALID_RESPONSE = "invalid_response"
    INVALID_ANSWER = "invalid_answer"
    WRONG_MODEL = "wrong_model"
    NOT_CONFIGURED = "not_configured"
    DEADLINE = "deadline"


_TRANSIENT = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.SERVER_ERROR,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
        FailureKind.INVALID_RESPONSE,
        FailureKind.INVALID_ANSWER,
    }
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt. `detail` may quote the server: scrub it before showing it."""

    kind: FailureKind
    detail: str
    retry_after_s: float | None = None

    @property
    def transient(self) -> bool:
        """Worth retrying on the same model, and a sign of the model's ill health."""
        return self.kind in _TRANSIENT

    def describe(self) -> str:
        return f"{self.kind.value}: {self.detail}"


def classify(exc: BaseException) -> Failure | None:
    """The failure `exc` stands for, or None when it is not a model/endpoint failure."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure(FailureKind.TIMEOUT, "no answer within the timeout")
    if isinstance(exc, openai.APIConnectionError):
        return Failure(FailureKind.CONNECTION, "connection failed or dropped")
    if isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError):
        return Failure(FailureKind.INVALID_RESPONSE, "response body is not valid JSON")
    if isinstance(exc, ContextOverflowError):
        return Failure(FailureKind.CONTEXT_LENGTH, _short(str(exc)))
    if not isinstance(exc, openai.APIStatusError):
        return None
    status = exc.status_code
    detail = _short(f"HTTP {status}: {_ERROR_CODE_PREFIX.sub('', exc.message)}")
    if status in (401, 403) or (status == 400 and _refuses_caller(exc, detail)):
        return Failure(FailureKind.AUTH, detail)
    if status == 429:
        return Failure(FailureKind.RATE_LIMITED, detail, retry_after(exc.response.headers))
    if status >= 500 or status in (408, 409):
        return Failure(FailureKind.SERVER_ERROR, detail, retry_after(exc.response.headers))
    if status == 413 or exc.code == "context_length_exceeded" or _CONTEXT_WORDS.search(detail):
        return Failure(FailureKind.CONTEXT_LENGTH, detail)
    return Failure(FailureKind.REJECTED, detail)


def _refuses_caller(exc: openai.APIStatusError, detail: str) -> bool:
    """A 400 that is really an authentication failure (LiteLLM's wrong key without its database:
    `Authentication Error, No connected db.`, type `auth_error`)."""
    return bool(_AUTH_WORDS.search(detail) or _AUTH_WORDS.search(str(exc.type or "")))


_RETRY_AFTER_HEADERS = ("retry-after", "llm_provider-retry-after")


def retry_after(headers: object) -> float | None:
    """Seconds to wait as the server asks: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date) or the names proxies forward it under (LiteLLM: `llm_provider-retry-after`).
    Never negative; the caller compares it with its own cap."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    milliseconds = _seconds(get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    for name in _RETRY_AFTER_HEADERS:
        value = get(name)
        if value is not None:
            seconds = _seconds(value)
            return seconds if seconds is not None else _until(value)
    return None


def _seconds(value: str | None) -> float | None:
    """A finite, non-negative number of `value`, or None when it is not one."""
    try:
        number = float(value) if value is not None else float("nan")
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


def _until(value: str) -> float | None:
    """Seconds from now until the HTTP date `value`, or None when it is not a date."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


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
