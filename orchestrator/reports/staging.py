"""A report's files written all or none: staged in a hidden folder beside `--out`, then moved in.

A report of a dozen files takes seconds to write (plots, HTML). Written straight into `--out`, a
Ctrl-C or a full disk part way left half a report, and with `--force` a folder mixing the new
run's files with the earlier run's (equity.csv of one period beside report.html of another). Here
the files are written into `.<out>.<random>.partial` in the same folder (so the move is a rename on
one file system) and moved into `--out` only once every one is written; the earlier report's
files of the same names that this one does not write (a memory.sqlite of a run that kept a trade
memory) are removed, and the user's other files stay. On any failure or interrupt the staging
folder is deleted, and so is every folder the report created; `--out` is as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import ReportError


@contextmanager
def staged_report(out_dir: Path, report_files: Collection[str]) -> Iterator[Path]:
    """A new empty folder to write a report into; on a clean exit its files replace those named
    `report_files` in `out_dir` (created if needed). Every file written must be one of them."""
    created = _first_missing(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent)
        )
    except OSError as exc:
        _remove(created)
        raise ReportError(f"cannot create the report folder {out_dir}: {exc}") from None
    try:
        yield staging
        unexpected = sorted(
            path.name for path in staging.iterdir() if path.name not in report_files
        )
        if unexpected:
            raise ReportError(f"the report wrote {unexpected}, which it does not declare")
        out_dir.mkdir(exist_ok=True)
        for name in report_files:
            if (staging / name).exists():
                os.replace(staging / name, out_dir / name)
            else:
                (out_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        _remove(created)
        raise ReportError(f"cannot write the report into {out_dir}: {exc}") from None
    except BaseException:  # an error of the report's own, or an interrupt
        _remove(created)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(created: Path | None) -> None:
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)


def _first_missing(path: Path) -> Path | None:
    """The outermost of `path` and its parents that does not exist yet (None if `path` exists)."""
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing
