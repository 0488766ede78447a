"""A gateway run stops with one clear error when the models cannot serve it or its estimated cost
exceeds what the budgets leave, and resumes later.

The paper command runs in gateway mode against the local OpenAI-compatible server (OpenRouter
settings pointing at it), through the real gateway, analyst graph, bar engine and journal.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llm.testing.offline_responder import offline_responder
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import TEST_KEY
from tests.paper_helpers import N_BARS, paper_args, run_cli, tiny_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_agent(tmp_path_factory)


@pytest.fixture
def gateway_env(
    cli_env: Path, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Gateway mode on the local server: fast timeouts, no waits between attempts."""
    openai_server.responder = offline_responder
    for name, value in {
        "OPENROUTER_API_KEY": TEST_KEY,
        "OPENROUTER_BASE_URL": openai_server.base_url,
        "LLM_TIMEOUT_S": "0.5",
        "LLM_BACKOFF_BASE_S": "0",
        "LLM_BREAKER_FAILURES": "2",
        "DAILY_LLM_BUDGET": "100",
        "MONTHLY_LLM_BUDGET": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    return cli_env


def gateway_args(agent: Path, journal: Path) -> list[str]:
    args = paper_args(agent, journal)
    args[args.index("--llm") + 1] = "gateway"
    return args


def bars_in(journal: Path) -> int:
    with sqlite3.connect(journal) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM bars").fetchone()[0])


def stopped_with(result: tuple[int, str, str], *parts: str) -> str:
    """The one error line of a run that stopped (exit 2, no traceback), checked for `parts`."""
    code, _stdout, stderr = result
    assert code == 2, stderr
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and all(part in line for part in parts), line
    assert "Traceback" not in stderr and TEST_KEY not in stderr
    return line


@pytest.mark.parametrize("fault", [Fault.unauthorized(), Fault.no_connected_db()])
def test_a_refused_key_stops_the_run_at_the_first_call(
    agent: Path,
    gateway_env: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
) -> None:
    openai_server.fail_every_model(fault)
    journal = gateway_env / "journal.sqlite"
    stopped_with(run_cli(capsys, *gateway_args(agent, journal)), "refused us", "OpenRouter")
    assert len(openai_server.requests) <= 3  # the first calls: the analysts ask in parallel
    assert bars_in(journal) == 0


def test_a_dead_gateway_opens_the_breaker_and_the_run_resumes_from_its_journal(
    agent: Path,
    gateway_env: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = gateway_env / "journal.sqlite"
    openai_server.fail_every_model(Fault.server_error())
    stopped_with(
        run_cli(capsys, *gateway_args(agent, journal)),
        "calls in a row",
        "OpenRouter http://127.0.0.1",
        "Last failure: every model failed",
    )
    asked = len(openai_server.requests)
    assert asked <= 2 * 2 * 6  # two calls of one task, two attempts on each of its models
    stopped_at = bars_in(journal)
    assert stopped_at < N_BARS

    openai_server.fail_every_model(None)
    code, _stdout, stderr = run_cli(capsys, *gateway_args(agent, journal))
    assert code == 0, stderr
    assert bars_in(journal) == N_BARS


def test_a_run_estimated_above_the_budget_stops_before_its_first_call(
    agent: Path,
    gateway_env: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DAILY_LLM_BUDGET", "1")
    journal = gateway_env / "journal.sqlite"
    result = run_cli(capsys, *gateway_args(agent, journal))
    stopped_with(result, "may cost up to $", "more than the $1.0000", "--max-cost")
    estimate = result[1]
    for task in ("chart_analysis", "meta_orchestrator", "trade_execution"):
        assert f"  {task}: {N_BARS} calls x $" in estimate
    assert openai_server.requests == []


def test_a_run_with_memory_estimates_its_reflections_and_the_memory_block(
    agent: Path,
    gateway_env: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At most one reflection a bar, priced on its own cheap model; the memory's block makes the
    meta prompt longer than a run without it."""
    monkeypatch.setenv("DAILY_LLM_BUDGET", "0.0001")
    plain = run_cli(capsys, *gateway_args(agent, gateway_env / "plain.sqlite"))[1]
    remembering = run_cli(capsys, *gateway_args(agent, gateway_env / "memory.sqlite"), "--memory")
    estimate = remembering[1]
    assert f"  reflection: {N_BARS} calls x $" in estimate and "reflection" not in plain

    def meta_tokens(text: str) -> int:
        (line,) = [line for line in text.splitlines() if "meta_orchestrator:" in line]
        return int(line.split("(")[1].split(" prompt tokens")[0])

    assert meta_tokens(estimate) > meta_tokens(plain)
    assert openai_server.requests == []


@pytest.mark.parametrize("daily", ["1", "0"])
def test_under_a_hard_cap_the_run_goes_on_and_confirms_nothing_past_it(  # noqa: PLR0917
    agent: Path,
    gateway_env: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    daily: str,
) -> None:
    monkeypatch.setenv("DAILY_LLM_BUDGET", daily)
    journal = gateway_env / "journal.sqlite"
    code, _stdout, stderr = run_cli(capsys, *gateway_args(agent, journal), "--max-cost", "0.05")
    assert code == 0, stderr
    with sqlite3.connect(journal) as connection:
        spent = connection.execute("SELECT TOTAL(cost_usd) FROM llm_calls").fetchone()[0]
        reasons = [row[0] for row in connection.execute("SELECT reason FROM orders")]
    if daily == "0":  # a $0 budget spends nothing, whatever the cap
        assert spent == 0 and openai_server.requests == []
    else:
        assert 0 < spent <= 0.05  # a call starts only if its worst cost fits under the cap
    assert reasons and all("execution vetoed" in r for r in reasons[-1:])
