"""The names `orchestrator.memory` exports, loaded on first use (see its `__init__.py`)."""

from .memory import UNKNOWN_REGIME as UNKNOWN_REGIME
from .memory import MemoryConfig as MemoryConfig
from .memory import TradeMemory as TradeMemory
from .memory import situation_text as situation_text
from .records import ClosedTrade as ClosedTrade
from .records import LessonRecord as LessonRecord
from .records import MemoryRecords as MemoryRecords
from .records import Recall as Recall
from .records import TradeContext as TradeContext
from .storage import MEMORY_FILE as MEMORY_FILE
from .storage import MEMORY_SCHEMA as MEMORY_SCHEMA
from .storage import MEMORY_TABLES as MEMORY_TABLES
from .storage import insert_records as insert_records
from .storage import read_records as read_records
from .storage import write_memory_file as write_memory_file
