"""`hybrid-trader train`: the same command as `python train.py`, defined once in `agents`."""

from __future__ import annotations

import typer

from agents.cli_train import train_command


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
