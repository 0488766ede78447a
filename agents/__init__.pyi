"""The names `agents` exports, loaded on first use (see its `__init__.py`)."""

from .config import TrainConfig as TrainConfig
from .config import parse_integer_ranges as parse_integer_ranges
from .decision import DRLDecision as DRLDecision
from .drl_agent import DRLAgent as DRLAgent
from .errors import AgentError as AgentError
from .storage import check_output_directory as check_output_directory
from .training.cli import USER_ERROR_EXIT_CODE as USER_ERROR_EXIT_CODE
from .training.cli import Algo as Algo
from .training.cli import run_command_line as run_command_line
from .training.cli import train_command as train_command
from .training.market_data import split_with_history as split_with_history
from .training.market_data import training_setup as training_setup
from .training.seed_summary import AgentResult as AgentResult
from .training.seed_summary import TrainingRun as TrainingRun
from .training.trainer import train_agents as train_agents
