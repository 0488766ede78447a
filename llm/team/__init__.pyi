"""The names `llm.team` exports, loaded on first use (see its `__init__.py`)."""

from .build import (
    build_analyst_team as build_analyst_team,
)
from .build import gateway_team_config as gateway_team_config
from .embedding import Embedder as Embedder
from .embedding import GatewayEmbedder as GatewayEmbedder
from .embedding import HashingEmbedder as HashingEmbedder
from .embedding import embedder_for as embedder_for
from .estimate import (
    CallCosts as CallCosts,
)
from .estimate import (
    TaskCost as TaskCost,
)
from .estimate import (
    estimate_call_costs as estimate_call_costs,
)
from .estimate import (
    example_snapshot as example_snapshot,
)
from .graph import (
    ANALYSTS as ANALYSTS,
)
from .graph import (
    AnalystTeam as AnalystTeam,
)
from .graph import (
    TeamConfig as TeamConfig,
)
from .graph import (
    build_analyst_graph as build_analyst_graph,
)
from .schemas import (
    Action as Action,
)
from .schemas import (
    AgentSignal as AgentSignal,
)
from .schemas import Lesson as Lesson
from .schemas import (
    TradingDecision as TradingDecision,
)
from .snapshot import (
    AccountView as AccountView,
)
from .snapshot import (
    MarketSnapshot as MarketSnapshot,
)
from .snapshot import PastTrade as PastTrade
from .snapshot import RecalledLesson as RecalledLesson
from .snapshot import TradeMemoryView as TradeMemoryView
from .snapshot import (
    snapshot_from_frame as snapshot_from_frame,
)
from .state import initial_state as initial_state
