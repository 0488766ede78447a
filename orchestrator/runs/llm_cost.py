"""The LLM's calls and their cost over a run: what each bar called, and what the run will cost.

`LLMCallLog`: the journal keeps one row per LLM attempt of a bar (`BarWriter.record_llm_call`), and
the backtest counts calls and dollars per strategy. The gateway hands every row it writes to its
ledger, paid, failed or cache hit, to its listeners; an `LLMCallLog` listens and keeps the rows
until the bar drains them, so nothing is counted twice and no call is missed, including the failed
attempts inside the gateway's retry loop that no caller ever sees.

`hold_run_to_budget`: one decision and one execution check are rehearsed on the run's first
snapshot with the offline analyst (`llm.team.estimate_call_costs`), so the token counts come from
the real prompts and the prices from the stack. The counts are upper bounds: at most one team
decision a bar (strategies share it through the cache) and at most one execution check a bar for
each strategy that asks the LLM, and at most one reflection a bar for each strategy with a trade
memory (a trade closes at most once a bar), with, when the stack names an `embedding_model`, its
lesson and one recall's situation embedded. A run whose estimate exceeds what the daily and
monthly budgets leave stops before its first call, unless the user sets a hard cap
(`--max-cost`), which then binds every call, the critical execution check included.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from llm import AnalystTeam, CompletionGateway, Gateway, LedgerEntry, MarketSnapshot
from llm.team import CallCosts, TaskCost, estimate_call_costs
from orchestrator.errors import CostEstimateError


class LLMCallLog:
    """The gateway's ledger rows since the last `drain`. Thread-safe: the analyst graph calls the
    gateway, and so this log, from parallel threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[LedgerEntry] = []

    @classmethod
    def listen_to(cls, gateway: CompletionGateway) -> LLMCallLog | None:
        """A log of `gateway`'s calls from now on, for as long as the gateway lives; None for a
        stand-in gateway (tests), which reports no calls."""
        if not isinstance(gateway, Gateway):
            return None
        log = cls()
        gateway.add_listener(log.record)
        return log

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._pending.append(entry)

    def drain(self) -> tuple[LedgerEntry, ...]:
        """The rows recorded since the last drain, oldest first; the log starts empty again."""
        with self._lock:
            drained, self._pending = tuple(self._pending), []
        return drained


@dataclass(frozen=True)
class RunCostEstimate:
    """costs: dollars per decision, per check and per reflection, task by task; decisions, checks
    and reflections: how many at most; remaining_usd: what the daily and monthly budgets leave."""

    costs: CallCosts
    decisions: int
    checks: int
    remaining_usd: float
    reflections: int = 0

    @property
    def usd(self) -> float:
        return sum(units * cost.usd for cost, units in self._rows())

    def _rows(self) -> list[tuple[TaskCost, int]]:
        """Each task's cost with how many times it comes (decisions, checks, closed trades)."""
        rows = [(cost, self.decisions) for cost in self.costs.decision]
        rows.append((self.costs.check, self.checks))
        for per_trade in (self.costs.reflection, self.costs.embedding):
            if per_trade is not None:
                rows.append((per_trade, self.reflections))
        return rows

    def lines(self) -> list[str]:
        """The estimate as the run prints it: one line per task, then the total against budget."""
        lines = ["LLM cost estimate (at most; prompts measured, prices from the stack):"]
        for cost, units in self._rows():
            unreachable = f"; unreachable under its cap: {', '.join(cost.unreachable)}"
            lines.append(
                f"  {cost.task}: {units * cost.calls} calls x ${cost.usd_per_call:.6f}"
                f" ({cost.prompt_tokens} prompt tokens, {cost.model}) = "
                f"${units * cost.usd:.4f}{unreachable if cost.unreachable else ''}"
            )
        lines.append(
            f"  total ${self.usd:.4f} (${self.costs.usd_per_decision:.6f} a decision, "
            f"${self.costs.usd_per_check:.6f} an execution check); budgets leave "
            f"${self.remaining_usd:.4f}"
        )
        return lines


def hold_run_to_budget(
    team: AnalystTeam,
    snapshot: MarketSnapshot,
    *,
    bars: int,
    asking_strategies: int,
    max_cost_usd: float | None,
    say: Callable[[str], None],
    remembering_strategies: int = 0,
) -> RunCostEstimate | None:
    """Estimate a gateway run of `bars` bars, `asking_strategies` strategies that ask the LLM and
    `remembering_strategies` that keep a trade memory,
    `say` it line by line, and hold the run to it: CostEstimateError when the estimate exceeds
    what the budgets leave and `max_cost_usd` (dollars) is None; otherwise the gateway is capped
    at `max_cost_usd`. None, and nothing said, for a stand-in or free (offline) gateway."""
    gateway = team.gateway
    if not isinstance(gateway, Gateway) or gateway.stack.is_free():
        return None
    gateway.cap_spend(max_cost_usd)
    estimate = RunCostEstimate(
        estimate_call_costs(
            snapshot, gateway.router, team.config, memory=remembering_strategies > 0
        ),
        decisions=bars,
        checks=bars * asking_strategies,
        remaining_usd=gateway.budget.status().remaining_usd,
        reflections=bars * remembering_strategies,
    )
    for line in estimate.lines():
        say(line)
    if max_cost_usd is None and estimate.usd > estimate.remaining_usd:
        raise CostEstimateError(
            f"this run may cost up to ${estimate.usd:.4f} in LLM calls, more than the "
            f"${estimate.remaining_usd:.4f} the daily and monthly budgets leave; pass "
            "--max-cost DOLLARS to run it under a hard cap, shorten it with --start/--end, "
            "or raise DAILY_LLM_BUDGET / MONTHLY_LLM_BUDGET"
        )
    return estimate
