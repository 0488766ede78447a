"""Prompt sections are written and read back by one module: numbers survive, text stays whole."""

from __future__ import annotations

from datetime import datetime

import pytest

from llm import AccountView
from llm.team import prompt_sections
from llm.team.prompt_sections import BarRow, PromptId, TradeRow
from llm.team.snapshot import Bar, Trade

T = datetime(2024, 1, 2, 16, 0)


def test_bars_round_trip_with_ten_significant_digits() -> None:
    bars = (Bar(T, 101.123456789, 102.5, 100.0, 101.987654321, 1_234_567.0),)
    body = prompt_sections.find_sections(prompt_sections.bars_section(bars))[prompt_sections.BARS]
    assert body.splitlines()[0] == "time,open,high,low,close,volume"
    assert prompt_sections.read_bars(body) == (
        BarRow("2024-01-02T16:00:00", 101.1234568, 102.5, 100.0, 101.9876543, 1234567.0),
    )


def test_trades_portfolio_and_indicators_round_trip() -> None:
    text = "\n\n".join(
        [
            prompt_sections.trades_section([Trade(T, 10.5, 200.0, "buy"), Trade(T, 10.4, 50.0)]),
            prompt_sections.portfolio_section(AccountView(0.25, 5_000.0, 10_000.0, -120.0)),
            prompt_sections.indicators_section({"rsi_14": 55.5, "atr_14": 1.25}),
        ]
    )
    sections = prompt_sections.find_sections(text)
    assert prompt_sections.read_trades(sections[prompt_sections.TRADES]) == [
        TradeRow("2024-01-02T16:00:00", 10.5, 200.0, "buy"),
        TradeRow("2024-01-02T16:00:00", 10.4, 50.0, None),
    ]
    assert prompt_sections.read_portfolio(sections[prompt_sections.PORTFOLIO]) == AccountView(
        0.25, 5_000.0, 10_000.0, -120.0
    )
    assert prompt_sections.read_indicators(sections[prompt_sections.INDICATORS]) == {
        "atr_14": 1.25,
        "rsi_14": 55.5,
    }


def test_news_with_markdown_and_fences_stays_one_section() -> None:
    news = "Q3 results\n## Outlook\nGuidance raised.\n```\ncode\n```\nEnd."
    text = (
        "Header line\n\n"
        + prompt_sections.news_section(news)
        + "\n\n"
        + prompt_sections.indicators_section({})
    )
    sections = prompt_sections.find_sections(text)
    assert sections[prompt_sections.NEWS] == news.replace("```", "'''")
    assert sections[prompt_sections.INDICATORS] == "name,value"


def test_empty_body_and_stray_hashes_are_handled() -> None:
    text = "a ## b\n## Empty\n```csv\n\n```\n## Not fenced\nplain\n"
    assert prompt_sections.find_sections(text) == {"Empty": ""}


@pytest.mark.parametrize("prompt_id", list(PromptId))
def test_prompt_tag_round_trip(prompt_id: PromptId) -> None:
    text = f"You are an analyst {prompt_sections.prompt_tag(prompt_id, 'v3')}.\nMore."
    assert prompt_sections.read_prompt_tag(text) == (prompt_id.value, "v3")
    assert prompt_sections.read_prompt_tag("no tag here") is None
