"""Walk-forward evaluation on Ray: the grid of cells, the cell store, statistics and report.

The exported names are listed in `__init__.pyi` and imported on first use, so importing one
part of the package never loads the others (the trading env alone would pull in torch).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
