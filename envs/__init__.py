"""Market data, causal features and the gymnasium trading environment.

`envs` imports nothing from `agents`, `llm` or `orchestrator` (see DESIGN.md).
"""
