"""Chart analyst: a vision model reads a candlestick chart of the snapshot.

The same bars also go in as a table, so a model (or the offline analyst, which cannot see images)
can check what it reads off the picture against the numbers.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llm.gateway import Complexity, LLMRequest, Task
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, analyse, market_header, skip, system_prompt
from llm.team.analysts.candlesticks import image_block, render_candlestick_png
from llm.team.prompt_sections import PromptId
from llm.team.schemas import ChartAnswer
from llm.team.snapshot import MarketSnapshot
from llm.team.state import AnalystState, StateUpdate

NODE = "chart"
PROMPT_VERSION = "v1"
MIN_BARS = 2

ROLE = "You are the chart analyst of a trading desk."
INSTRUCTIONS_V1 = (
    "Read the candlestick chart (candles, volume panel, 10- and 30-bar moving averages) and the "
    "same bars in the table. Identify support and resistance levels, chart patterns, the trend "
    "and candlestick signals of the last bars, then rate the outlook for the next bars."
)
HUMAN_TEMPLATE_V1 = """{header}
{image_note}

{bars}

{indicators}"""


def build_request(snapshot: MarketSnapshot, *, with_image: bool, cap_usd: float) -> LLMRequest:
    text = HUMAN_TEMPLATE_V1.format(
        header=market_header(snapshot),
        image_note=(
            "The attached image is the candlestick chart of these bars."
            if with_image
            else "No image is attached; read the chart from the table."
        ),
        bars=prompt_sections.bars_section(snapshot.bars),
        indicators=prompt_sections.indicators_section(snapshot.indicators),
    )
    content: list[str | dict[str, object]] = [{"type": "text", "text": text}]
    if with_image:
        png = render_candlestick_png(snapshot.bars, title=snapshot.symbol)
        content.append(image_block(png))
    system = system_prompt(PromptId.CHART, PROMPT_VERSION, ROLE, INSTRUCTIONS_V1, ChartAnswer)
    return LLMRequest(
        task=Task.CHART_ANALYSIS,
        messages=(SystemMessage(system), HumanMessage(content=content)),
        complexity=Complexity.MEDIUM,
        response_schema=ChartAnswer,
        template_version=f"{PromptId.CHART}/{PROMPT_VERSION}",
        max_cost_usd=cap_usd,
    )


def chart_analyst(
    state: AnalystState, *, gateway: CompletionGateway, cap_usd: float, with_image: bool
) -> StateUpdate:
    snapshot = state["snapshot"]
    if len(snapshot.bars) < MIN_BARS:
        return skip(
            NODE, f"needs at least {MIN_BARS} bars to draw a chart, has {len(snapshot.bars)}"
        )
    request = build_request(snapshot, with_image=with_image, cap_usd=cap_usd)
    return analyse(gateway, request, ChartAnswer, NODE)
