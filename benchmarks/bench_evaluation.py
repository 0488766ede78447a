"""Walk-forward evaluation on Ray: scaling over workers, per-cell overhead, a real grid's time.

    python -m benchmarks.bench_evaluation --out benchmarks/bench_evaluation.md

Scaling: one CPU-bound grid (synthetic bars, test years 2009-2010, DQN seeds 0-3: eight cells
of `--grid-timesteps` steps each) evaluated on a local Ray runtime of 1 worker, then of 2
workers: wall time of the whole `hybrid-trader evaluate` command (Python's and Ray's start, the
plan and the report included), each in a process of its own and into a new folder, so that
nothing is reused; and the cells alone (submission to last result, the workers' start included).
Peer: the grid's seeds split over two `--no-ray` commands run at once, no Ray at all: what two
CPU-bound processes gain on this machine, the ceiling any scheduler works under.
Overhead: the same command with `--no-ray` (the cells called one by one) against Ray with one
worker, end to end, and warm (in this process, both past their start: the cost of a task
itself); the difference per cell over the direct time per cell. Grid: `sp500` and `nasdaq`,
test years 2015-2018, DQN, seeds 0-2 (24 cells) at `--timesteps` steps on `--workers` local
workers, against the target of 20 minutes.

Timings are wall times on whatever machine runs this, with the load average at each start
printed beside them: other work on the machine shows up in them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.evaluation import EvaluationSpec, build_spec, plan_evaluation, run_cell
from orchestrator.evaluation.runner import start_ray

SPEED_UP_TARGET = 1.7
OVERHEAD_TARGET = 0.05
GRID_MINUTES_TARGET = 20.0
CLI = Path(sys.executable).parent / "hybrid-trader"


def timed_run(spec: EvaluationSpec, *, use_ray: bool, workers: int | None) -> tuple[float, float]:
    """Wall seconds of `hybrid-trader evaluate` of `spec` into a new folder, in a process of its
    own as a user runs it (each run starts clean: no Ray runtime or warm imports carried over from
    the run before), and the load average when it began."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        command = _evaluate_command(spec, Path(folder))
        command += ["--no-ray"] if not use_ray else ["--workers", str(workers or 1)]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start, load


def timed_two_processes(spec: EvaluationSpec) -> tuple[float, float]:
    """The peer of the Ray scaling: `spec`'s seeds split in two halves, each evaluated with
    `--no-ray` in a process of its own, both at once; wall seconds until both finish, and the
    load average at the start. What two CPU-bound processes gain on this machine without Ray."""
    load = os.getloadavg()[0]
    half = len(spec.seeds) // 2
    halves = (spec.seeds[:half], spec.seeds[half:])
    with tempfile.TemporaryDirectory() as folder:
        specs = [build_spec(spec.model_dump() | {"seeds": seeds}) for seeds in halves]
        commands = [
            [*_evaluate_command(half_spec, Path(folder) / str(part)), "--no-ray"]
            for part, half_spec in enumerate(specs)
        ]
        start = time.perf_counter()
        running = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for command in commands]
        if any(process.wait() != 0 for process in running):
            raise RuntimeError("a direct evaluation failed")
        return time.perf_counter() - start, load


