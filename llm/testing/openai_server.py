"""A local OpenAI-compatible chat-completions server with programmable faults, for tests.

Tests drive the real `ChatOpenAI` client against it over HTTP, so that retries, fallbacks, usage
accounting and timeouts are exercised exactly as against a real gateway. It listens on 127.0.0.1
on a free port, serves `POST /v1/chat/completions` (non-streaming answers only) and
`POST /v1/embeddings` (the local hashing embedding of each input, `prompt_tokens` per input), and
logs every request it receives (JSON body and headers), so a test can prove that a cache hit sent
nothing. Faults apply to both routes.

    with FakeOpenAIServer() as server:
        server.configure("model-a", prompt_tokens=100, completion_tokens=20, cost=0.001)
        server.script("model-a", Fault.server_error(), Fault.rate_limited(retry_after=2))
        ...  # point ChatOpenAI(base_url=server.base_url) at it
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from llm.team.embedding import HashingEmbedder

EMBEDDING_DIMENSIONS = 64  # not the local embedder's size: a test sees which one embedded

Responder = Callable[[dict[str, Any]], str]
"""Maps a request's JSON body to the assistant's reply text."""

_COMPLETIONS_PATH = "/v1/chat/completions"
_EMBEDDINGS_PATH = "/v1/embeddings"


class FaultKind(StrEnum):
    """What the server does instead of (or before) answering normally."""

    RATE_LIMITED = "rate_limited"  # 429 with a Retry-After header
    SERVER_ERROR = "server_error"  # 500
    SLOW = "slow"  # a normal answer after `delay_s`, meant to exceed the client timeout
    TRICKLE = "trickle"  # a normal answer sent a byte every `delay_s`: no read ever times out
    INVALID_JSON = "invalid_json"  # 200 with a body that is not JSON
    DROP = "drop"  # close the connection without any response
    CONTEXT_LENGTH = "context_length"  # 400 context_length_exceeded
    UNAUTHORIZED = "unauthorized"  # 401 echoing the bearer token, as careless servers do
    PROSE = "prose"  # 200 whose answer is a sentence, not the JSON the prompt asked for
    NO_CONNECTED_DB = "no_connected_db"  # LiteLLM's 400 for a wrong key when it has no database


@dataclass(frozen=True)
class Fault:
    """One programmed misbehaviour; build with the named constructors."""

    kind: FaultKind
    retry_after_s: float | None = None
    delay_s: float = 0.0
    retry_after_header: str = "Retry-After"

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0, header: str = "Retry-After") -> Fault:
        """429 asking to wait `retry_after` seconds in the header `header` (proxies rename it)."""
        return cls(FaultKind.RATE_LIMITED, retry_after_s=retry_after, retry_after_header=header)

    @classmethod
    def server_error(cls) -> Fault:
        return cls(FaultKind.SERVER_ERROR)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        return cls(FaultKind.SLOW, delay_s=delay_s)

    @classmethod
    def trickle(cls, byte_every_s: float) -> Fault:
        return cls(FaultKind.TRICKLE, delay_s=byte_every_s)

    @classmethod
    def invalid_json(cls) -> Fault:
        return cls(FaultKind.INVALID_JSON)

    @classmethod
    def drop(cls) -> Fault:
        return cls(FaultKind.DROP)

    @classmethod
    def context_length(cls) -> Fault:
        return cls(FaultKind.CONTEXT_LENGTH)

    @classmethod
    def unauthorized(cls) -> Fault:
        return cls(FaultKind.UNAUTHORIZED)

    @classmethod
    def prose(cls) -> Fault:
        return cls(FaultKind.PROSE)

    @classmethod
    def no_connected_db(cls) -> Fault:
        return cls(FaultKind.NO_CONNECTED_DB)


@dataclass
class ModelBehaviour:
    """How the server answers for one requested model id."""

    prompt_tokens: int = 100
    completion_tokens: int = 20
    cost: float | None = None  # reported as usage.cost when set (as OpenRouter does)
    served_as: str | None = None  # the `model` field of the answer; the requested id when None
    latency_s: float = 0.0  # added before every answer
    always: Fault | None = None  # a fault on every call
    scripted: deque[Fault] = field(default_factory=deque)  # faults for the next calls, in order


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it; `fault` is what it did instead of answering, if any."""

    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    fault: FaultKind | None


