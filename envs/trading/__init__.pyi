"""The names `envs.trading` exports, loaded on first use (see its `__init__.py`)."""

from .batched_env import BatchedTradingEnv as BatchedTradingEnv
from .config import EnvConfig as EnvConfig
from .execution import (
    BuyAndHoldRun as BuyAndHoldRun,
)
from .execution import (
    CostModel as CostModel,
)
from .execution import (
    buy_and_hold as buy_and_hold,
)
from .execution import (
    execute as execute,
)
from .execution import (
    order_needed as order_needed,
)
from .execution import (
    rebalance as rebalance,
)
from .observation import (
    PORTFOLIO_STATE_NAMES as PORTFOLIO_STATE_NAMES,
)
from .observation import (
    ObservationBuilder as ObservationBuilder,
)
from .registration import (
    TRADING_ENV_ID as TRADING_ENV_ID,
)
from .registration import (
    register_trading_env as register_trading_env,
)
from .trading_env import (
    RUIN_EQUITY as RUIN_EQUITY,
)
from .trading_env import (
    TradingEnv as TradingEnv,
)
