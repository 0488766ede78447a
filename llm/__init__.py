"""LLM analysts behind one OpenAI-compatible gateway, under a budget.

`llm` imports nothing from `envs`, `agents` or `orchestrator` (see DESIGN.md). Two rooms:
`gateway` (settings, model stack, routing, budget, ledger, cache, pricing) and `team` (the
analyst graph, its analysts, council, schemas and snapshot, the offline analyst); `team` uses
`gateway`, never the other way. Code outside `llm` imports only the names below.

The exported names are listed in `__init__.pyi` and imported on first use, so importing one
part of the package never loads the others (the trading env alone would pull in torch).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