def _default_responder(body: dict[str, Any]) -> str:
    return json.dumps({"echo_model": body.get("model"), "messages": len(body.get("messages", []))})


class FakeOpenAIServer:
    """OpenAI-compatible HTTP server in a background thread; a context manager.

    `latency_s` is added to every answer (a benchmark can inject 200 ms); per-model settings from
    `configure` override the defaults. All methods are thread-safe.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        prompt_tokens: int = 100,
        completion_tokens: int = 20,
    ) -> None:
        self.responder: Responder = responder or _default_responder
        self._defaults = ModelBehaviour(
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency_s
        )
        self._behaviours: dict[str, ModelBehaviour] = {}
        self._every_model: Fault | None = None
        self._received: list[ReceivedRequest] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ends in /v1) to give a client."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    # ---- programming -----------------------------------------------------------------------
    def configure(
        self,
        model: str,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cost: float | None = None,
        served_as: str | None = None,
        latency_s: float | None = None,
        always: Fault | None = None,
    ) -> None:
        """Set how `model` is answered; arguments left as None keep their current value."""
        with self._lock:
            behaviour = self._behaviour(model)
            for name, value in (
                ("prompt_tokens", prompt_tokens),
                ("completion_tokens", completion_tokens),
                ("cost", cost),
                ("served_as", served_as),
                ("latency_s", latency_s),
                ("always", always),
            ):
                if value is not None:
                    setattr(behaviour, name, value)

    def fail_every_model(self, fault: Fault | None) -> None:
        """`fault` on every call to every model, configured or not (None: stop it); a model's
        own `always` fault still comes first."""
        with self._lock:
            self._every_model = fault

    def clear_fault(self, model: str) -> None:
        """Stop the persistent fault of `model` (scripted faults are kept)."""
        with self._lock:
            self._behaviour(model).always = None

    def script(self, model: str, *faults: Fault) -> None:
        """Queue faults for the next calls to `model`; once used up, calls are answered normally."""
        with self._lock:
            self._behaviour(model).scripted.extend(faults)

    # ---- inspection ------------------------------------------------------------------------
    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def requests_for(self, model: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.model == model]

    def models_called(self) -> list[str]:
        """Requested model of every request, in arrival order."""
        return [r.model for r in self.requests]

    def reset_log(self) -> None:
        with self._lock:
            self._received.clear()

    # ---- used by the handler ---------------------------------------------------------------
    def _behaviour(self, model: str) -> ModelBehaviour:
        if model not in self._behaviours:
            d = self._defaults
            self._behaviours[model] = ModelBehaviour(
                prompt_tokens=d.prompt_tokens,
                completion_tokens=d.completion_tokens,
                latency_s=d.latency_s,
            )
        return self._behaviours[model]

    def _next_action(
        self, model: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[ModelBehaviour, Fault | None]:
        with self._lock:
            behaviour = self._behaviour(model)
            fault = behaviour.scripted.popleft() if behaviour.scripted else behaviour.always
            fault = fault or self._every_model
            self._received.append(
                ReceivedRequest(model, body, headers, fault.kind if fault else None)
            )
            return behaviour, fault

    def _embeddings(self, model: str, behaviour: ModelBehaviour, body: dict[str, Any]) -> bytes:
        """Each input's local hashing embedding, `prompt_tokens` tokens an input."""
        raw = body.get("input", [])
        texts = [raw] if isinstance(raw, str) else [str(text) for text in raw]
        vectors = HashingEmbedder(EMBEDDING_DIMENSIONS).embed(texts)
        usage: dict[str, Any] = {
            "prompt_tokens": behaviour.prompt_tokens * len(texts),
            "total_tokens": behaviour.prompt_tokens * len(texts),
        }
        if behaviour.cost is not None:
            usage["cost"] = behaviour.cost
        answer = {
            "object": "list",
            "model": behaviour.served_as or model,
            "data": [
                {"object": "embedding", "index": i, "embedding": vector.tolist()}
                for i, vector in enumerate(vectors)
            ],
            "usage": usage,
        }
        return json.dumps(answer).encode()

    def _completion(
        self, model: str, behaviour: ModelBehaviour, body: dict[str, Any], text: str | None = None
    ) -> bytes:
        """A normal answer; `text` replaces what the responder would say."""
        usage: dict[str, Any] = {
            "prompt_tokens": behaviour.prompt_tokens,
            "completion_tokens": behaviour.completion_tokens,
            "total_tokens": behaviour.prompt_tokens + behaviour.completion_tokens,
        }
        if behaviour.cost is not None:
            usage["cost"] = behaviour.cost
        answer = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": behaviour.served_as or model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self.responder(body) if text is None else text,
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        return json.dumps(answer).encode()


