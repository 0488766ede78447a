"""`hybrid-trader llm status`: works with no key, shows the routing table, spend and cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from llm import Ledger, LedgerEntry, LLMConfigError
from orchestrator.cli import build_app

KEY_VARIABLES = ("LLM_GATEWAY_BASE_URL", "LLM_GATEWAY_API_KEY", "TETRATE_API_KEY")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's, files under tmp_path
    for name in (*KEY_VARIABLES, "OPENROUTER_API_KEY", "LLM_MODEL_STACK", "LLM_LEDGER_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("DAILY_LLM_BUDGET", "2")
    return build_app()


def test_status_without_key_or_ledger(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["llm", "status"])
    assert result.exit_code == 0, result.output
    assert "no key set" in result.output
    assert "trade_execution" in result.output
    assert "anthropic/claude-opus-4.1" in result.output
    assert "$0 spent" in result.output
    assert not Path("runs").exists()  # a status command creates nothing


def test_status_shows_spend_per_model_and_cache_hits(cli: typer.Typer) -> None:
    with Ledger(Path("runs/llm/ledger.sqlite")) as ledger:
        ledger.record(LedgerEntry("narrative_analysis", "m-paid", "m-paid", 10, 5, cost_usd=0.5))
        ledger.record(LedgerEntry("narrative_analysis", "m-paid", "m-paid", cache_hit=True))
    result = CliRunner().invoke(cli, ["llm", "status"])
    assert result.exit_code == 0, result.output
    assert "0.5000" in result.output  # today's spend
    assert "25.0%" in result.output  # of the $2 daily budget
    assert "m-paid" in result.output
    assert "cache hit rate this month: 50.0%" in result.output


def test_status_offline_stack(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["llm", "status", "--offline"])
    assert result.exit_code == 0, result.output
    assert "offline-analyst" in result.output
    assert "anthropic/claude-opus-4.1" not in result.output


def test_bad_configuration_is_an_llm_error(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_THRESHOLD", "eighty")
    result = CliRunner().invoke(cli, ["llm", "status"])
    assert isinstance(result.exception, LLMConfigError)  # the CLI prints it as one line
    assert "ALERT_THRESHOLD" in str(result.exception)


@pytest.mark.parametrize("make", [lambda p: p.write_text("hello"), lambda p: p.mkdir()])
def test_a_ledger_path_that_is_no_ledger_is_an_llm_error_before_any_output(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], object]
) -> None:
    make(Path("notes.sqlite"))
    monkeypatch.setenv("LLM_LEDGER_PATH", "notes.sqlite")
    result = CliRunner().invoke(cli, ["llm", "status"])
    assert isinstance(result.exception, LLMConfigError)  # the CLI prints it as one line
    assert "LLM ledger notes.sqlite: cannot be opened" in str(result.exception)
    assert result.output == ""


def test_cache_clear_forgets_every_answer(cli: typer.Typer) -> None:
    from llm import ResponseCache
    from llm.gateway.cache import CachedAnswer

    result = CliRunner().invoke(cli, ["llm", "cache", "clear"])
    assert result.exit_code == 0 and "nothing to clear" in result.output
    with ResponseCache(Path("runs/llm/cache.sqlite"), 60.0) as cache:
        cache.put("k", CachedAnswer("m", "m", "{}", 1, 1, cache.now()))
    result = CliRunner().invoke(cli, ["llm", "cache", "clear"])
    assert result.exit_code == 0 and "cleared 1 cached answers" in result.output
    with ResponseCache(Path("runs/llm/cache.sqlite"), 60.0) as cache:
        assert cache.get("k") is None


def test_status_prices_each_task_and_marks_what_a_cap_makes_unreachable(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(cli, ["llm", "status"])
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("expected cost per task") :]
    chart = next(line for line in table.splitlines() if "chart_analysis" in line)
    assert chart.rstrip(" │").endswith("-")  # every fallback reachable at the default length
    assert "an execution check" in table

    monkeypatch.setenv("LLM_EXPECTED_OUTPUT_TOKENS", "2048")  # the old worst-case pricing
    result = CliRunner().invoke(cli, ["llm", "status"])
    table = result.output[result.output.index("expected cost per task") :]
    chart = next(line for line in table.splitlines() if "chart_analysis" in line)
    assert "mistralai/mistral-medium-3.1" in chart


def test_status_counts_answers_apart_from_failed_attempts_per_task(cli: typer.Typer) -> None:
    with Ledger(Path("runs/llm/ledger.sqlite")) as ledger:
        ledger.record(LedgerEntry("trade_execution", "m", "m", 10, 5, cost_usd=0.025))
        ledger.record(LedgerEntry("trade_execution", "m", "m", 10, 5, cost_usd=0.02, error="x"))
        ledger.record(LedgerEntry("trade_execution", "m", None, error="server_error"))
    result = CliRunner().invoke(cli, ["llm", "status"])
    table = result.output[result.output.index("calls per task this month") :]
    row = next(line for line in table.splitlines() if "trade_execution" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1:4] == ["1", "2", "0"]
    assert "$0.0450" in row and "$0.0450" in row.split("│")[-2]  # per usable answer
