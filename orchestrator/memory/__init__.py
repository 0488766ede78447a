"""The hybrid's memory of its own trades: every closed trade with its context and outcome, the
lesson written when it closed, and what is recalled for a new decision (similar past situations
and the lessons that apply), kept in SQLite with the run (the journal, or the backtest's memory
file).

The exported names are listed in `__init__.pyi` and imported on first use, so importing one
part of the package never loads the others (the trading env alone would pull in torch).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
