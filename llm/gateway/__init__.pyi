"""The names `llm.gateway` exports, loaded on first use (see its `__init__.py`)."""

from .budget import (
    AlertCallback as AlertCallback,
)
from .budget import (
    Budget as Budget,
)
from .budget import (
    BudgetAlert as BudgetAlert,
)
from .budget import (
    BudgetStatus as BudgetStatus,
)
from .budget import (
    usd as usd,
)
from .budget import (
    used_fraction as used_fraction,
)
from .cache import ResponseCache as ResponseCache
from .clients import (
    check_every_task_served as check_every_task_served,
)
from .clients import (
    describe_configuration as describe_configuration,
)
from .gateway import EMBEDDING_TASK as EMBEDDING_TASK
from .gateway import Gateway as Gateway
from .ledger import (
    Ledger as Ledger,
)
from .ledger import (
    LedgerEntry as LedgerEntry,
)
from .ledger import (
    Usage as Usage,
)
from .ledger import (
    month_start as month_start,
)
from .messages import (
    CHARS_PER_TOKEN as CHARS_PER_TOKEN,
)
from .messages import (
    estimate_prompt_tokens as estimate_prompt_tokens,
)
from .messages import (
    extract_json_object as extract_json_object,
)
from .messages import (
    parse_answer as parse_answer,
)
from .model_stack import (
    OFFLINE_MODEL_ID as OFFLINE_MODEL_ID,
)
from .model_stack import (
    ModelStack as ModelStack,
)
from .model_stack import (
    load_model_stack as load_model_stack,
)
from .router import (
    Router as Router,
)
from .settings import LLM_MODES as LLM_MODES
from .settings import (
    CacheMode as CacheMode,
)
from .settings import LLMMode as LLMMode
from .settings import (
    LLMSettings as LLMSettings,
)
from .settings import (
    load_settings as load_settings,
)
from .types import (
    AnswerParseError as AnswerParseError,
)
from .types import (
    Complexity as Complexity,
)
from .types import (
    LLMConfigError as LLMConfigError,
)
from .types import (
    LLMError as LLMError,
)
from .types import (
    LLMGatewayDownError as LLMGatewayDownError,
)
from .types import (
    LLMRequest as LLMRequest,
)
from .types import (
    LLMResponse as LLMResponse,
)
from .types import (
    LLMSkippedError as LLMSkippedError,
)
from .types import (
    Task as Task,
)
