"""The main job end to end on a tiny budget: every stage leaves its files where it says."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from orchestrator.jobs import PipelineConfig, PipelineFolders, run_pipeline
from orchestrator.runs import STRATEGY_NAMES


def test_new_folders_are_timestamped_under_out(tmp_path: Path) -> None:
    folders = PipelineFolders.new(tmp_path, now=dt.datetime(2026, 11, 22, 3, 4, 5))
    assert folders.root == tmp_path / "20261122-030405"
    assert folders.journal.parent == folders.root


def test_pipeline_trains_backtests_paper_trades_and_reports(tmp_path: Path) -> None:
    folders = PipelineFolders(tmp_path / "run")
    said: list[str] = []
    run_pipeline(
        PipelineConfig(data="synthetic", timesteps=400),
        folders,
        said.append,
        progress_bar=False,
    )

    assert (folders.agent / "manifest.json").is_file()
    metrics = json.loads((folders.backtest / "metrics.json").read_text())
    assert set(metrics["strategies"]) == set(STRATEGY_NAMES)
    equity = pd.read_csv(folders.backtest / "equity.csv")
    hybrid = equity[equity["strategy"] == "hybrid_learned"]["equity"].to_numpy()
    weights = json.loads((folders.weights / "weights.json").read_text())
    assert weights["n_updates"] > 0
    # Paper trading replays the same bars through the same engine as the backtest's hybrid.
    assert any(f"{hybrid[-1]:,.2f}" in line for line in said), said
    assert said[-1] == f"done: everything is under {folders.root}"
