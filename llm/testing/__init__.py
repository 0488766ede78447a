"""Test helpers for the LLM side: a local OpenAI-compatible server with programmable faults."""
