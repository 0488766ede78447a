"""The names `orchestrator.runs` exports, loaded on first use (see its `__init__.py`)."""

from .backtest import (
    BacktestResult as BacktestResult,
    StrategyResult as StrategyResult,
    run_backtest as run_backtest,
)
from .display import (
    LineDisplay as LineDisplay,
    LiveDisplay as LiveDisplay,
    PaperDisplay as PaperDisplay,
)
from .paper import run_paper as run_paper
