"""The names `agents.training` exports, loaded on first use (see its `__init__.py`)."""

from .cli import (
    Algo as Algo,
)
from .cli import (
    main as main,
)
from .cli import (
    train_command as train_command,
)
from .evaluation import (
    AGENT as AGENT,
)
from .evaluation import (
    BUY_AND_HOLD as BUY_AND_HOLD,
)
from .market_data import (
    prepare_training_markets as prepare_training_markets,
)
from .market_data import (
    split_with_history as split_with_history,
)
from .market_data import (
    training_env_config as training_env_config,
)
from .market_data import (
    training_setup as training_setup,
)
from .sb3_models import build_model as build_model
from .seed_summary import (
    AgentResult as AgentResult,
)
from .seed_summary import (
    TrainingRun as TrainingRun,
)
from .seed_summary import (
    format_mean_std as format_mean_std,
)
from .seed_summary import (
    mean_std as mean_std,
)
from .trainer import (
    train_agents as train_agents,
)
