"""The numeric sections of every prompt, written and read back in one place.

Prompts carry the snapshot as titled sections (`## Bars` followed by a fenced CSV or JSON block).
Real models read them as text; the offline analyst parses them back with the functions here, so it
answers from exactly what a real model would see and nothing else. Writing and reading live side by
side so the format cannot drift.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

from llm.team.snapshot import AccountView, Bar, Trade, TradeMemoryView


class BarRow(NamedTuple):
    """A bar as read back from a prompt (already validated when it was written)."""

    time: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class TradeRow(NamedTuple):
    """A trade as read back from a prompt; side is None when the feed did not know it."""

    time: str
    price: float
    size: float
    side: str | None


class PromptId(StrEnum):
    """Which analyst prompt a text is; tagged into the system message as `(prompt ID/VERSION)`."""

    CHART = "chart-analyst"
    NARRATIVE = "narrative-analyst"
    DATA = "data-analyst"
    META = "meta-orchestrator"
    EXECUTION = "trade-execution"
    REFLECTION = "reflection"


BARS = "Bars"
INDICATORS = "Indicators"
TRADES = "Trades"
PORTFOLIO = "Portfolio"
SIGNALS = "Analyst signals"
NEWS = "News"
MEMORY = "Similar past trades"
LESSONS = "Lessons"
TRADE = "Closed trade"
MEMORY_PREFACE = (
    "The desk's trade memory: trades closed before now in the situations most like this one,"
    " and the lessons written when earlier trades closed. Weigh them; do not copy them."
)

_TAG = re.compile(r"\(prompt (?P<id>[a-z-]+)/(?P<version>v\d+)\)")


def _num(value: float) -> str:
    return format(value, ".10g")


def prompt_tag(prompt_id: PromptId, version: str) -> str:
    return f"(prompt {prompt_id.value}/{version})"


def read_prompt_tag(text: str) -> tuple[str, str] | None:
    """(id, version) of the first prompt tag in `text`, or None when there is none."""
    match = _TAG.search(text)
    return (match.group("id"), match.group("version")) if match else None


def section(title: str, lang: str, body: str) -> str:
    """A titled, fenced block; the body must not contain a fence of its own."""
    safe_body = body.replace("```", "'''")
    return f"## {title}\n```{lang}\n{safe_body}\n```"


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return "\n".join(lines)


@functools.lru_cache(maxsize=16)
def bars_section(bars: tuple[Bar, ...]) -> str:
    """The bars as CSV. Cached: the three analysts of one decision all send the same table."""
    rows = (
        (b.time.isoformat(), _num(b.open), _num(b.high), _num(b.low), _num(b.close), _num(b.volume))
        for b in bars
    )
    return section(BARS, "csv", _csv(("time", "open", "high", "low", "close", "volume"), rows))


def indicators_section(indicators: Mapping[str, float]) -> str:
    rows = ((name, _num(value)) for name, value in sorted(indicators.items()))
    return section(INDICATORS, "csv", _csv(("name", "value"), rows))


def trades_section(trades: Sequence[Trade]) -> str:
    rows = ((t.time.isoformat(), _num(t.price), _num(t.size), t.side or "unknown") for t in trades)
    return section(TRADES, "csv", _csv(("time", "price", "size", "side"), rows))


def portfolio_section(portfolio: AccountView) -> str:
    body = json.dumps(
        {
            "position_fraction": portfolio.position,
            "cash": portfolio.cash,
            "equity": portfolio.equity,
            "unrealized_pnl": portfolio.unrealized_pnl,
        }
    )
    return section(PORTFOLIO, "json", body)


def signals_section(signals: Sequence[Mapping[str, object]]) -> str:
    return section(SIGNALS, "json", json.dumps(list(signals), sort_keys=True))


def news_section(news: str) -> str:
    return section(NEWS, "text", news.strip())


def memory_sections(memory: TradeMemoryView | None) -> str:
    """The trade memory's two blocks (similar past trades with their win rate and mean net
    return, then the lessons), or "" without a memory: prompts without one stay as they were."""
    if memory is None:
        return ""
    summary = {
        "count": len(memory.similar),
        "win_rate": memory.win_rate,
        "mean_net_return": memory.mean_net_return,
        "trades": [
            {
                "known_at": t.known_at.isoformat(),
                "side": t.side,
                "regime": t.regime,
                "net_return": t.net_return,
                "bars_held": t.bars_held,
                "distance": t.distance,
            }
            for t in memory.similar
        ],
    }
    lessons = "\n".join(f"- {lesson.text}" for lesson in memory.lessons) or "none yet"
    memory_block = section(MEMORY, "json", json.dumps(summary, sort_keys=True))
    lessons_block = section(LESSONS, "text", lessons)
    return f"\n\n{MEMORY_PREFACE}\n{memory_block}\n\n{lessons_block}"


def find_sections(text: str) -> dict[str, str]:
    """Title -> body of every section in `text` (the last one wins if a title repeats).

    A plain scan rather than one DOTALL regex: prompts are read at every bar of a backtest.
    """
    found: dict[str, str] = {}
    position = 0
    while (start := text.find("## ", position)) >= 0:
        title_end = text.find("\n", start)
        at_line_start = start == 0 or text[start - 1] == "\n"
        if title_end < 0:
            break
        if not (at_line_start and text.startswith("```", title_end + 1)):
            position = title_end
            continue
        body_start = text.find("\n", title_end + 1) + 1
        body_end = text.find("\n```", body_start - 1)
        if body_start == 0 or body_end < 0:
            break
        found[text[start + 3 : title_end].strip()] = text[body_start:body_end]
        position = body_end + 4
    return found


def _rows(body: str) -> list[list[str]]:
    """The data rows of a CSV body written by this module (no quoting needed: plain numbers)."""
    return [line.split(",") for line in body.split("\n")[1:] if line]


@functools.lru_cache(maxsize=16)
def read_bars(body: str) -> tuple[BarRow, ...]:
    """The bars of a `## Bars` body. Cached: one decision's prompts share the same table."""
    return tuple(
        BarRow(t, float(o), float(h), float(lo), float(c), float(v))
        for t, o, h, lo, c, v in _rows(body)
    )


def read_indicators(body: str) -> dict[str, float]:
    return {name: float(value) for name, value in _rows(body)}


def read_trades(body: str) -> list[TradeRow]:
    return [
        TradeRow(time, float(price), float(size), None if side == "unknown" else side)
        for time, price, size, side in _rows(body)
    ]


def read_portfolio(body: str) -> AccountView:
    raw = json.loads(body)
    return AccountView(
        position=float(raw["position_fraction"]),
        cash=float(raw["cash"]),
        equity=float(raw["equity"]),
        unrealized_pnl=float(raw["unrealized_pnl"]),
    )


def read_signals(body: str) -> list[dict[str, object]]:
    return list(json.loads(body))


def read_memory(body: str) -> list[dict[str, object]]:
    """The similar past trades of a `## Similar past trades` body, nearest first."""
    return list(json.loads(body)["trades"])
