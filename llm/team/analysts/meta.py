"""Meta orchestrator: synthesises the analysts' signals and the portfolio into one decision.

Three ways to decide, recorded in `decided_by`:
- "meta": one model's answer;
- "council": several models vote (see `llm.team.council`); errors or disagreement give HOLD;
- "fallback": the meta call failed, was skipped, or there were no signals to send; the
  deterministic confidence-weighted vote of `llm.team.consensus` decides instead.
The decision carries the dollars spent by every call of the run and the models that served them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from llm.gateway import Complexity, LLMRequest, Task
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, ask_model, market_header, system_prompt
from llm.team.consensus import combine_signals
from llm.team.council import Council, council_vote
from llm.team.prompt_sections import PromptId
from llm.team.schemas import AgentSignal, CouncilVote, MetaAnswer
from llm.team.snapshot import MarketSnapshot
from llm.team.state import AnalystState, DecisionSource, NodeIssue, StateUpdate, merge_updates

NODE = "meta"
PROMPT_VERSION = "v1"

ROLE = "You are the head trader who makes the final call for a trading desk."
INSTRUCTIONS_V1 = (
    "Synthesise the analysts' signals (each on the shared scale, with its confidence) and the "
    "portfolio into one decision: BUY, SELL or HOLD; a size as the fraction of the maximum "
    "position (0 for HOLD, above 0 for BUY or SELL); your confidence; and the risk level LOW, "
    "MEDIUM or HIGH. Weigh analysts by confidence, prefer HOLD when they disagree, trade smaller "
    "when the book is losing. Analysts listed as missing gave no signal: do not guess theirs."
)
HUMAN_TEMPLATE_V1 = """{header}
Missing analysts: {missing}

{signals}

{portfolio}

{indicators}{memory}"""


def build_messages(
    snapshot: MarketSnapshot, signals: Sequence[AgentSignal], issues: Sequence[NodeIssue]
) -> tuple[BaseMessage, ...]:
    missing = ", ".join(f"{i.node} ({i.kind.value})" for i in issues) or "none"
    text = HUMAN_TEMPLATE_V1.format(
        header=market_header(snapshot),
        missing=missing,
        signals=prompt_sections.signals_section([s.model_dump() for s in signals]),
        portfolio=prompt_sections.portfolio_section(snapshot.portfolio),
        indicators=prompt_sections.indicators_section(snapshot.indicators),
        memory=prompt_sections.memory_sections(snapshot.memory),
    )
    system = system_prompt(PromptId.META, PROMPT_VERSION, ROLE, INSTRUCTIONS_V1, MetaAnswer)
    return SystemMessage(system), HumanMessage(text)


def build_request(
    messages: Sequence[BaseMessage], cap_usd: float, seat: str | None = None
) -> LLMRequest:
    """The meta call, or with `seat` a council seat's vote asked of that model (task `council`,
    so the seats' calls and dollars are a line of their own in the ledger)."""
    return LLMRequest(
        task=Task.META_ORCHESTRATOR if seat is None else Task.COUNCIL,
        messages=messages,
        complexity=Complexity.COMPLEX,
        response_schema=MetaAnswer,
        template_version=f"{PromptId.META}/{PROMPT_VERSION}",
        models=None if seat is None else (seat,),
        max_cost_usd=cap_usd,
    )


def _council_answer(
    gateway: CompletionGateway,
    council: Council,
    messages: Sequence[BaseMessage],
    cap_usd: float,
) -> tuple[MetaAnswer, StateUpdate, list[CouncilVote]]:
    """Every seat votes in parallel, each under an equal share of the remaining cap; the
    council's answer, the calls' update, and each seat's ballot."""
    seat_cap = cap_usd / len(council.models)
    with ThreadPoolExecutor(max_workers=len(council.models)) as pool:
        results = list(
            pool.map(
                lambda model: ask_model(
                    gateway,
                    build_request(messages, seat_cap, model),
                    MetaAnswer,
                    f"{NODE}:{model}",
                ),
                council.models,
            )
        )
    ballots = [answer for answer, _ in results]
    votes = [
        CouncilVote(model=model)
        if ballot is None
        else CouncilVote(
            model=model, action=ballot.action, size=ballot.size, confidence=ballot.confidence
        )
        for model, ballot in zip(council.models, ballots, strict=True)
    ]
    answer = council_vote(council, ballots)
    return answer, merge_updates(*(update for _, update in results)), votes


def meta_orchestrator(
    state: AnalystState,
    *,
    gateway: CompletionGateway,
    cost_cap_usd: float,
    council: Council | None = None,
) -> StateUpdate:
    snapshot = state["snapshot"]
    signals = sorted(state["signals"], key=lambda s: s.analyst)
    spent = sum(state["costs"])
    remaining = max(0.0, cost_cap_usd - spent)
    source: DecisionSource
    answer: MetaAnswer | None
    votes: list[CouncilVote] = []
    if not signals:
        answer, update, source = None, StateUpdate(), "fallback"
    else:
        messages = build_messages(snapshot, signals, [*state["errors"], *state["skipped"]])
        if council is not None:
            answer, update, votes = _council_answer(gateway, council, messages, remaining)
            source = "council"
        else:
            answer, update = ask_model(
                gateway, build_request(messages, remaining), MetaAnswer, NODE
            )
            source = "meta"
    if answer is None:
        answer, source = combine_signals(signals, source="fallback"), "fallback"
    models = sorted({*state["models"], *update.get("models", [])})  # parallel order is arbitrary
    cost = spent + sum(update.get("costs", []))
    decision = answer.to_decision(models=models, cost_usd=cost)
    decision = decision.model_copy(update={"council_votes": votes})
    return {**update, "decision": decision, "decided_by": source}
