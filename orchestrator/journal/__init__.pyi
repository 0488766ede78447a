"""The names `orchestrator.journal` exports, loaded on first use (see its `__init__.py`)."""

from .reader import (
    JournalQueries as JournalQueries,
)
from .reader import (
    JournalReader as JournalReader,
)
from .schema import (
    FileState as FileState,
)
from .schema import (
    RestoredState as RestoredState,
)
from .schema import (
    RunIdentity as RunIdentity,
)
from .schema import (
    canonical_hash as canonical_hash,
)
from .schema import (
    inspect_file as inspect_file,
)
from .schema import (
    lock_path_for as lock_path_for,
)
from .writer import Journal as Journal
