"""Reflection: when a trade closes, a cheap model writes the lesson it teaches (`Lesson`).

The caller hands over the trade's record (its context at entry and its outcome) as plain JSON
values; the prompt shows them in one `## Closed trade` block, which the offline analyst reads back.
A call that fails gives no lesson: nothing is made up in its place (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from langchain_core.messages import HumanMessage, SystemMessage

from llm.gateway import Complexity, LLMRequest, Task
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, ask_model, system_prompt
from llm.team.prompt_sections import PromptId
from llm.team.schemas import Lesson

NODE = "reflection"
PROMPT_VERSION = "v1"

ROLE = "You are the trading desk's coach."
INSTRUCTIONS_V1 = (
    "A trade has just closed; its record follows: the situation at entry (regime, each source's "
    "vote, the weights, the size) and the outcome (net return after costs, bars held, worst and "
    "best excursion). Write one lesson: the situation, what was decided and why, what happened, "
    "and what to do next time in a situation like it. Be concrete and brief."
)
HUMAN_TEMPLATE_V1 = """Symbol {symbol}.

{trade}"""


def build_request(symbol: str, trade: Mapping[str, object], cap_usd: float | None) -> LLMRequest:
    text = HUMAN_TEMPLATE_V1.format(
        symbol=symbol,
        trade=prompt_sections.section(
            prompt_sections.TRADE, "json", json.dumps(dict(trade), sort_keys=True)
        ),
    )
    system = system_prompt(PromptId.REFLECTION, PROMPT_VERSION, ROLE, INSTRUCTIONS_V1, Lesson)
    return LLMRequest(
        task=Task.REFLECTION,
        messages=(SystemMessage(system), HumanMessage(text)),
        complexity=Complexity.SIMPLE,
        response_schema=Lesson,
        template_version=f"{PromptId.REFLECTION}/{PROMPT_VERSION}",
        max_cost_usd=cap_usd,
    )


def reflect(
    gateway: CompletionGateway,
    symbol: str,
    trade: Mapping[str, object],
    *,
    cap_usd: float | None = None,
) -> Lesson | None:
    """The lesson of the closed `trade` (JSON values), or None when the call failed or was
    skipped (the ledger has it); a gateway that is down stops the run, as for the analysts."""
    lesson, _ = ask_model(gateway, build_request(symbol, trade, cap_usd), Lesson, NODE)
    return lesson


def situation_text(regime: str, drl_signal: float, llm_signal: float) -> str:
    """The current situation in the words lessons use: the query that retrieves the lessons
    that apply (embedded like the lessons)."""
    votes = "agreed" if drl_signal * llm_signal > 0.0 else "disagreed"
    return (
        f"{regime} regime, DRL vote {drl_signal:+.2f}, LLM vote {llm_signal:+.2f}:"
        f" DRL and LLM {votes}."
    )
