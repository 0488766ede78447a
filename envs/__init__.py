"""Market data, causal features and the gymnasium trading environment.

`envs` imports nothing from `agents`, `llm` or `orchestrator` (see DESIGN.md). Rooms, one way:
`trading` (the environment, fills, costs) -> `data` (sources, files, the OHLCV contract, splits, the
prepared market) -> `features` (indicators, normalisation); `performance`, `errors` and `validated`
(settings checked by pydantic, raising those errors) serve all.

The exported names are listed in `__init__.pyi` and imported on first use, so importing one
part of the package never loads the others (the trading env alone would pull in torch). The env is
registered with gymnasium when `TRADING_ENV_ID` is first imported, so that `hybrid-trader --help`,
which reads `envs`' error types, loads neither gymnasium nor NumPy.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
