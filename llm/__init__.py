"""LLM analysts behind one OpenAI-compatible gateway, under a budget.

`llm` imports nothing from `envs`, `agents` or `orchestrator` (see DESIGN.md).
"""
