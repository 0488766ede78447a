"""Fixtures shared across the test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm.testing.openai_server import FakeOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A local OpenAI-compatible server on 127.0.0.1 with programmable faults (see its module)."""
    with FakeOpenAIServer() as server:
        yield server
