"""`hybrid-trader train`: the same command as `python train.py`, defined once in `agents`."""

from agents import train_command

__all__ = ["train_command"]
