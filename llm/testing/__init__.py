"""Helpers that tests and benchmarks share: a local OpenAI-compatible server with programmable
faults, a responder that answers it like the offline analyst, and an in-process gateway stand-in.
(What only tests use lives in `tests/`.)"""
