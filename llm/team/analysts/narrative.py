"""Narrative analyst: the market regime and the story behind it, from prices and any news.

A prompt estimated above the long-document threshold (a filing, a long news feed) goes to the
DOCUMENT_ANALYSIS task, which the model stack maps to a long-context model.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llm.gateway import Complexity, LLMRequest, Task, estimate_prompt_tokens
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, analyse, market_header, skip, system_prompt
from llm.team.prompt_sections import PromptId
from llm.team.schemas import NarrativeAnswer
from llm.team.snapshot import MarketSnapshot
from llm.team.state import AnalystState, StateUpdate

NODE = "narrative"
PROMPT_VERSION = "v1"
LONG_DOCUMENT_TOKENS = 32_000

ROLE = "You are the market-narrative analyst of a trading desk."
INSTRUCTIONS_V1 = (
    "Classify the market regime as bull, bear, ranging or volatile from the bars and indicators, "
    "name the main drivers and risks, and read the news or filing text when there is some. "
    "Then rate the outlook for the next bars."
)
HUMAN_TEMPLATE_V1 = """{header}

{bars}

{indicators}

{news}{memory}"""


def build_request(
    snapshot: MarketSnapshot, *, cap_usd: float, long_document_tokens: int
) -> LLMRequest:
    text = HUMAN_TEMPLATE_V1.format(
        header=market_header(snapshot),
        bars=prompt_sections.bars_section(snapshot.bars),
        indicators=prompt_sections.indicators_section(snapshot.indicators),
        news=prompt_sections.news_section(snapshot.news or "") if snapshot.has_news else "No news.",
        memory=prompt_sections.memory_sections(snapshot.memory),
    )
    system = system_prompt(
        PromptId.NARRATIVE, PROMPT_VERSION, ROLE, INSTRUCTIONS_V1, NarrativeAnswer
    )
    messages = (SystemMessage(system), HumanMessage(text))
    long_document = estimate_prompt_tokens(messages) > long_document_tokens
    return LLMRequest(
        task=Task.DOCUMENT_ANALYSIS if long_document else Task.NARRATIVE_ANALYSIS,
        messages=messages,
        complexity=Complexity.MEDIUM,
        response_schema=NarrativeAnswer,
        template_version=f"{PromptId.NARRATIVE}/{PROMPT_VERSION}",
        max_cost_usd=cap_usd,
    )


def narrative_analyst(
    state: AnalystState,
    *,
    gateway: CompletionGateway,
    cap_usd: float,
    long_document_tokens: int = LONG_DOCUMENT_TOKENS,
) -> StateUpdate:
    snapshot = state["snapshot"]
    if not snapshot.bars and not snapshot.has_news:
        return skip(NODE, "no bars and no news to read")
    request = build_request(snapshot, cap_usd=cap_usd, long_document_tokens=long_document_tokens)
    return analyse(gateway, request, NarrativeAnswer, NODE)
