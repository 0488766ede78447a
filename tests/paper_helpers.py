"""A tiny agent, a clean environment and journal comparisons for the paper-trade tests.

The agent is a DQN trained for 512 steps on the synthetic source up to June 2007 (seconds); its
test split is the last 20 % of those bars: 131 daily bars from the first decision on.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

from agents import train_agents
from orchestrator.cli import app as cli
from orchestrator.journal.schema import TABLES
from tests.agents_helpers import tiny_config

END = "2007-06"
N_BARS = 131  # bars traded: the test split of synthetic up to END, from the first decision
CLI = Path(sys.executable).with_name("hybrid-trader")
_LLM_VARIABLES = ("LLM_", "TETRATE_", "OPENROUTER_")
# Columns that record when or how fast something happened, not what: they differ between runs.
_TIMING_COLUMNS = {"bars": ["recorded_at"], "llm_calls": ["id", "at", "latency_s"]}
_BINARY_COLUMNS = {"lessons": ["vector"]}  # bytes: compared as they are, no run tag in them


def tiny_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test agent, trained once per test session (shared by the paper test modules)."""
    root = tmp_path_factory.getbasetemp() / "paper-agent"
    if not (root / "manifest.json").is_file():
        train_agents(tiny_config(root, "dqn", end=END), progress_bar=False)
    return root


def clean_environment() -> dict[str, str]:
    """This process's environment without any LLM setting or key: offline, ledger by journal."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_LLM_VARIABLES) and not name.endswith("_API_KEY")
    }


def paper_args(agent: Path, journal: Path, *extra: str) -> list[str]:
    """`hybrid-trader paper` arguments over the test agent's own test split, offline."""
    return [
        "paper", "--agent", str(agent), "--data", "synthetic", "--end", END,
        "--llm", "offline", "--journal", str(journal), *extra,
    ]  # fmt: skip


def run_tag(journal: Path) -> str:
    """The tag of the journal's run in its client order ids (`broker.client_order_id`)."""
    with sqlite3.connect(journal) as connection:
        (run_id,) = connection.execute("SELECT run_id FROM run").fetchone()
    return hashlib.sha256(run_id.encode()).hexdigest()[:16]


def comparable_tables(journal: Path) -> dict[str, pd.DataFrame]:
    """Every table of a finished run as two journals of the same run must agree on them: the run
    record, timings and the run's tag in order ids left out (they differ between journals)."""
    tag = run_tag(journal)
    with sqlite3.connect(journal) as connection:
        tables = {}
        for name in TABLES[1:]:
            table = pd.read_sql_query(f"SELECT * FROM {name} ORDER BY rowid", connection)
            table = table.drop(columns=_TIMING_COLUMNS.get(name, []))
            text = table.select_dtypes(include=["object", "string"]).columns
            text = text.difference(_BINARY_COLUMNS.get(name, []))
            table[text] = table[text].apply(lambda column: column.str.replace(tag, "TAG"))
            if name == "llm_calls":  # the analysts run in parallel: any order within a bar
                table = table.sort_values(list(table.columns)).reset_index(drop=True)
            tables[name] = table
    return tables


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`hybrid-trader ARGS` in this process: (exit code, stdout, stderr)."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, stdout: str, stderr: str, *parts: str) -> None:
    """The command line's answer to bad input: exit status 2, nothing on standard output, and on
    standard error one `error: ...` line (no traceback) naming every one of `parts`."""
    assert code == 2, stderr
    assert stdout == "", stdout
    (line,) = stderr.splitlines()
    assert line.startswith("error: ") and all(part in line for part in parts), line
