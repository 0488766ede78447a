"""Running the missing cells: each one a Ray task, or one after another in this process.

Ray: a local runtime with `workers` CPUs by default, or the existing cluster at `address`. Each
cell asks for one CPU (training is single-threaded: `TrainConfig.torch_threads`), so a cluster
runs as many cells at once as it has CPUs. The driver stores each cell as soon as it comes back,
in the order they finish, so a run killed halfway loses only the cells still running. Workers
import this package from their own environment: every machine of a cluster needs it installed
(see docs/EVALUATION.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from orchestrator.errors import ConfigError
from orchestrator.evaluation.plan import Cell, CellResult
from orchestrator.evaluation.spec import EvaluationSpec
from orchestrator.evaluation.store import CellStore

RAY_TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


def run_cells(
    cells: Sequence[Cell],
    spec: EvaluationSpec,
    store: CellStore,
    *,
    use_ray: bool = True,
    address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> None:
    """Run `cells` and store each result under its key, with a progress bar and its ETA (on
    standard error)."""
    columns = (
        TextColumn("cells"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("cells", total=len(cells))

        def finished() -> None:
            bar.advance(task)

        if not use_ray:
            for cell in cells:
                store.put(cell.key, _run_cell(cell, spec))
                finished()
        elif cells:
            _run_on_ray(cells, spec, store, finished, address=address, workers=workers)


def _run_on_ray(
    cells: Sequence[Cell],
    spec: EvaluationSpec,
    store: CellStore,
    finished: Callable[[], None],
    *,
    address: str | None,
    workers: int | None,
) -> None:
    import ray
    from ray.exceptions import RayTaskError

    start_ray(address, workers)
    try:
        task = ray.remote(num_cpus=1)(_run_cell)
        pending = {task.remote(cell, spec): cell for cell in cells}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except RayTaskError as exc:  # the cell's own error, without Ray's wrapping
                raise exc.cause from None
            store.put(cell.key, result)
            finished()
    finally:
        ray.shutdown()


def _run_cell(cell: Cell, spec: EvaluationSpec) -> CellResult:
    """`evaluation.cell.run_cell`, imported where the cell runs: training and the backtest need
    torch, SB3 and the analysts (seconds of imports), which the driver of a Ray run never uses."""
    from orchestrator.evaluation.cell import run_cell

    return run_cell(cell, spec)


def start_ray(address: str | None, workers: int | None) -> None:
    """Connect to the cluster at `address`, or start a local runtime of `workers` CPUs (default:
    the machine's cores)."""
    import ray

    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if address is None:
        options["num_cpus"] = workers or os.cpu_count() or 1
        # Ray runs workers at niceness 15, so that anything else on a shared machine starves
        # them; here they do the run's work, as a direct call would at the caller's priority.
        options["_system_config"] = {"worker_niceness": 0}
        # A new local runtime turns token authentication on (Ray's default) and says so in a
        # warning on every start; the protection stays, the notice goes.
        logging.getLogger(RAY_TOKEN_NOTICE_LOGGER).setLevel(logging.ERROR)
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise ConfigError(f"--address {address}: no Ray cluster answered there ({exc})") from None
