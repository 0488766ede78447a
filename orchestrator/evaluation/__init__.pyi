"""The names `orchestrator.evaluation` exports, loaded on first use (see its `__init__.py`)."""

from .cell import run_cell as run_cell
from .evaluate import EvaluationOutput as EvaluationOutput
from .evaluate import run_evaluation as run_evaluation
from .plan import Cell as Cell
from .plan import EvaluationPlan as EvaluationPlan
from .plan import plan_evaluation as plan_evaluation
from .spec import EvaluationSpec as EvaluationSpec
from .spec import build_spec as build_spec
from .spec import read_spec_file as read_spec_file
from .store import CellStore as CellStore
from .tune import TuneSpec as TuneSpec
from .tune import run_tune as run_tune