def _evaluate_command(spec: EvaluationSpec, folder: Path) -> list[str]:
    """`hybrid-trader evaluate` of `spec` (written as TOML into `folder`) into `folder/run`."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_file = folder / "spec.toml"
    spec_file.write_text(_toml(spec.model_dump(mode="json")), encoding="utf-8")
    return [str(CLI), "evaluate", "--spec", str(spec_file), "--out", f"{folder}/run"]


def _toml(values: dict[str, Any], prefix: str = "") -> str:
    """A spec's JSON values as TOML (a table for each mapping)."""
    lines, tables = [], []
    for name, value in values.items():
        if isinstance(value, dict):
            tables.append(_toml(value, f"{prefix}{name}."))
        elif value is not None:
            lines.append(f"{name} = {json.dumps(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return head + "\n".join(lines) + "\n" + "".join(tables)


def scaling_spec(timesteps: int) -> EvaluationSpec:
    """Eight CPU-bound cells: synthetic, test years 2009-2010, DQN seeds 0-3."""
    return build_spec(
        {
            "data": "synthetic",
            "algo": "dqn",
            "seeds": "0-3",
            "windows": "2009-2010",
            "end": "2010",
            "timesteps": timesteps,
            "min_train_years": 2,
            "training": {"calibration_bars": 120},
        }
    )


def cells_phase(timesteps: int, workers: int) -> float:
    """Seconds from submitting every cell of `scaling_spec` to a new local runtime of `workers`
    to the last result (the workers' start and imports included, Ray's own start and the
    report not): the part of a run that more workers can shorten."""
    import ray

    spec = scaling_spec(timesteps)
    cells = plan_evaluation(spec).cells
    start_ray(None, workers)
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        start = time.perf_counter()
        ray.get([task.remote(cell, spec) for cell in cells])
        return time.perf_counter() - start
    finally:
        ray.shutdown()


def _cells_phase_in_new_process(timesteps: int, workers: int) -> tuple[float, float]:
    load = os.getloadavg()[0]
    command = [sys.executable, "-m", "benchmarks.bench_evaluation", "--cells-phase", str(workers)]
    command += ["--grid-timesteps", str(timesteps)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1]), load


def scaling_and_overhead(timesteps: int) -> list[str]:
    spec = scaling_spec(timesteps)
    n_cells = len(plan_evaluation(spec).cells)
    runs: dict[str, tuple[float, float]] = {}
    runs["whole command, direct (`--no-ray`)"] = timed_run(spec, use_ray=False, workers=None)
    runs["whole command, Ray, 1 worker"] = timed_run(spec, use_ray=True, workers=1)
    runs["whole command, Ray, 2 workers"] = timed_run(spec, use_ray=True, workers=2)
    runs["cells only, Ray, 1 worker"] = _cells_phase_in_new_process(timesteps, 1)
    runs["cells only, Ray, 2 workers"] = _cells_phase_in_new_process(timesteps, 2)
    runs["peer: two direct commands at once, half the seeds each (`--no-ray`, no Ray)"] = (
        timed_two_processes(spec)
    )
    seconds = [runs[name][0] for name in runs]
    direct, one, two, cells_one, cells_two, two_direct = seconds
    overhead = (one - direct) / direct
    lines = [
        f"### Scaling and overhead: {n_cells} cells (synthetic, test years 2009-2010, DQN seeds"
        f" 0-3, {timesteps:,} steps a cell, every strategy)",
        "",
        "| run | wall time | per cell | load average at start |",
        "|---|---|---|---|",
        *(
            f"| {name} | {wall:.1f} s | {wall / n_cells:.1f} s | {load:.2f} |"
            for name, (wall, load) in runs.items()
        ),
        "",
        "| target | figure | met |",
        "|---|---|---|",
        *(
            f"| 2 Ray workers vs 1, speed-up >= {SPEED_UP_TARGET}x, {what} | {ratio:.2f}x |"
            f" {'yes' if ratio >= SPEED_UP_TARGET else '**no**'} |"
            for what, ratio in (("cells", cells_one / cells_two), ("whole command", one / two))
        ),
        f"| Ray (1 worker) vs direct calls, whole command (Ray's start and the worker's imports"
        f" included), overhead per cell < {OVERHEAD_TARGET:.0%} |"
        f" {overhead:+.1%} ({(one - direct) / n_cells:+.2f} s a cell) |"
        f" {'yes' if overhead < OVERHEAD_TARGET else '**no**'} |",
        "",
        f"The peer: two direct commands at once finish the grid {direct / two_direct:.2f}x as fast"
        f" as one, with no Ray at all: what two CPU-bound processes gain on this machine. Ray's"
        f" 2-worker whole command reaches {one / two / (direct / two_direct):.0%} of it.",
        "",
    ]
    return lines + steady_overhead(build_spec(spec.model_dump() | {"seeds": (0, 1)}))


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
    parser.add_argument("--cells-phase", type=int, help="(internal) time the cells on N workers")
    args = parser.parse_args()
    if args.cells_phase:
        print(cells_phase(args.grid_timesteps, args.cells_phase))
        return
    text = report(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
