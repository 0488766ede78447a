"""The offline analyst's rules: answers computed from the numbers written in a prompt.

Each rule reads the prompt's sections (see `prompt_sections`) and nothing else, so the offline
analyst sees exactly what a paid model would see. The rules are plain trend, momentum, volatility
and volume heuristics, deterministic, and fast enough to run at every bar of a backtest.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence

from llm.gateway import LLMError
from llm.team import prompt_sections
from llm.team.analysts.execution import ORDER_SECTION, ExecutionAnswer
from llm.team.consensus import combine_signals, population_std
from llm.team.prompt_sections import BarRow, PromptId, TradeRow
from llm.team.schemas import (
    Action,
    AgentSignal,
    ChartAnswer,
    DataAnswer,
    Lesson,
    MetaAnswer,
    NarrativeAnswer,
    Regime,
    RiskLevel,
)

FAST_WINDOW = 10
SLOW_WINDOW = 30
LEVEL_WINDOW = 20
VOLUME_SPIKE_RATIO = 2.0
BLOCK_TRADE_MEDIANS = 10.0
LOSS_ALERT_FRACTION = 0.05
MEMORY_MIN_TRADES = 3  # similar trades on one side before the memory sizes a decision down

_POSITIVE_LEXICON = (
    "beat beats upgrade upgraded growth record surge surges rally strong bullish raise "
    "raised outperform profit profits gain gains expansion approval"
)
_NEGATIVE_LEXICON = (
    "miss misses downgrade downgraded decline declines loss losses lawsuit recall weak "
    "bearish cut cuts underperform default fraud probe slump plunge warning"
)
_POSITIVE_WORDS = frozenset(_POSITIVE_LEXICON.split())
_NEGATIVE_WORDS = frozenset(_NEGATIVE_LEXICON.split())
_WORD = re.compile(r"[a-z]+")

Answer = ChartAnswer | NarrativeAnswer | DataAnswer | MetaAnswer | ExecutionAnswer | Lesson
Rule = Callable[[Mapping[str, str]], Answer]


class OfflineRuleError(LLMError):
    """The prompt is not one the offline analyst can answer (unknown tag or missing section)."""


def _clip(value: float, bound: float = 1.0) -> float:
    return max(-bound, min(bound, value))


def _section(sections: Mapping[str, str], title: str) -> str:
    try:
        return sections[title]
    except KeyError:
        raise OfflineRuleError(f"prompt has no '## {title}' section") from None


def _log_returns(closes: Sequence[float]) -> list[float]:
    return [math.log(b / a) for a, b in itertools.pairwise(closes)]


def _volatility(returns: Sequence[float]) -> float:
    """Per-bar standard deviation of log returns, floored so ratios stay finite."""
    return max(population_std(returns), 1e-6) if len(returns) > 1 else 1e-2


def _mean_last(values: Sequence[float], n: int) -> float:
    return statistics.fmean(values[-n:])


def _candlestick_signals(previous: BarRow, last: BarRow) -> list[tuple[str, float]]:
    """Classic two-candle and one-candle signals on the last bar, with a signed weight."""
    found: list[tuple[str, float]] = []
    body = last.close - last.open
    span = max(last.high - last.low, 1e-12)
    upper_wick = last.high - max(last.open, last.close)
    lower_wick = min(last.open, last.close) - last.low
    previous_body = previous.close - previous.open
    if abs(body) <= 0.1 * span:
        found.append(("doji (indecision)", 0.0))
    elif body > 0 > previous_body and last.close >= previous.open and last.open <= previous.close:
        found.append(("bullish engulfing", 0.3))
    elif body < 0 < previous_body and last.close <= previous.open and last.open >= previous.close:
        found.append(("bearish engulfing", -0.3))
    if lower_wick >= 2 * abs(body) and upper_wick <= 0.25 * span and abs(body) > 0.1 * span:
        found.append(("hammer", 0.2))
    if upper_wick >= 2 * abs(body) and lower_wick <= 0.25 * span and abs(body) > 0.1 * span:
        found.append(("shooting star", -0.2))
    return found


def _structure_patterns(bars: Sequence[BarRow]) -> list[tuple[str, float]]:
    """Higher highs / lower lows and breakouts against the previous 20-bar range."""
    found: list[tuple[str, float]] = []
    if len(bars) >= 2 * FAST_WINDOW:
        recent, prior = bars[-FAST_WINDOW:], bars[-2 * FAST_WINDOW : -FAST_WINDOW]
        recent_high, prior_high = max(b.high for b in recent), max(b.high for b in prior)
        recent_low, prior_low = min(b.low for b in recent), min(b.low for b in prior)
        if recent_high > prior_high and recent_low > prior_low:
            found.append(("higher highs and higher lows", 0.2))
        elif recent_high < prior_high and recent_low < prior_low:
            found.append(("lower highs and lower lows", -0.2))
    if len(bars) > LEVEL_WINDOW:
        window = bars[-LEVEL_WINDOW - 1 : -1]
        if bars[-1].close > max(b.high for b in window):
            found.append((f"breakout above {LEVEL_WINDOW}-bar resistance", 0.3))
        elif bars[-1].close < min(b.low for b in window):
            found.append((f"breakdown below {LEVEL_WINDOW}-bar support", -0.3))
    return found


def chart_rule(sections: Mapping[str, str]) -> ChartAnswer:
    """Trend (fast vs slow average), momentum and chart patterns, in units of volatility."""
    bars = prompt_sections.read_bars(_section(sections, prompt_sections.BARS))
    if len(bars) < 3:
        return ChartAnswer(
            signal=0.0,
            confidence=0.05,
            reasoning=f"only {len(bars)} bars: too few to read a chart",
            trend="sideways",
        )
    closes = [b.close for b in bars]
    volatility = _volatility(_log_returns(closes))
    lookback = min(FAST_WINDOW, len(closes) - 1)
    average_gap = _mean_last(closes, FAST_WINDOW) / _mean_last(closes, SLOW_WINDOW) - 1.0
    trend_z = average_gap / (volatility * math.sqrt(FAST_WINDOW))
    momentum_z = math.log(closes[-1] / closes[-1 - lookback]) / (volatility * math.sqrt(lookback))
    patterns = _structure_patterns(bars)
    candles = _candlestick_signals(bars[-2], bars[-1])
    raw = 0.5 * trend_z + 0.5 * momentum_z + sum(weight for _, weight in patterns + candles)
    signal = math.tanh(raw / 2.0)
    history = min(len(bars), SLOW_WINDOW) / SLOW_WINDOW
    levels = bars[-LEVEL_WINDOW:]
    return ChartAnswer(
        signal=round(signal, 4),
        confidence=round(min(0.9, (0.3 + 0.5 * abs(signal)) * history), 4),
        reasoning=(
            f"{FAST_WINDOW}/{SLOW_WINDOW}-bar average gap {average_gap:+.2%} "
            f"({trend_z:+.2f} vol units), {lookback}-bar momentum {momentum_z:+.2f} vol units, "
            f"per-bar volatility {volatility:.2%}"
        ),
        trend="up" if signal > 0.2 else "down" if signal < -0.2 else "sideways",
        support=min(b.low for b in levels),
        resistance=max(b.high for b in levels),
        patterns=[name for name, _ in patterns],
        candlestick_signals=[name for name, _ in candles],
    )


def _news_tone(news: str) -> tuple[float, list[str]]:
    """Lexicon tone in [-1, 1] and the words that set it."""
    words = _WORD.findall(news.lower())
    positive = sorted({w for w in words if w in _POSITIVE_WORDS})
    negative = sorted({w for w in words if w in _NEGATIVE_WORDS})
    hits = sum(w in _POSITIVE_WORDS for w in words) - sum(w in _NEGATIVE_WORDS for w in words)
    total = sum(w in _POSITIVE_WORDS or w in _NEGATIVE_WORDS for w in words)
    return (hits / total if total else 0.0), positive + [f"-{w}" for w in negative]


def narrative_rule(sections: Mapping[str, str]) -> NarrativeAnswer:
    """Regime from the window's drift and volatility; news tone nudges the signal."""
    bars = prompt_sections.read_bars(_section(sections, prompt_sections.BARS))
    indicators = prompt_sections.read_indicators(
        sections.get(prompt_sections.INDICATORS, "name,value")
    )
    closes = [b.close for b in bars]
    returns = _log_returns(closes)
    if len(returns) < 2:
        return NarrativeAnswer(
            signal=0.0,
            confidence=0.05,
            reasoning="too few bars to judge a regime",
            regime="ranging",
            risks=["not enough history"],
        )
    volatility = _volatility(returns)
    drift = math.log(closes[-1] / closes[0])
    drift_z = drift / (volatility * math.sqrt(len(returns)))
    volatility_ratio = _volatility(returns[-FAST_WINDOW:]) / volatility
    drawdown = closes[-1] / max(closes) - 1.0
    regime: Regime
    if volatility_ratio > 1.5:
        regime = "volatile"
    elif drift_z > 1.0:
        regime = "bull"
    elif drift_z < -1.0:
        regime = "bear"
    else:
        regime = "ranging"
    signal = math.tanh(drift_z / 2.0) * (0.5 if regime == "volatile" else 1.0)
    drivers = [f"{len(returns)}-bar return {math.expm1(drift):+.2%} ({drift_z:+.2f} vol units)"]
    news = sections.get(prompt_sections.NEWS, "").strip()
    if news:
        tone, words = _news_tone(news)
        signal = 0.7 * signal + 0.3 * tone
        drivers.append(f"news tone {tone:+.2f} ({', '.join(words) or 'no rated words'})")
    risks = []
    if volatility_ratio > 1.2:
        risks.append(f"volatility rising ({volatility_ratio:.1f}x the window's)")
    if drawdown < -0.05:
        risks.append(f"{drawdown:.1%} below the window high")
    rsi = indicators.get("rsi_14")
    if rsi is not None and rsi > 70:
        risks.append(f"RSI {rsi:.0f}: overbought")
    if rsi is not None and rsi < 30:
        risks.append(f"RSI {rsi:.0f}: oversold")
    if regime == "ranging":
        risks.append("no clear trend")
    confidence = 0.3 + 0.4 * min(1.0, abs(drift_z) / 2.0) + (0.1 if news else 0.0)
    return NarrativeAnswer(
        signal=round(_clip(signal), 4),
        confidence=round(min(0.85, confidence), 4),
        reasoning=(
            f"{regime} regime: drift {drift_z:+.2f} vol units, vol ratio {volatility_ratio:.2f}"
        ),
        regime=regime,
        drivers=drivers,
        risks=risks,
    )


