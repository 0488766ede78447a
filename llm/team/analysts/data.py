"""Data analyst: order flow, volume spikes, block trades and micro-patterns.

It reads the trade tape when the snapshot has one and falls back to the bars otherwise. It is the
high-volume task, so the gateway sends it to the small, cheap model.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llm.gateway import Complexity, LLMRequest, Task
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, analyse, market_header, skip, system_prompt
from llm.team.prompt_sections import PromptId
from llm.team.schemas import DataAnswer
from llm.team.snapshot import MarketSnapshot
from llm.team.state import AnalystState, StateUpdate

NODE = "data"
PROMPT_VERSION = "v1"

ROLE = "You are the market-microstructure analyst of a trading desk."
INSTRUCTIONS_V1 = (
    "Measure the order-flow imbalance (buy minus sell volume over total, in [-1, 1]), volume "
    "spikes, block trades and micro-patterns (sweeps, absorption, distribution). Use the trades "
    "when they are given; with bars only, estimate order flow from bar direction and volume and "
    "report 0 block trades. Then rate the outlook for the next bars."
)
HUMAN_TEMPLATE_V1 = """{header}
{source_note}

{tape}"""


def build_request(snapshot: MarketSnapshot, *, cap_usd: float) -> LLMRequest:
    if snapshot.trades:
        note = f"{len(snapshot.trades)} trades (oldest first) follow."
        tape = prompt_sections.trades_section(snapshot.trades)
    else:
        note = "No trade data is available; only bars follow."
        tape = prompt_sections.bars_section(snapshot.bars)
    text = HUMAN_TEMPLATE_V1.format(header=market_header(snapshot), source_note=note, tape=tape)
    system = system_prompt(PromptId.DATA, PROMPT_VERSION, ROLE, INSTRUCTIONS_V1, DataAnswer)
    return LLMRequest(
        task=Task.DATA_PROCESSOR,
        messages=(SystemMessage(system), HumanMessage(text)),
        complexity=Complexity.SIMPLE,
        response_schema=DataAnswer,
        template_version=f"{PromptId.DATA}/{PROMPT_VERSION}",
        high_volume=True,
        max_cost_usd=cap_usd,
    )


def data_analyst(state: AnalystState, *, gateway: CompletionGateway, cap_usd: float) -> StateUpdate:
    snapshot = state["snapshot"]
    if not snapshot.trades and not snapshot.bars:
        return skip(NODE, "no trades and no bars")
    return analyse(gateway, build_request(snapshot, cap_usd=cap_usd), DataAnswer, NODE)
