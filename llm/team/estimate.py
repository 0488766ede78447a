"""What gateway calls will cost before any is made: one decision and one execution check (and,
for a run with a trade memory, one reflection on a closed trade, with the memory's block in the
decision's prompts) rehearsed with the offline analyst, their prompts measured, priced from the
model stack. A council's seats are priced each on its own model; with an `embedding_model`, a
memory run also embeds each lesson and each situation it recalls lessons for.

The rehearsal builds exactly the requests a paid run sends (chart image included), so the token
counts come from the prompts themselves (4 characters a token, 1,000 an image), and each call is
priced at the first model its route keeps under its cost cap, answering at the expected length.
A model that the cap always drops for that prompt is listed as unreachable.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from langchain_core.messages import HumanMessage

from llm.gateway import (
    EMBEDDING_TASK,
    Complexity,
    LLMRequest,
    LLMResponse,
    Router,
    Task,
    estimate_prompt_tokens,
    parse_answer,
)
from llm.team import prompt_sections
from llm.team.analysts.execution import confirm_order
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.analysts.offline_rules import reflection_rule
from llm.team.analysts.reflection import reflect, situation_text
from llm.team.graph import AnalystTeam, TeamConfig
from llm.team.snapshot import (
    AccountView,
    MarketSnapshot,
    PastTrade,
    RecalledLesson,
    TradeMemoryView,
    snapshot_from_frame,
)

SAMPLE_ORDER: dict[str, object] = {
    "side": "buy",
    "shares": 100.0,
    "price": 100.0,
    "notional": 10_000.0,
    "notional_fraction_of_equity": 0.1,
    "current_position": 0.0,
    "target_position": 0.1,
    "risk_check": "approved",
    "intent": "rebalance",
}
"""An order as `orchestrator.trader.order_facts` describes one: its prompt is what is measured."""

SAMPLE_TRADE: dict[str, object] = {
    "entry_day": "2020-01-02T00:00:00",
    "exit_day": "2020-01-16T00:00:00",
    "regime": "ranging",
    "side": "long",
    "size": 0.75,
    "drl_signal": 1.0,
    "llm_signal": 0.25,
    "drl_weight": 0.5,
    "net_return": -0.0123,
    "bars_held": 10,
    "worst_excursion": -0.0345,
    "best_excursion": 0.0211,
}
"""A closed trade as `orchestrator.memory.ClosedTrade.story` describes one, for the reflection."""
SAMPLE_MEMORY_TRADES = 5
SAMPLE_MEMORY_LESSONS = 3


@dataclass(frozen=True)
class TaskCost:
    """One task's calls (one council seat's, for the council): `calls` per decision (analysts),
    per order (the execution check) or per closed trade (reflection, embeddings), each of about
    `prompt_tokens` priced on `model` at `usd_per_call` dollars; `unreachable`: the task's models
    that its cost cap always drops. `task`: a `Task`, or the ledger's `embedding`."""

    task: str
    calls: int
    prompt_tokens: int
    model: str
    usd_per_call: float
    unreachable: tuple[str, ...]

    @property
    def usd(self) -> float:
        return self.calls * self.usd_per_call


@dataclass(frozen=True)
class CallCosts:
    """Dollars per decision (the analyst team) and per execution check, task by task."""

    decision: tuple[TaskCost, ...]
    check: TaskCost
    reflection: TaskCost | None = None  # per closed trade, for a run with a trade memory
    embedding: TaskCost | None = None
    """With a trade memory and an `embedding_model`: per closed trade, its lesson and one recall's
    situation embedded (a recall comes with each ask, at most one a bar, like a closed trade)."""

    @property
    def usd_per_decision(self) -> float:
        return sum(cost.usd for cost in self.decision)

    @property
    def usd_per_check(self) -> float:
        return self.check.usd