def _signed_trade_volume(trades: Sequence[TradeRow]) -> tuple[float, float]:
    """Buy and sell volume; prints without a side are signed by the tick test."""
    buy = sell = 0.0
    last_direction = 0
    for previous_price, trade in zip(
        [trades[0].price, *(t.price for t in trades[:-1])], trades, strict=True
    ):
        if trade.price != previous_price:
            last_direction = 1 if trade.price > previous_price else -1
        side = trade.side or ("buy" if last_direction > 0 else "sell" if last_direction < 0 else "")
        if side == "buy":
            buy += trade.size
        elif side == "sell":
            sell += trade.size
    return buy, sell


def _data_from_trades(trades: Sequence[TradeRow]) -> DataAnswer:
    buy, sell = _signed_trade_volume(trades)
    imbalance = (buy - sell) / (buy + sell) if buy + sell else 0.0
    sizes = [t.size for t in trades]
    median_size = statistics.median(sizes)
    blocks_seen = sum(size >= BLOCK_TRADE_MEDIANS * median_size for size in sizes)
    tail = max(1, len(trades) // 5)
    tail_rate = sum(sizes[-tail:]) / tail
    body_rate = statistics.fmean(sizes[:-tail]) if len(sizes) > tail else tail_rate
    spike = tail_rate > VOLUME_SPIKE_RATIO * body_rate
    patterns = []
    last_five = trades[-5:]
    rising = all(b.price >= a.price for a, b in itertools.pairwise(last_five))
    falling = all(b.price <= a.price for a, b in itertools.pairwise(last_five))
    if len(last_five) == 5 and all(t.side == "buy" for t in last_five) and rising:
        patterns.append("buy sweep: last 5 prints are buys at rising prices")
    if len(last_five) == 5 and all(t.side == "sell" for t in last_five) and falling:
        patterns.append("sell sweep: last 5 prints are sells at falling prices")
    price_change = trades[-1].price / trades[0].price - 1.0
    if imbalance < -0.2 and price_change > 0:
        patterns.append("price rising against selling (absorption)")
    if imbalance > 0.2 and price_change < 0:
        patterns.append("price falling against buying (distribution)")
    depth = min(1.0, len(trades) / 50)
    confidence = (0.3 + 0.4 * abs(imbalance) + (0.1 if blocks_seen else 0.0)) * depth
    return DataAnswer(
        signal=round(_clip(0.8 * imbalance + 0.2 * math.tanh(100 * price_change)), 4),
        confidence=round(min(0.85, max(0.05, confidence)), 4),
        reasoning=(
            f"{len(trades)} trades: buy {buy:.6g} vs sell {sell:.6g} "
            f"(imbalance {imbalance:+.2f}), {blocks_seen} block trades"
        ),
        order_flow_imbalance=round(_clip(imbalance), 4),
        volume_spike=spike,
        block_trades=blocks_seen,
        micro_patterns=patterns,
    )


def _data_from_bars(bars: Sequence[BarRow]) -> DataAnswer:
    window = bars[-LEVEL_WINDOW:]
    total_volume = sum(b.volume for b in window)
    signed = sum(math.copysign(b.volume, b.close - b.open) for b in window if b.close != b.open)
    imbalance = signed / total_volume if total_volume else 0.0
    previous_volumes = [b.volume for b in bars[-LEVEL_WINDOW - 1 : -1]]
    last = bars[-1]
    spike = bool(previous_volumes) and last.volume > VOLUME_SPIKE_RATIO * statistics.fmean(
        previous_volumes
    )
    patterns = ["no trade data: order flow estimated from bar direction and volume"]
    spike_direction = 0.0
    if spike:
        spike_direction = 1.0 if last.close > last.open else -1.0 if last.close < last.open else 0
        kind = {1.0: "up", -1.0: "down"}.get(spike_direction, "flat")
        patterns.append(f"volume spike on a {kind} bar")
    if len(bars) >= 4:
        tail = bars[-4:]
        pairs = list(itertools.pairwise(tail))
        if all(b.close > a.close and b.volume > a.volume for a, b in pairs):
            patterns.append("3 rising closes on rising volume")
        if all(b.close < a.close and b.volume > a.volume for a, b in pairs):
            patterns.append("3 falling closes on rising volume")
    return DataAnswer(
        signal=round(_clip(0.7 * imbalance + 0.3 * spike_direction), 4),
        confidence=round(min(0.6, 0.25 + 0.4 * abs(imbalance)), 4),
        reasoning=(
            f"{len(window)} bars: volume-signed direction {imbalance:+.2f}, "
            f"last volume spike {'yes' if spike else 'no'}"
        ),
        order_flow_imbalance=round(_clip(imbalance), 4),
        volume_spike=spike,
        block_trades=0,
        micro_patterns=patterns,
    )


def data_rule(sections: Mapping[str, str]) -> DataAnswer:
    """Order flow from the trades when the prompt has them, else from the bars."""
    if prompt_sections.TRADES in sections:
        trades = prompt_sections.read_trades(sections[prompt_sections.TRADES])
        if trades:
            return _data_from_trades(trades)
    bars = prompt_sections.read_bars(_section(sections, prompt_sections.BARS))
    if not bars:
        raise OfflineRuleError("data prompt has neither trades nor bars")
    return _data_from_bars(bars)


def meta_rule(sections: Mapping[str, str]) -> MetaAnswer:
    """The confidence-weighted vote of the signals, sized down when the book is losing, and
    again when the trade memory shows that trades on the same side in similar situations lost."""
    signals = [
        AgentSignal.model_validate(raw)
        for raw in prompt_sections.read_signals(_section(sections, prompt_sections.SIGNALS))
    ]
    portfolio = prompt_sections.read_portfolio(_section(sections, prompt_sections.PORTFOLIO))
    answer = combine_signals(signals, source="offline meta")
    if portfolio.unrealized_pnl < -LOSS_ALERT_FRACTION * portfolio.equity:
        answer = _halved(answer, "book is losing")
    memory = sections.get(prompt_sections.MEMORY)
    if memory is not None and answer.action is not Action.HOLD:
        side = "long" if answer.action is Action.BUY else "short"
        same_side = [
            float(str(t["net_return"]))
            for t in prompt_sections.read_memory(memory)
            if t["side"] == side
        ]
        if len(same_side) >= MEMORY_MIN_TRADES and statistics.fmean(same_side) < 0.0:
            answer = _halved(
                answer,
                f"{len(same_side)} similar {side} trades lost"
                f" {statistics.fmean(same_side):+.2%} on average",
            )
    return answer


def _halved(answer: MetaAnswer, why: str) -> MetaAnswer:
    return answer.model_copy(
        update={
            "size": round(answer.size / 2, 4),
            "risk_level": RiskLevel.HIGH,
            "reasoning": f"{answer.reasoning}; {why}, size halved",
        }
    )


MAX_ORDER_FRACTION = 1.0
TREND_WINDOW = 20
STRONG_TREND_Z = 2.0
_NO_CHANGE = 1e-9


def trend_z(closes: list[float], window: int = TREND_WINDOW) -> float:
    """The last `window` bars' log return in units of its volatility (0 with under 3 closes)."""
    closes = closes[-window - 1 :]
    if len(closes) < 3:
        return 0.0
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    volatility = max(population_std(returns), 1e-6)
    return math.log(closes[-1] / closes[0]) / (volatility * math.sqrt(len(returns)))


def execution_rule(sections: Mapping[str, str]) -> ExecutionAnswer:
    """CONFIRM or VETO the order in `sections`.

    - confirms every order that only reduces risk (a smaller |position|, same side);
    - vetoes an order that adds risk and whose notional exceeds `MAX_ORDER_FRACTION` of equity
      (1.0: more than the whole account in one order only happens when a position flips from
      short to long or back, which deserves two decisions rather than one);
    - vetoes an order that adds risk (a larger |position| or a flip) against a strong trend: the
      `TREND_WINDOW`-bar log return is at least `STRONG_TREND_Z` volatility units the other way
      (2.0: a move that strong happens by chance in about 1 window in 20);
    - confirms everything else.
    """
    try:
        order = json.loads(sections[ORDER_SECTION])
        bars = prompt_sections.read_bars(sections[prompt_sections.BARS])
        fraction = float(order["notional_fraction_of_equity"])
        current = float(order["current_position"])
        target = float(order["target_position"])
    except (KeyError, ValueError, TypeError) as exc:
        raise OfflineRuleError(f"trade-execution prompt lacks a usable order: {exc!r}") from None
    adds_risk = abs(target) > abs(current) + _NO_CHANGE or target * current < 0.0
    z = trend_z([bar.close for bar in bars])
    if not adds_risk:
        return ExecutionAnswer(
            verdict="CONFIRM",
            reason=f"order reduces risk; {TREND_WINDOW}-bar trend {z:+.2f} vol units",
        )
    if fraction > MAX_ORDER_FRACTION:
        return ExecutionAnswer(
            verdict="VETO",
            reason=f"order of {fraction:.2f}x equity exceeds the {MAX_ORDER_FRACTION:.2f}x limit",
        )
    direction = 1.0 if target > current else -1.0
    if direction * z <= -STRONG_TREND_Z:
        side = "buying" if direction > 0 else "selling"
        return ExecutionAnswer(
            verdict="VETO",
            reason=f"{side} adds risk against a strong trend: {TREND_WINDOW}-bar move of"
            f" {z:+.2f} volatility units",
        )
    return ExecutionAnswer(
        verdict="CONFIRM",
        reason=f"order adds risk with the trend or in none; {fraction:.2f}x equity;"
        f" {TREND_WINDOW}-bar trend {z:+.2f} vol units",
    )


def reflection_rule(sections: Mapping[str, str]) -> Lesson:
    """A lesson from the closed trade's record: what was held in which regime on whose vote, how
    it ended, and whether to repeat it (it made money after costs) or trade it smaller (it lost;
    with the adverse excursion that said so, when it went deep against the position)."""
    try:
        trade = json.loads(_section(sections, prompt_sections.TRADE))
        side, regime = str(trade["side"]), str(trade["regime"])
        drl, llm = float(trade["drl_signal"]), float(trade["llm_signal"])
        net, worst = float(trade["net_return"]), float(trade["worst_excursion"])
        bars, size = int(trade["bars_held"]), float(trade["size"])
    except (KeyError, ValueError, TypeError) as exc:
        raise OfflineRuleError(f"reflection prompt lacks a usable trade: {exc!r}") from None
    agreed = drl * llm > 0.0
    votes = "DRL and LLM agreed" if agreed else "DRL and LLM disagreed"
    if net > 0.0:
        next_time = f"repeat: go {side} in a {regime} regime when {votes.lower()}"
    elif worst < 2.0 * net:
        next_time = (
            f"go {side} smaller in a {regime} regime when {votes.lower()}: it fell"
            f" {worst:+.2%} before it closed"
        )
    else:
        next_time = f"go {side} smaller in a {regime} regime when {votes.lower()}"
    return Lesson(
        situation=f"{regime} regime, DRL vote {drl:+.2f}, LLM vote {llm:+.2f}: {votes}.",
        decision=f"{side} at {size:.2f} of equity.",
        outcome=f"{net:+.2%} net over {bars} bars, worst excursion {worst:+.2%}.",
        next_time=f"{next_time}.",
    )


OFFLINE_RULES: Mapping[str, Rule] = {
    PromptId.CHART.value: chart_rule,
    PromptId.NARRATIVE.value: narrative_rule,
    PromptId.DATA.value: data_rule,
    PromptId.META.value: meta_rule,
    PromptId.EXECUTION.value: execution_rule,
    PromptId.REFLECTION.value: reflection_rule,
}


def answer_prompt(text: str, rules: Mapping[str, Rule] = OFFLINE_RULES) -> Answer:
    """The offline answer to a prompt, chosen by the prompt's `(prompt ID/VERSION)` tag."""
    tag = prompt_sections.read_prompt_tag(text)
    if tag is None:
        raise OfflineRuleError("prompt has no '(prompt ID/VERSION)' tag; cannot answer offline")
    rule = rules.get(tag[0])
    if rule is None:
        raise OfflineRuleError(f"no offline rule for prompt {tag[0]!r}; known: {sorted(rules)}")
    return rule(prompt_sections.find_sections(text))
