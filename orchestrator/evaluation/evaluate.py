"""The `evaluate` job: plan the cells, run the missing ones, then the statistics and the report.

Every input is read before the folder is touched (a bad source, date or window is refused with
nothing written); a re-run of the same spec into the same folder resumes it, running only the
cells it does not hold yet, and rewrites the report from all of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.evaluation.plan import EvaluationPlan, plan_evaluation
from orchestrator.evaluation.report import summary_lines, write_evaluation_report
from orchestrator.evaluation.runner import run_cells
from orchestrator.evaluation.spec import EvaluationSpec
from orchestrator.evaluation.statistics import evaluation_statistics
from orchestrator.evaluation.store import CellStore, claim_folder


@dataclass(frozen=True)
class EvaluationOutput:
    """The report (JSON values), the files it was written to, and how many cells this run ran."""

    report: dict[str, Any]
    files: dict[str, Path]
    cells_run: int


def run_evaluation(
    spec: EvaluationSpec,
    out: Path,
    *,
    use_ray: bool = True,
    address: str | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> EvaluationOutput:
    """Evaluate `spec` into `out` (see the module docstring): cells as Ray tasks on a local
    runtime of `workers` CPUs or on the cluster at `address`, or in this process
    (`use_ray=False`)."""
    plan = plan_evaluation(spec)
    if spec.llm_mode == "gateway" and address is None:
        _check_gateway_key()  # every cell runs on this machine, with its key
    existed = out.exists()
    fresh = not existed or (out.is_dir() and not any(out.iterdir()))
    claim_folder(out, spec, force=force)
    store = CellStore(out)
    missing = [cell for cell in plan.cells if not store.has(cell.key)]
    where = "in this process" if not use_ray else f"on Ray ({address or 'local runtime'})"
    say(
        f"{len(plan.cells)} cells: {len(plan.cells) - len(missing)} stored in {store.folder},"
        f" {len(missing)} to run {where}"
    )
    try:
        run_cells(
            missing,
            spec,
            store,
            use_ray=use_ray,
            address=address,
            workers=workers,
            progress=progress,
        )
    except BaseException:
        if fresh and not any(store.has(cell.key) for cell in plan.cells):
            _undo_claim(out, existed)  # a run that stored nothing (a cell refused the spec)
        raise
    report = build_report(plan, store)
    files = write_evaluation_report(report, out)
    for line in summary_lines(report):
        say(line)
    for path in files.values():
        say(f"wrote {path}")
    return EvaluationOutput(report, files, len(missing))


def _check_gateway_key() -> None:
    """Refuse gateway mode without a key for every task before any output (a cluster's workers
    have keys of their own, so a run with `--address` is not checked here)."""
    from llm import load_model_stack, load_settings
    from llm.gateway import check_every_task_served

    settings = load_settings()
    check_every_task_served(settings, load_model_stack(settings.model_stack_path))


def _undo_claim(folder: Path, existed: bool) -> None:
    """Remove what this run put in `folder`, which was empty before it (or did not exist)."""
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    if not existed:
        folder.rmdir()


def build_report(plan: EvaluationPlan, store: CellStore) -> dict[str, Any]:
    """The spec, every cell's metrics (without its bar returns) and the statistics."""
    results = [store.load(cell.key) for cell in plan.cells]
    return {
        "spec": plan.spec.model_dump(mode="json"),
        "cells": [
            {
                **result["cell"],
                "strategies": {
                    name: {key: value for key, value in record.items() if key != "returns"}
                    for name, record in result["strategies"].items()
                },
            }
            for result in results
        ],
        "statistics": evaluation_statistics(plan, results),
    }
