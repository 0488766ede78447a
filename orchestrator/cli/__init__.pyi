"""The names `orchestrator.cli` exports, loaded on first use (see its `__init__.py`)."""

from .app import (
    build_app as build_app,
)
from .app import (
    main as main,
)
