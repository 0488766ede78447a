"""The names `orchestrator.runs` exports, loaded on first use (see its `__init__.py`)."""

from .backtest import (
    BacktestConfig as BacktestConfig,
)
from .backtest import (
    BacktestResult as BacktestResult,
)
from .backtest import (
    StrategyResult as StrategyResult,
)
from .backtest import (
    run_backtest as run_backtest,
)
from .display import (
    LineDisplay as LineDisplay,
)
from .display import (
    LiveDisplay as LiveDisplay,
)
from .display import (
    PaperDisplay as PaperDisplay,
)
from .follow import IdlePoller as IdlePoller
from .paper import backtest_sources_alone as backtest_sources_alone
from .paper import journaled_account as journaled_account
from .paper import run_paper as run_paper
from .recorder import TradeFill as TradeFill
from .strategy_names import BUY_AND_HOLD as BUY_AND_HOLD
from .strategy_names import STRATEGY_NAMES as STRATEGY_NAMES
from .strategy_names import StrategyName as StrategyName
