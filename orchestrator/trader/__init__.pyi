"""The names `orchestrator.trader` exports, loaded on first use (see its `__init__.py`)."""

from .baselines import (
    DRLAlone as DRLAlone,
)
from .baselines import (
    LLMAlone as LLMAlone,
)
from .cadence import (
    LLMCadence as LLMCadence,
)
from .cadence import (
    LLMView as LLMView,
)
from .cadence import (
    LLMViewKeeper as LLMViewKeeper,
)
from .cadence import (
    drl_unsure_threshold as drl_unsure_threshold,
)
from .combiner import (
    COMBINER_RULES as COMBINER_RULES,
)
from .combiner import (
    CombinerRule as CombinerRule,
)
from .combiner import (
    HybridAction as HybridAction,
)
from .combiner import (
    HybridDecision as HybridDecision,
)
from .confirmation import ExecutionConfirmer as ExecutionConfirmer
from .drl_advisor import DRLAdvisor as DRLAdvisor
from .hedge import DEFAULT_LEARNER as DEFAULT_LEARNER
from .hedge import (
    EXTRA_EXPERTS as EXTRA_EXPERTS,
)
from .hedge import LEARNERS as LEARNERS
from .hedge import (
    DelayedAdaHedge as DelayedAdaHedge,
)
from .hedge import (
    ExpertWeights as ExpertWeights,
)
from .hedge import (
    ExtraScore as ExtraScore,
)
from .hedge import (
    HedgeWeights as HedgeWeights,
)
from .hedge import LearnerName as LearnerName
from .hedge import ThompsonExperts as ThompsonExperts
from .hedge import (
    WeightUpdate as WeightUpdate,
)
from .hedge import make_learner as make_learner
from .hybrid_trader import (
    HybridDRLLLMTrader as HybridDRLLLMTrader,
)
from .hybrid_trader import (
    TraderConfig as TraderConfig,
)
from .hybrid_trader import trade_memory as trade_memory
from .market import (
    BarSeen as BarSeen,
)
from .market import (
    TradingMarket as TradingMarket,
)
from .market import (
    load_trading_market as load_trading_market,
)
from .snapshots import (
    DEFAULT_WINDOW as DEFAULT_WINDOW,
)
from .snapshots import (
    MarketSnapshots as MarketSnapshots,
)
from .strategy import Strategy as Strategy
from .votes import (
    LLMConfidenceCalibrator as LLMConfidenceCalibrator,
)
from .votes import ReliabilityRow as ReliabilityRow
from .votes import SourceVote as SourceVote
