"""The names `orchestrator.execution` exports, loaded on first use (see its `__init__.py`)."""

from .alpaca_broker import AlpacaBroker as AlpacaBroker
from .broker import (
    Broker as Broker,
)
from .broker import (
    BrokerError as BrokerError,
)
from .broker import (
    BrokerFill as BrokerFill,
)
from .broker import (
    OrderAck as OrderAck,
)
from .broker import (
    OrderRequest as OrderRequest,
)
from .broker import (
    OrderStatus as OrderStatus,
)
from .broker import (
    client_order_id as client_order_id,
)
from .broker import (
    resubmit_pending as resubmit_pending,
)
from .paper_broker import PaperBroker as PaperBroker
from .portfolio import PortfolioState as PortfolioState
from .risk import (
    CheckStatus as CheckStatus,
)
from .risk import (
    OrderCheck as OrderCheck,
)
from .risk import (
    RiskLimits as RiskLimits,
)
from .risk import (
    RiskManager as RiskManager,
)