def example_snapshot(n_bars: int = 120, seed: int = 0) -> MarketSnapshot:
    """A snapshot of `n_bars` seeded random-walk daily bars, for estimates made before any data
    is loaded (`llm status`): prompt sizes depend on the number of bars, not their values."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]])
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.004,
            "low": np.minimum(open_, close) * 0.996,
            "close": close,
            "volume": np.full(n_bars, 1e6),
        },
        index=pd.bdate_range("2020-01-01", periods=n_bars),
    )
    portfolio = AccountView(equity=1e5)
    return snapshot_from_frame(frame, frame.index[-1], symbol="EXAMPLE", portfolio=portfolio)


class _Recorder:
    """A free stand-in gateway that answers as the offline analyst and keeps every request."""

    def __init__(self) -> None:
        self._model = OfflineAnalystChatModel()
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        text = str(self._model.invoke(list(request.messages)).text)
        schema = request.response_schema
        parsed = None if schema is None else parse_answer(text, schema)
        return LLMResponse(
            text, request.task, "rehearsal", "rehearsal", 0, 0, 0.0, 0.0, False, parsed
        )

    def close(self) -> None:
        """Nothing to release."""


def estimate_call_costs(
    snapshot: MarketSnapshot, router: Router, config: TeamConfig, *, memory: bool = False
) -> CallCosts:
    """Rehearse one decision on `snapshot` and one execution check, and price their calls with
    `router` (the run's gateway's: its stack and output lengths); `config`: the run's team.
    memory: the run keeps a trade memory, so its decisions carry the memory's block (5 similar
    trades, 3 lessons) and each closed trade costs a reflection."""
    recorder = _Recorder()
    if memory:
        snapshot = replace(snapshot, memory=_sample_memory(snapshot))
    AnalystTeam(recorder, config).analyse(snapshot)
    decision_requests = list(recorder.requests)
    confirm_order(recorder, snapshot, SAMPLE_ORDER)
    check_request = recorder.requests[-1]
    # one line per task, and per seat for a council (each seat asks its own model)
    calls = Counter((request.task, tuple(request.models or ())) for request in decision_requests)
    first = {(r.task, tuple(r.models or ())): r for r in reversed(decision_requests)}
    decision = tuple(
        _priced(router, first[key], calls[key])
        for key in sorted(calls, key=lambda key: (list(Task).index(key[0]), key[1]))
    )
    if not memory:
        return CallCosts(decision, _priced(router, check_request, 1))
    lesson = reflect(recorder, snapshot.symbol, SAMPLE_TRADE)
    reflection = _priced(router, recorder.requests[-1], 1)
    embedded = (situation_text("ranging", 1.0, -0.25), "" if lesson is None else lesson.text())
    return CallCosts(
        decision,
        _priced(router, check_request, 1),
        reflection,
        _embedding_cost(router, embedded),
    )


def _sample_memory(snapshot: MarketSnapshot) -> TradeMemoryView:
    """A full memory block of typical text, dated at the snapshot (its size is what counts)."""
    lesson = reflection_rule({prompt_sections.TRADE: json.dumps(SAMPLE_TRADE)}).text()
    at = snapshot.timestamp
    return TradeMemoryView(
        similar=(PastTrade(at, "long", "ranging", -0.0123, 10, 1.2345),) * SAMPLE_MEMORY_TRADES,
        lessons=(RecalledLesson(at, lesson),) * SAMPLE_MEMORY_LESSONS,
    )


def _embedding_cost(router: Router, texts: tuple[str, ...]) -> TaskCost | None:
    """`texts` embedded one call each by the stack's `embedding_model` (None without one),
    priced per input token at the longest text's size."""
    model = router.stack.embedding_model
    if model is None:
        return None
    tokens = max(estimate_prompt_tokens([HumanMessage(text)]) for text in texts)
    usd_per_call = router.stack.model(model).cost_usd(tokens, 0)
    return TaskCost(EMBEDDING_TASK, len(texts), tokens, model, usd_per_call, ())


def _priced(router: Router, request: LLMRequest, calls: int) -> TaskCost:
    tokens = estimate_prompt_tokens(request.messages)
    chain = router.route(request, spend_checks=False).models
    cap = request.max_cost_usd
    dropped: tuple[str, ...] = ()
    if cap is not None and router.complexity_of(request) is not Complexity.CRITICAL:
        dropped = tuple(m for m in chain if router.unreachable(m, tokens, cap))
    kept = [m for m in chain if m not in dropped] or list(chain)
    model = kept[0]
    return TaskCost(
        request.task, calls, tokens, model, router.expected_cost(model, tokens), dropped
    )
