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
    from llm import BudgetStatus, LLMSettings, ModelStack, Usage


def status(
    offline: Annotated[
        bool, typer.Option("--offline", help="Show the offline stack (every task at $0).")
    ] = False,
) -> None:
    """Show the routing table, the expected cost per task, spend against budget, and this month's
    calls per task and per model (usable answers apart from failed attempts), cache hit rate."""
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
    # opened before anything is printed: a path that is no ledger is one error line
    ledger = Ledger(settings.ledger_path) if settings.ledger_path.exists() else None
    console = Console()
    console.print(f"endpoint: {describe_configuration(settings)}")
    console.print(_routing_table(stack))
    console.print(_cost_table(stack, settings))
    if ledger is None:
        console.print(f"no ledger yet at {settings.ledger_path}: $0 spent")
        console.print(_budget_table(_zero_spend(settings)))
        return
    with ledger:
        budget = Budget(
            ledger, settings.daily_budget_usd, settings.monthly_budget_usd, settings.alert_threshold
        )
        console.print(_budget_table(budget.status()))
        since = month_start(ledger.now())
        console.print(
            _usage_table("calls per task this month", "task", ledger.usage_by_task(since))
        )
        console.print(
            _usage_table("calls per model this month", "model", ledger.usage_by_model(since))
        )
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


def _cost_table(stack: ModelStack, settings: LLMSettings) -> Table:
    """One decision and one execution check rehearsed on an example snapshot and priced; the
    models that a task's share of the decision cost cap always drops are marked unreachable."""
    from llm import Router, usd
    from llm.team import estimate_call_costs, example_snapshot, gateway_team_config

    costs = estimate_call_costs(
        example_snapshot(), Router.for_estimates(stack, settings), gateway_team_config(stack)
    )
    table = Table(title="expected cost per task (one decision, one execution check)")
    table.add_column("task")
    for column in ("calls", "prompt tokens", "$ per call"):
        table.add_column(column, justify="right")
    table.add_column("priced on", overflow="fold")
    table.add_column("unreachable under the cost cap", overflow="fold")
    for cost in (*costs.decision, costs.check):
        table.add_row(
            cost.task,
            str(cost.calls),
            f"{cost.prompt_tokens:,}",
            usd(cost.usd_per_call),
            cost.model,
            ", ".join(cost.unreachable) or "-",
        )
    table.caption = (
        f"{usd(costs.usd_per_decision)} a decision, {usd(costs.usd_per_check)} an execution check"
        f" (one per order sent); answers priced at {settings.expected_output_tokens} tokens"
        f" (hard limit {settings.max_output_tokens})"
    )
    return table


def _budget_table(status: BudgetStatus) -> Table:
    from llm import usd, used_fraction

    table = Table(title="spend against budget (UTC)")
    for column in ("period", "spent", "budget", "used"):
        table.add_column(column, justify="left" if column == "period" else "right")
    for period, spent, limit in (
        ("today", status.spent_today_usd, status.daily_limit_usd),
        ("this month", status.spent_month_usd, status.monthly_limit_usd),
    ):
        table.add_row(period, usd(spent), usd(limit), used_fraction(spent, limit))
    table.caption = f"alert at {status.alert_threshold:.0%} of either budget"
    return table


def _usage_table(title: str, key: str, usage: list[Usage]) -> Table:
    """Usable answers, failed attempts (HTTP errors, timeouts, unusable answers) and cache hits,
    with what they cost; `key`: what a row is (task or model)."""
    from llm import usd

    table = Table(title=title)
    table.add_column(key, overflow="fold")
    for column in ("answers", "failed attempts", "cache hits", "tokens in", "tokens out", "cost"):
        table.add_column(column, justify="right")
    table.add_column("per answer", justify="right")
    for row in usage:
        table.add_row(
            row.name,
            str(row.calls),
            str(row.errors),
            str(row.cache_hits),
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            usd(row.cost_usd),
            usd(row.cost_usd / row.calls) if row.calls else "-",
        )
    if not usage:
        table.caption = "no calls this month"
    return table


def _zero_spend(settings: LLMSettings) -> BudgetStatus:
    from llm import BudgetStatus

    return BudgetStatus(
        0.0, 0.0, settings.daily_budget_usd, settings.monthly_budget_usd, settings.alert_threshold
    )
