"""The hybrid DRL + LLM trader, its risk manager, backtests, paper trading and the CLI."""
