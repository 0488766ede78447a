"""The names `envs` exports, loaded on first use (see its `__init__.py`)."""

from .data.bar_size import infer_bar_size as infer_bar_size
from .data.contract import format_date as format_date
from .data.dataset import (
    PreparedMarket as PreparedMarket,
)
from .data.dataset import (
    assemble_market as assemble_market,
)
from .data.dataset import (
    market_data_hash as market_data_hash,
)
from .data.dataset import (
    prepare_market as prepare_market,
)
from .data.describe import (
    MarketDescription as MarketDescription,
)
from .data.describe import (
    describe_market as describe_market,
)
from .data.market_arrays import MarketArrays as MarketArrays
from .data.sources import (
    SOURCE_NAMES as SOURCE_NAMES,
)
from .data.sources import (
    DateLike as DateLike,
)
from .data.sources import (
    canonical_source as canonical_source,
)
from .data.sources import (
    load_market_data as load_market_data,
)
from .data.sources import (
    parse_date_option as parse_date_option,
)
from .data.splits import (
    SPLIT_NAMES as SPLIT_NAMES,
)
from .data.splits import (
    SplitName as SplitName,
)
from .data.splits import (
    Splits as Splits,
)
from .errors import (
    EnvSetupError as EnvSetupError,
)
from .errors import (
    MarketDataError as MarketDataError,
)
from .features.indicators import FEATURE_NAMES as FEATURE_NAMES
from .features.normalization import FeatureNormalizer as FeatureNormalizer
from .performance import (
    bootstrap_interval as bootstrap_interval,
)
from .performance import (
    performance_metrics as performance_metrics,
)
from .performance import (
    sharpe_confidence_interval as sharpe_confidence_interval,
)
from .trading.batched_env import BatchedTradingEnv as BatchedTradingEnv
from .trading.config import EnvConfig as EnvConfig
from .trading.execution import (
    BuyAndHoldRun as BuyAndHoldRun,
)
from .trading.execution import (
    CostModel as CostModel,
)
from .trading.execution import (
    buy_and_hold as buy_and_hold,
)
from .trading.execution import (
    execute as execute,
)
from .trading.execution import (
    market_order as market_order,
)
from .trading.execution import (
    order_needed as order_needed,
)
from .trading.execution import (
    rebalance as rebalance,
)
from .trading.observation import (
    PORTFOLIO_STATE_NAMES as PORTFOLIO_STATE_NAMES,
)
from .trading.observation import (
    ObservationBuilder as ObservationBuilder,
)
from .trading.registration import (
    TRADING_ENV_ID as TRADING_ENV_ID,
)
from .trading.registration import (
    register_trading_env as register_trading_env,
)
from .trading.trading_env import (
    RUIN_EQUITY as RUIN_EQUITY,
)
from .trading.trading_env import (
    TradingEnv as TradingEnv,
)
