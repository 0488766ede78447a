"""Fixtures shared across the test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm import AnalystTeam, build_analyst_team, load_settings
from llm.testing.openai_server import FakeOpenAIServer
from tests.paper_helpers import clean_environment


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A local OpenAI-compatible server on 127.0.0.1 with programmable faults (see its module)."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder: no LLM setting, key or .env of the developer's."""
    monkeypatch.chdir(tmp_path)
    for name in os.environ.keys() - clean_environment().keys():
        monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystTeam]:
    """The offline analyst team, its ledger in a folder of the module's own."""
    ledger = tmp_path_factory.mktemp("llm") / "ledger.sqlite"
    settings = load_settings({"LLM_LEDGER_PATH": str(ledger)}, env_file=None)
    with build_analyst_team("offline", settings=settings) as built:
        yield built
