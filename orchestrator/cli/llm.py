"""`hybrid-trader llm status` and `llm cache clear`.

`status` shows the routing table, spend against budget, per-model costs and the cache. Needs no API
key: it reads the configuration and, if the ledger file exists, its totals. It never creates files
and never calls a model. `cache clear` forgets every cached answer (the ledger is kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from llm import BudgetStatus, LLMSettings, ModelStack, ModelUsage


def status(
    offline: Annotated[
        bool, typer.Option("--offline", help="Show the offline stack (every task at $0).")
    ] = False,
) -> None:
    """Show the routing table, today's and this month's spend, per-model costs, cache hit rate."""
    from llm import (  # heavy: keeps `--help` fast
        Budget,
        Ledger,
        ModelStack,
        describe_configuration,
        load_model_stack,
        load_settings,
        month_start,
    )

    settings = load_settings()
    stack = ModelStack.offline() if offline else load_model_stack(settings.model_stack_path)
    console = Console()
    console.print(f"endpoint: {describe_configuration(settings)}")
    console.print(_routing_table(stack))
    if not settings.ledger_path.is_file():
        console.print(f"no ledger yet at {settings.ledger_path}: $0 spent")
        console.print(_budget_table(_zero_spend(settings)))
        return
    with Ledger(settings.ledger_path) as ledger:
        budget = Budget(
            ledger, settings.daily_budget_usd, settings.monthly_budget_usd, settings.alert_threshold
        )
        console.print(_budget_table(budget.status()))
        since = month_start(ledger.now())
        console.print(_usage_table(ledger.usage_by_model(since)))
        rate = ledger.cache_hit_rate(since)
    shown = "no answered calls yet" if rate is None else f"{rate:.1%}"
    console.print(f"cache hit rate this month: {shown} (mode {settings.cache_mode.value})")


def cache_clear() -> None:
    """Forget every cached answer, so that the next run asks the models again."""
    from llm import ResponseCache, load_settings  # heavy: keeps `--help` fast

    settings = load_settings()
    if not settings.cache_path.is_file():
        print(f"no cache at {settings.cache_path}: nothing to clear")
        return
    with ResponseCache(settings.cache_path, settings.cache_ttl_s) as cache:
        forgotten = cache.clear()
    print(f"cleared {forgotten} cached answers from {settings.cache_path}")


def _routing_table(stack: ModelStack) -> Table:
    table = Table(title=f"routing table ({stack.source})")
    for column in ("task", "tier", "primary", "fallbacks"):
        table.add_column(column, overflow="fold")
    for column in ("$/M in", "$/M out", "context"):
        table.add_column(column, justify="right")
    for task, route in stack.tasks.items():
        primary = stack.model(route.primary)
        table.add_row(
            task.value,
            route.tier.value,
            primary.id + (" (vision)" if primary.vision else ""),
            ", ".join(route.fallbacks) or "-",
            f"{primary.input_per_million:.2f}",
            f"{primary.output_per_million:.2f}",
            f"{primary.context_tokens:,}",
        )
    routing = stack.routing
    table.caption = (
        f"small: {routing.small_model}; vision: {routing.vision_model}; long context "
        f"(> {routing.long_context_threshold_tokens:,} tokens): {routing.long_context_model}; "
        f"downgrade chain: {' -> '.join(routing.downgrade_chain) or '-'}"
    )
    return table


def _budget_table(status: BudgetStatus) -> Table:
    table = Table(title="spend against budget (UTC)")
    for column in ("period", "spent $", "budget $", "used"):
        table.add_column(column, justify="left" if column == "period" else "right")
    for period, spent, limit in (
        ("today", status.spent_today_usd, status.daily_limit_usd),
        ("this month", status.spent_month_usd, status.monthly_limit_usd),
    ):
        used = f"{spent / limit:.1%}" if limit > 0 else "-"
        table.add_row(period, f"{spent:.4f}", f"{limit:.2f}", used)
    table.caption = f"alert at {status.alert_threshold:.0%} of either budget"
    return table


def _usage_table(usage: list[ModelUsage]) -> Table:
    table = Table(title="calls per model this month")
    table.add_column("model", overflow="fold")
    for column in ("calls", "errors", "cache hits", "tokens in", "tokens out", "$"):
        table.add_column(column, justify="right")
    for row in usage:
        table.add_row(
            row.model,
            str(row.calls),
            str(row.errors),
            str(row.cache_hits),
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.cost_usd:.4f}",
        )
    if not usage:
        table.caption = "no calls this month"
    return table


def _zero_spend(settings: LLMSettings) -> BudgetStatus:
    from llm import BudgetStatus

    return BudgetStatus(
        0.0, 0.0, settings.daily_budget_usd, settings.monthly_budget_usd, settings.alert_threshold
    )
