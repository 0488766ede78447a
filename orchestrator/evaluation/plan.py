"""The cells of an evaluation: (series, test year, algorithm, seed), each named by a content hash.

Walk-forward with an expanding window: the cell of test year Y trains on every bar of its series
before Y-1, validates (keeps the best model, chooses the switch margin) on Y-1 and is backtested
on Y alone, so no choice ever sees a bar of Y. A cell's key hashes the bars it may read (the
series up to the end of Y), every setting its numbers depend on and the package version: the
same key always means the same numbers, and anything changed makes a new key.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from agents import TrainConfig, training_setup
from envs import format_date, load_market_data, market_data_hash
from orchestrator.errors import ConfigError
from orchestrator.evaluation.spec import EvaluationSpec

PACKAGE = "hybrid-trader"
KEY_FORMAT = 4  # bump when a stored cell's contents change meaning
# (2: LLM dollars charged per bar; 3: the kill switch resumes after its cooldown; 4: with a
# `start`, the analysts' charts read the bars before it, as the agent's features do)
_YEAR_SLACK = pd.Timedelta(days=10)  # a series starting on 4 January still has a whole year

CellResult = dict[str, Any]
"""What a cell gives (`evaluation.cell.run_cell`), as JSON values: `cell` (what ran), `dates` (of
the bar returns) and `strategies`, each with its metrics and `returns`."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: train `algo` with `seed` on `source` before `test_year`, then backtest
    every strategy on `test_year`. `end` is the last bar date it may read; `key` its content
    hash; `max_cost_usd` its share of the evaluation's LLM cap (dollars; None: no cap, or no
    paid calls)."""

    source: str
    test_year: int
    algo: str
    seed: int
    end: str
    key: str
    max_cost_usd: float | None = None

    @property
    def name(self) -> str:
        return f"{self.source} {self.test_year} {self.algo} seed {self.seed}"

    @property
    def validation_start(self) -> str:
        return f"{self.test_year - 1}-01-01"

    @property
    def test_start(self) -> str:
        return f"{self.test_year}-01-01"

    def train_config(self, spec: EvaluationSpec, out: Path | None = None) -> TrainConfig:
        """How this cell trains its agent (into `out`, if it is to be written): `spec`'s
        training options on the bars before its validation year."""
        return TrainConfig.model_validate(
            spec.training
            | ({} if out is None else {"out": out})
            | {
                "algo": self.algo,
                "data": self.source,
                "timesteps": spec.timesteps,
                "seeds": (self.seed,),
                "start": spec.start,
                "end": self.end,
                "validation_start": self.validation_start,
                "test_start": self.test_start,
                "date_format": spec.date_format,
                "periods_per_year": spec.periods_per_year,
            }
        )


@dataclass(frozen=True)
class EvaluationPlan:
    """Every cell of `spec`, series by series, and the test years of each series."""

    spec: EvaluationSpec
    years: dict[str, tuple[int, ...]]
    cells: tuple[Cell, ...]


def plan_evaluation(spec: EvaluationSpec) -> EvaluationPlan:
    """Read each series (a bad source or date is refused here, before any work) and list its
    cells; a named test year without the history it needs is a ConfigError saying why, and so
    is a window whose bars training would refuse (a train split too short for the calibration
    hold-out or for one episode), checked once per series, at its earliest test year."""
    years: dict[str, tuple[int, ...]] = {}
    windows: list[tuple[str, int, str, str]] = []  # source, test year, last bar, its data hash
    for source in spec.sources:
        bars = load_market_data(source, spec.start, spec.end, date_format=spec.date_format)
        usable = eligible_years(bars.index, spec.min_train_years)
        chosen = spec.test_years or usable
        for year in chosen:
            if year not in usable:
                raise ConfigError(_why_not(source, year, bars.index, spec.min_train_years))
        years[source] = tuple(chosen)
        for year in chosen:
            seen = bars.loc[: pd.Timestamp(f"{year}-12-31 23:59:59")]
            windows.append((source, year, format_date(seen.index[-1]), market_data_hash(seen)))
    runs = [
        (window, algo, seed) for window in windows for algo in spec.algos for seed in spec.seeds
    ]
    cap = _cell_cap(spec, len(runs))
    cells = tuple(
        Cell(
            source,
            year,
            algo,
            seed,
            end,
            cell_key(spec, (source, year, algo, seed), data, cap),
            cap,
        )
        for (source, year, end, data), algo, seed in runs
    )
    for source, tested in years.items():
        # the earliest window trains on the fewest bars: if training takes it, it takes the rest
        first = next(c for c in cells if c.source == source and c.test_year == min(tested))
        training_setup(first.train_config(spec))  # refuses what training would
    return EvaluationPlan(spec, years, cells)


def _cell_cap(spec: EvaluationSpec, cells: int) -> float | None:
    """Each cell's equal share of the evaluation's LLM cap: the cells' own hard caps then sum to
    the whole, however many machines run them (each machine keeps its own budgets and ledger)."""
    if spec.max_cost_usd is None or spec.llm_mode == "offline":
        return None
    return spec.max_cost_usd / cells


def eligible_years(index: pd.DatetimeIndex, min_train_years: int) -> tuple[int, ...]:
    """Years Y with bars in Y and in Y-1 (validation) and `min_train_years` of bars before
    Y-1."""
    present = set(index.year)
    first = index[0]
    return tuple(
        year
        for year in sorted(present)
        if year - 1 in present
        and first <= pd.Timestamp(f"{year - 1 - min_train_years}-01-01") + _YEAR_SLACK
    )


def _why_not(source: str, year: int, index: pd.DatetimeIndex, min_train_years: int) -> str:
    span = f"{format_date(index[0])} to {format_date(index[-1])}"
    if year not in set(index.year):
        reason = "has no bars in that year"
    elif year - 1 not in set(index.year):
        reason = f"has no bars in {year - 1}, its validation year"
    else:
        reason = (
            f"needs {min_train_years} years of bars before {year - 1}, its validation year"
            " (--min-train-years)"
        )
    return f"--windows {year}: {source} ({span}) {reason}"


def cell_key(
    spec: EvaluationSpec,
    cell: tuple[str, int, str, int],
    data_hash: str,
    max_cost_usd: float | None = None,
) -> str:
    """sha256 of what the cell (source, test year, algorithm, seed) depends on (see the module
    docstring), its LLM cap among them (calls past it are skipped)."""
    source, year, algo, seed = cell
    identity = {
        "format": KEY_FORMAT,
        "version": importlib.metadata.version(PACKAGE),
        "data_hash": data_hash,
        "cell": {"source": source, "test_year": year, "algo": algo, "seed": seed},
        "max_cost_usd": max_cost_usd,
        "settings": spec.model_dump(
            mode="json",
            include={
                "timesteps",
                "llm_mode",
                "start",
                "date_format",
                "periods_per_year",
                "strategies",
                "training",
            },
        ),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
