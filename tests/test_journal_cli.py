"""`hybrid-trader journal show|export`: a paper run's decisions read without SQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llm import load_settings
from orchestrator.jobs import trader_choices
from orchestrator.runs import run_paper
from orchestrator.runs.paper_config import PaperConfig
from tests.paper_helpers import END, N_BARS, assert_one_error_line, run_cli, tiny_agent


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper run with a trade memory, so the analysts were shown past trades and lessons."""
    path = tmp_path_factory.mktemp("journal") / "journal.sqlite"
    settings = load_settings({}, env_file=None)
    agent = tiny_agent(tmp_path_factory)
    config = PaperConfig(trader=trader_choices(memory=True))
    run_paper(
        agent,
        "synthetic",
        "offline",
        path,
        end=END,
        settings=settings,
        config=config,
        say=lambda _: None,
    )
    return path


def test_export_writes_every_bar_s_votes_reasoning_orders_and_fills(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "decisions.csv"
    code, stdout, _ = run_cli(
        capsys, "journal", "export", "--journal", str(journal), "--out", str(out)
    )
    assert code == 0 and stdout == f"wrote {N_BARS} bars to {out}\n"
    log = pd.read_csv(out)
    decided = log.dropna(subset=["action"])
    assert len(decided) == N_BARS
    assert (decided["drl_weight"] + decided["llm_weight"]).round(9).eq(1.0).all()
    assert decided["llm_reasoning"].str.startswith("offline meta:").all()
    asked = log["analyst_signals"].dropna()
    assert len(asked) > 0 and asked.str.contains('"reasoning"').all()
    assert log["orders"].notna().sum() > 0 and log["fills"].notna().sum() > 0
    assert (log["memory_similar"] > 0).any() and log["memory_lessons"].notna().any()

    result = run_cli(capsys, "journal", "export", "--journal", str(journal), "--out", str(out))
    assert_one_error_line(*result, f"--out {out}: a file that exists; pass --force")
    args = ["journal", "export", "--journal", str(journal), "--out", str(out), "--force"]
    assert run_cli(capsys, *args)[0] == 0
    itself = ["journal", "export", "--journal", str(journal), "--out", str(journal), "--force"]
    assert_one_error_line(*run_cli(capsys, *itself), "that is the journal being read")
    nested = tmp_path / "new" / "folder" / "decisions.csv"
    assert (
        run_cli(capsys, "journal", "export", "--journal", str(journal), "--out", str(nested))[0]
        == 0
    )
    assert pd.read_csv(nested).equals(pd.read_csv(out))
    parquet = tmp_path / "decisions.parquet"
    assert (
        run_cli(capsys, "journal", "export", "--journal", str(journal), "--out", str(parquet))[0]
        == 0
    )
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), pd.read_csv(out), check_dtype=False)


def test_show_prints_a_line_a_bar_with_the_llm_s_reasoning_where_it_was_asked(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run_cli(capsys, "journal", "show", "--journal", str(journal))
    assert code == 0
    lines = stdout.splitlines()
    assert sum(not line.startswith("    ") for line in lines) == N_BARS
    assert any(line.startswith("    LLM ") and "offline meta:" in line for line in lines)
    # Each analyst's own view and reasoning, under the meta decision that weighed it.
    analysts = {line.split()[0] for line in lines if line.startswith("      ")}
    assert analysts >= {"chart", "data", "narrative"}, analysts
    assert any(line.startswith("    fills: ") for line in lines)
    # What the trade memory showed the analysts, where it had closed trades to show.
    memory = [line for line in lines if line.startswith("    memory: ")]
    assert memory and all("similar past trade(s), won" in line for line in memory)
    assert any(line.startswith("    lessons: ") for line in lines)
    last = run_cli(capsys, "journal", "show", "--journal", str(journal), "--last", "3")[1]
    assert sum(not line.startswith("    ") for line in last.splitlines()) == 3


def test_a_file_that_is_not_a_journal_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    result = run_cli(capsys, "journal", "show", "--journal", str(notes))
    assert_one_error_line(*result, "notes.txt is not a SQLite file")
