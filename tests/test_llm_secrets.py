"""The API key never leaks: not in log lines (any logger, DEBUG included), exceptions, reprs,
ledger rows or cache files, even when a server echoes the key back in its error message."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from llm import LLMRequest, Task
from llm.gateway.failures import Redactor
from llm.gateway.types import LLMGatewayDownError
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import TEST_KEY, GatewayKit
from tests.llm_helpers import ledger_rows


def test_key_appears_nowhere_after_successes_and_failures(
    openai_server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, openai's, httpx's
    kit = GatewayKit.build(openai_server, tmp_path)
    request = LLMRequest(Task.NARRATIVE_ANALYSIS, [HumanMessage("hello")])
    kit.gateway.complete(request)  # a paid answer, cached
    kit.gateway.complete(request)  # a cache hit
    openai_server.script("primary-a", Fault.server_error(), Fault.server_error())
    kit.gateway.complete(LLMRequest(Task.NARRATIVE_ANALYSIS, [HumanMessage("hi")]))  # falls back
    openai_server.configure("primary-a", always=Fault.unauthorized())  # echoes the key
    with pytest.raises(LLMGatewayDownError) as error:
        kit.gateway.complete(LLMRequest(Task.NARRATIVE_ANALYSIS, [HumanMessage("again")]))
    assert TEST_KEY in openai_server.requests[-1].headers["authorization"]  # it was sent...
    assert "Incorrect API key provided: ***" in str(error.value)  # ...and scrubbed

    formatted = "".join(traceback.format_exception(error.value))
    for text in (str(error.value), repr(error.value), formatted, repr(kit.gateway)):
        assert TEST_KEY not in text
    assert TEST_KEY not in repr(kit.settings)
    for chat in kit.gateway._chat_models.values():
        assert TEST_KEY not in repr(chat)

    log_lines = [record.getMessage() for record in caplog.records]
    assert all(TEST_KEY not in line for line in log_lines)
    assert TEST_KEY not in caplog.text

    rows = ledger_rows(kit.settings.ledger_path)
    assert any(row.error and "401" in row.error for row in rows)
    assert all(TEST_KEY not in repr(row) for row in rows)
    kit.gateway.close()
    files = list(tmp_path.glob("*.sqlite*"))  # ledger and cache, with their WAL files
    assert {f.name for f in files} >= {"ledger.sqlite", "cache.sqlite"}
    for file in files:
        assert TEST_KEY.encode() not in file.read_bytes()


def test_a_key_echoed_inside_an_answer_is_masked_before_it_is_used_or_cached(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda _body: f'{{"note": "your key {TEST_KEY} works"}}'
    kit = GatewayKit.build(openai_server, tmp_path)
    with kit.gateway:
        answer = kit.gateway.complete(LLMRequest(Task.NARRATIVE_ANALYSIS, [HumanMessage("hi")]))
    assert TEST_KEY not in answer.content and "your key *** works" in answer.content
    for file in tmp_path.glob("*.sqlite*"):
        assert TEST_KEY.encode() not in file.read_bytes()


def test_redactor_masks_known_keys_and_key_shaped_tokens() -> None:
    redact = Redactor([TEST_KEY, "abc"])  # too short to be a key: left alone
    assert redact(f"key {TEST_KEY} rejected") == "key *** rejected"
    assert redact("Authorization: Bearer other-token-987") == "Authorization: Bearer ***"
    assert redact("got sk-or-v1-0123456789abcdef from env") == "got *** from env"
    assert redact("abc is fine") == "abc is fine"
    assert TEST_KEY not in repr(redact)
