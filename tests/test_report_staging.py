"""A report's files all or none (`orchestrator.reports.staging`): an error or an interrupt while
they are written leaves `--out` as it was, and an overwrite leaves no earlier report's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ReportError
from orchestrator.reports.staging import staged_report

FILES = ("metrics.json", "plot.png", "memory.sqlite")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """An earlier report with a memory file, and a file of the user's beside it."""
    out = tmp_path / "out"
    out.mkdir()
    for name in (*FILES, "notes.txt"):
        (out / name).write_text(f"earlier {name}")
    return out


def test_the_new_files_replace_the_earlier_report_whole_and_the_user_s_stay(
    earlier: Path,
) -> None:
    with staged_report(earlier, FILES) as staging:
        assert staging.parent == earlier.parent and not any(staging.iterdir())
        (staging / "metrics.json").write_text("new")
        (staging / "plot.png").write_text("new")
    assert snapshot(earlier) == {
        "metrics.json": b"new",
        "notes.txt": b"earlier notes.txt",
        "plot.png": b"new",
    }  # no memory.sqlite of the earlier run beside the new one
    assert sorted(path.name for path in earlier.parent.iterdir()) == ["out"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError, ReportError])
def test_a_failure_while_writing_leaves_the_folder_as_it_was(
    earlier: Path, failure: type[BaseException]
) -> None:
    before = snapshot(earlier)
    raised = ReportError if failure is OSError else failure
    with pytest.raises(raised), staged_report(earlier, FILES) as staging:
        (staging / "metrics.json").write_text("new")
        raise failure("disk full")
    assert snapshot(earlier) == before
    assert sorted(path.name for path in earlier.parent.iterdir()) == ["out"]


def test_a_failure_leaves_no_folder_the_report_created(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "a" / "out"
    with pytest.raises(KeyboardInterrupt), staged_report(out, FILES) as staging:
        (staging / "plot.png").write_text("new")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_file_the_report_does_not_declare_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(ReportError, match=r"stray\.txt"),
        staged_report(tmp_path / "out", FILES) as staging,
    ):
        (staging / "stray.txt").write_text("?")
    assert list(tmp_path.iterdir()) == []