def _error_body(message: str, kind: str, code: str | int) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: without it the body, written after the headers, waits for the client's
        # delayed ACK (about 40 ms on Linux), which swamps an injected latency.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the stdlib's per-request stderr lines."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path not in (_COMPLETIONS_PATH, _EMBEDDINGS_PATH):
                self._send(404, _error_body(f"no route {self.path}", "not_found", 404))
                return
            body = json.loads(raw or b"{}")
            model = str(body.get("model", ""))
            behaviour, fault = server._next_action(model, body, dict(self.headers.items()))
            if behaviour.latency_s:
                time.sleep(behaviour.latency_s)
            if fault is None and self.path == _EMBEDDINGS_PATH:
                self._send(200, server._embeddings(model, behaviour, body))
                return
            if fault is None:
                self._send(200, server._completion(model, behaviour, body))
                return
            self._answer_with_fault(fault, model, behaviour, body)

        def _answer_with_fault(
            self, fault: Fault, model: str, behaviour: ModelBehaviour, body: dict[str, Any]
        ) -> None:
            kind = fault.kind
            if kind is FaultKind.RATE_LIMITED:
                extra = {}
                if fault.retry_after_s is not None:
                    extra[fault.retry_after_header] = f"{fault.retry_after_s:g}"
                self._send(429, _error_body("rate limited", "rate_limit_error", 429), extra)
            elif kind is FaultKind.SERVER_ERROR:
                self._send(500, _error_body("upstream failure", "server_error", 500))
            elif kind is FaultKind.SLOW:
                time.sleep(fault.delay_s)
                self._send(200, server._completion(model, behaviour, body))
            elif kind is FaultKind.TRICKLE:
                self._send(200, server._completion(model, behaviour, body), every_s=fault.delay_s)
            elif kind is FaultKind.INVALID_JSON:
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [')
            elif kind is FaultKind.DROP:
                self.close_connection = True
            elif kind is FaultKind.CONTEXT_LENGTH:
                message = (
                    "This model's maximum context length is 8192 tokens. However, your messages "
                    "resulted in 40000 tokens."
                )
                error = _error_body(message, "invalid_request_error", "context_length_exceeded")
                self._send(400, error)
            elif kind is FaultKind.UNAUTHORIZED:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                message = f"Incorrect API key provided: {token}"
                self._send(401, _error_body(message, "invalid_request_error", "invalid_api_key"))
            elif kind is FaultKind.PROSE:
                prose = "The market looks constructive; I would lean towards buying."
                self._send(200, server._completion(model, behaviour, body, prose))
            elif kind is FaultKind.NO_CONNECTED_DB:
                message = "Authentication Error, No connected db."
                self._send(400, _error_body(message, "auth_error", "400"))

        def _send(
            self,
            status: int,
            payload: bytes,
            headers: dict[str, str] | None = None,
            every_s: float = 0.0,
        ) -> None:
            """Answer `payload`; with `every_s`, a byte every `every_s` seconds."""
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if not every_s:
                    self.wfile.write(payload)
                for byte in payload if every_s else b"":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(every_s)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (a timeout test): nothing left to answer.
                self.close_connection = True

    return Handler
