"""The names `llm` exports, loaded on first use (see its `__init__.py`)."""

from .gateway.budget import (
    Budget as Budget,
)
from .gateway.budget import (
    BudgetStatus as BudgetStatus,
)
from .gateway.budget import (
    usd as usd,
)
from .gateway.budget import (
    used_fraction as used_fraction,
)
from .gateway.cache import ResponseCache as ResponseCache
from .gateway.clients import describe_configuration as describe_configuration
from .gateway.gateway import Gateway as Gateway
from .gateway.ledger import (
    Ledger as Ledger,
)
from .gateway.ledger import (
    LedgerEntry as LedgerEntry,
)
from .gateway.ledger import (
    Usage as Usage,
)
from .gateway.ledger import (
    month_start as month_start,
)
from .gateway.model_stack import (
    ModelStack as ModelStack,
)
from .gateway.model_stack import (
    load_model_stack as load_model_stack,
)
from .gateway.router import Router as Router
from .gateway.settings import LLMMode as LLMMode
from .gateway.settings import (
    LLMSettings as LLMSettings,
)
from .gateway.settings import (
    load_settings as load_settings,
)
from .gateway.types import (
    LLMConfigError as LLMConfigError,
)
from .gateway.types import (
    LLMError as LLMError,
)
from .gateway.types import (
    LLMGatewayDownError as LLMGatewayDownError,
)
from .gateway.types import (
    LLMRequest as LLMRequest,
)
from .gateway.types import (
    LLMResponse as LLMResponse,
)
from .gateway.types import (
    Task as Task,
)
from .team.analysts.base import CompletionGateway as CompletionGateway
from .team.analysts.execution import (
    Confirmation as Confirmation,
)
from .team.analysts.execution import (
    confirm_order as confirm_order,
)
from .team.analysts.reflection import reflect as reflect
from .team.analysts.reflection import situation_text as situation_text
from .team.build import (
    build_analyst_team as build_analyst_team,
)
from .team.embedding import Embedder as Embedder
from .team.embedding import GatewayEmbedder as GatewayEmbedder
from .team.embedding import HashingEmbedder as HashingEmbedder
from .team.embedding import embedder_for as embedder_for
from .team.graph import AnalystTeam as AnalystTeam
from .team.schemas import (
    Action as Action,
)
from .team.schemas import (
    AgentSignal as AgentSignal,
)
from .team.schemas import Lesson as Lesson
from .team.schemas import (
    TradingDecision as TradingDecision,
)
from .team.snapshot import (
    AccountView as AccountView,
)
from .team.snapshot import (
    MarketSnapshot as MarketSnapshot,
)
from .team.snapshot import PastTrade as PastTrade
from .team.snapshot import RecalledLesson as RecalledLesson
from .team.snapshot import TradeMemoryView as TradeMemoryView
from .team.snapshot import (
    snapshot_from_frame as snapshot_from_frame,
)
