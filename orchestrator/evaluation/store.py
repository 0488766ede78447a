"""Finished cells on disk, one JSON file per cell named by its key, and the folder's spec.

A cell is written to a temporary file and renamed into place, so that a run killed at any moment
leaves either the whole cell or none of it: a re-run finds every finished cell and runs only the
rest. Keys are content hashes (`orchestrator.evaluation.plan`), so cells of another spec in the
same folder never answer for this one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.evaluation.plan import CellResult
from orchestrator.evaluation.spec import EvaluationSpec

SPEC_FILE = "spec.json"
CELLS_FOLDER = "cells"
_READABLE = 0o644  # as `open` would create it (mkstemp's file is private)


@dataclass(frozen=True)
class CellStore:
    """The cells under `root / cells`."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / CELLS_FOLDER

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether the cell is stored whole: one damaged on disk (cells are written atomically,
        so only by something else) is run again and replaced."""
        try:
            self.load(key)
        except (OSError, ValueError):  # missing, unreadable, or not JSON
            return False
        return True

    def load(self, key: str) -> CellResult:
        result: CellResult = json.loads(self.path(key).read_text(encoding="utf-8"))
        return result

    def put(self, key: str, result: CellResult) -> None:
        write_json_atomically(self.path(key), result)


def claim_folder(out: Path, spec: EvaluationSpec, *, force: bool) -> None:
    """Make `out` this spec's folder: a new or empty folder, or one holding this same spec (a
    re-run resumes it); another spec's folder is refused unless `force` (its stored cells stay,
    its report is replaced)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: a file, not a folder; give a folder to write into")
    spec_file = out / SPEC_FILE
    wanted = spec.model_dump(mode="json")
    if spec_file.is_file() and not force:
        try:
            held = json.loads(spec_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = None
        if held != wanted:
            raise ConfigError(
                f"--out {out}: holds an evaluation of another spec ({SPEC_FILE}); give a new"
                " folder, or pass --force to replace its report (its stored cells are kept)"
            )
    elif not spec_file.is_file() and out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(
            f"--out {out}: the folder already holds files that are not an evaluation; give a new"
            " folder, or pass --force to write into it"
        )
    write_json_atomically(spec_file, wanted)


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, _READABLE)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, allow_nan=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
