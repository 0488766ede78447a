"""The names `orchestrator.reports` exports, loaded on first use (see its `__init__.py`)."""

from .backtest import (
    backtest_metrics as backtest_metrics,
)
from .backtest import (
    metrics_markdown as metrics_markdown,
)
from .backtest import (
    write_backtest_report as write_backtest_report,
)
from .weights import WeightsReport as WeightsReport
from .weights import build_weights_report as build_weights_report
from .weights_files import write_weights_report as write_weights_report
