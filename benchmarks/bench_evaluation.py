"""Walk-forward evaluation on Ray: scaling over workers, per-cell overhead, a real grid's time.

    python -m benchmarks.bench_evaluation --out benchmarks/bench_evaluation.md

Scaling: one CPU-bound grid (synthetic bars, test years 2009-2010, DQN seeds 0 and 1: four cells
of `--grid-timesteps` steps each) evaluated on a local Ray runtime of 1 worker, then of 2
workers; wall time of the whole `run_evaluation` (Ray's start included), each into a new folder so
that no stored cell is reused. Overhead: the same grid called cell by cell in this process
(`use_ray=False`) against Ray with one worker, end to end (Ray's start and the worker's imports
included) and warm (both past their start: the cost of a task itself); the difference per cell
over the direct time per cell. Grid: `sp500` and `nasdaq`, test years 2015-2018, DQN, seeds 0-2
(24 cells) at `--timesteps` steps on `--workers` local workers, against the target of 20 minutes.

Timings are wall times on whatever machine runs this, with the load average at each start
printed beside them: other work on the machine shows up in them.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.evaluation import (
    EvaluationSpec,
    build_spec,
    plan_evaluation,
    run_cell,
    run_evaluation,
)
from orchestrator.evaluation.runner import start_ray

SPEED_UP_TARGET = 1.7
OVERHEAD_TARGET = 0.05
GRID_MINUTES_TARGET = 20.0


def timed_run(spec: EvaluationSpec, *, use_ray: bool, workers: int | None) -> tuple[float, float]:
    """Wall seconds of one evaluation into a new folder, and the load average when it began."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        output = run_evaluation(
            spec,
            Path(folder) / "run",
            use_ray=use_ray,
            workers=workers,
            progress=False,
            say=lambda _line: None,
        )
        seconds = time.perf_counter() - start
    assert output.cells_run == len(output.report["cells"])
    return seconds, load


def scaling_and_overhead(timesteps: int) -> list[str]:
    spec = build_spec(
        {
            "data": "synthetic",
            "algo": "dqn",
            "seeds": "0,1",
            "windows": "2009-2010",
            "end": "2010",
            "timesteps": timesteps,
            "min_train_years": 2,
            "training": {"calibration_bars": 120},
        }
    )
    n_cells = 4
    runs: dict[str, tuple[float, float]] = {}
    runs["direct (no Ray)"] = timed_run(spec, use_ray=False, workers=None)
    runs["Ray, 1 worker"] = timed_run(spec, use_ray=True, workers=1)
    runs["Ray, 2 workers"] = timed_run(spec, use_ray=True, workers=2)
    direct, one, two = (runs[name][0] for name in runs)
    speed_up = one / two
    overhead = (one - direct) / direct
    lines = [
        f"### Scaling and overhead: {n_cells} cells (synthetic, test years 2009-2010, DQN seeds"
        f" 0-1, {timesteps:,} steps a cell, every strategy)",
        "",
        "| run | wall time | per cell | load average at start |",
        "|---|---|---|---|",
        *(
            f"| {name} | {seconds:.1f} s | {seconds / n_cells:.1f} s | {load:.2f} |"
            for name, (seconds, load) in runs.items()
        ),
        "",
        "| target | figure | met |",
        "|---|---|---|",
        f"| 2 Ray workers vs 1, speed-up >= {SPEED_UP_TARGET}x | {speed_up:.2f}x |"
        f" {'yes' if speed_up >= SPEED_UP_TARGET else '**no**'} |",
        f"| Ray (1 worker) vs direct calls, end to end (Ray's start and the worker's imports"
        f" included), overhead per cell < {OVERHEAD_TARGET:.0%} |"
        f" {overhead:+.1%} ({(one - direct) / n_cells:+.2f} s a cell) |"
        f" {'yes' if overhead < OVERHEAD_TARGET else '**no**'} |",
        "",
    ]
    return lines + steady_overhead(spec)


def steady_overhead(spec: EvaluationSpec) -> list[str]:
    """Per-cell overhead once everything is started: the cells as tasks on a warm one-worker
    runtime against direct calls in this (warm) process, same cells, same order."""
    import ray

    cells = plan_evaluation(spec).cells
    run_cell(cells[0], spec)  # warm this process: imports, numba's compiled step
    start_ray(None, 1)
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        ray.get(task.remote(cells[0], spec))  # warm the worker the same way
        load_ray = os.getloadavg()[0]
        start = time.perf_counter()
        for cell in cells:
            ray.get(task.remote(cell, spec))
        on_ray = time.perf_counter() - start
    finally:
        ray.shutdown()
    load_direct = os.getloadavg()[0]
    start = time.perf_counter()
    for cell in cells:
        run_cell(cell, spec)
    direct = time.perf_counter() - start
    overhead = (on_ray - direct) / direct
    return [
        f"Warm (runtime started, worker and this process past their imports), the same"
        f" {len(cells)} cells one at a time: direct {direct:.1f} s (load {load_direct:.2f}),"
        f" Ray task {on_ray:.1f} s (load {load_ray:.2f}).",
        "",
        "| target | figure | met |",
        "|---|---|---|",
        f"| Ray task vs direct call, overhead per cell < {OVERHEAD_TARGET:.0%} (warm) |"
        f" {overhead:+.1%} ({(on_ray - direct) / len(cells):+.2f} s a cell) |"
        f" {'yes' if overhead < OVERHEAD_TARGET else '**no**'} |",
        "",
    ]


def full_grid(timesteps: int, workers: int) -> list[str]:
    options: dict[str, Any] = {
        "data": "sp500,nasdaq",
        "algo": "dqn",
        "seeds": "0-2",
        "windows": "2015-2018",
        "timesteps": timesteps,
    }
    spec = build_spec(options)
    seconds, load = timed_run(spec, use_ray=True, workers=workers)
    minutes = seconds / 60.0
    return [
        f"### Grid: sp500 and nasdaq, test years 2015-2018, DQN seeds 0-2 (24 cells),"
        f" {timesteps:,} steps a cell, {workers} local Ray workers",
        "",
        "| target | figure | met |",
        "|---|---|---|",
        f"| finishes within {GRID_MINUTES_TARGET:.0f} minutes | {minutes:.1f} min"
        f" ({seconds / 24:.1f} s a cell; load average {load:.2f} at start) |"
        f" {'yes' if minutes <= GRID_MINUTES_TARGET else '**no**'} |",
        "",
    ]


def report(args: argparse.Namespace) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python"
        f" {platform.python_version()}; wall times, other work on the machine included.",
        "",
    ]
    if args.part in ("scaling", "all"):
        lines += scaling_and_overhead(args.grid_timesteps)
    if args.part in ("grid", "all"):
        lines += full_grid(args.timesteps, args.workers)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("scaling", "grid", "all"), default="all")
    parser.add_argument("--grid-timesteps", type=int, default=10_000)
    parser.add_argument("--timesteps", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
