"""The offline analyst: deterministic, schema-valid answers read from the prompt's numbers only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from llm import AccountView, Action, AgentSignal, AnalystTeam, MarketSnapshot
from llm.gateway import parse_answer
from llm.gateway.model_stack import OFFLINE_MODEL_ID
from llm.team import prompt_sections
from llm.team.analysts import chart, data, meta, narrative
from llm.team.analysts.candlesticks import image_block
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.analysts.offline_rules import OfflineRuleError, answer_prompt, data_rule, meta_rule
from llm.team.graph import TeamConfig
from llm.team.schemas import ChartAnswer, DataAnswer, NarrativeAnswer, RiskLevel
from llm.team.snapshot import Trade
from llm.testing.in_process_gateway import InProcessGateway
from tests.llm_helpers import trend_snapshot

BULL = 0.004
BEAR = -0.004


@pytest.fixture(scope="module")
def model() -> OfflineAnalystChatModel:
    return OfflineAnalystChatModel()


def _team() -> AnalystTeam:
    return AnalystTeam(InProcessGateway(OfflineAnalystChatModel()), TeamConfig(chart_images=False))


def test_answers_are_deterministic_and_named(model: OfflineAnalystChatModel) -> None:
    request = narrative.build_request(trend_snapshot(BULL), cap_usd=1.0, long_document_tokens=10**6)
    first = model.invoke(list(request.messages))
    second = OfflineAnalystChatModel().invoke(list(request.messages))
    assert first.content == second.content
    assert first.response_metadata["model_name"] == OFFLINE_MODEL_ID
    assert first.usage_metadata is not None
    assert first.usage_metadata["input_tokens"] > 500
    assert first.response_metadata["token_usage"]["cost"] == 0.0


@pytest.mark.parametrize("drift", [BULL, BEAR, 0.0])
def test_every_analyst_answer_fits_its_schema(drift: float, model: OfflineAnalystChatModel) -> None:
    snapshot = trend_snapshot(drift, news="Record profit, analysts upgrade the stock.")
    requests = [
        chart.build_request(snapshot, with_image=False, cap_usd=1.0),
        narrative.build_request(snapshot, cap_usd=1.0, long_document_tokens=10**6),
        data.build_request(snapshot, cap_usd=1.0),
    ]
    for request, schema in zip(requests, (ChartAnswer, NarrativeAnswer, DataAnswer), strict=True):
        answer = parse_answer(str(model.invoke(list(request.messages)).content), schema)
        assert isinstance(answer, schema)


def test_bullish_market_leans_buy() -> None:
    result = _team().analyse(trend_snapshot(BULL))
    signals = {s.analyst: s for s in result.signals}
    assert signals["chart"].signal > 0.3 and "trend=up" in signals["chart"].key_features
    assert "regime=bull" in signals["narrative"].key_features
    assert result.decision.action is Action.BUY and result.decision.size > 0
    assert result.decision.models == [OFFLINE_MODEL_ID] and result.decision.cost_usd == 0.0
    assert result.decided_by == "meta" and result.errors == ()


def test_bearish_market_leans_sell() -> None:
    result = _team().analyse(trend_snapshot(BEAR))
    signals = {s.analyst: s for s in result.signals}
    assert signals["chart"].signal < -0.3 and "trend=down" in signals["chart"].key_features
    assert "regime=bear" in signals["narrative"].key_features
    assert result.decision.action is Action.SELL


def test_chart_answer_ignores_the_image_and_reads_the_table(
    model: OfflineAnalystChatModel,
) -> None:
    """The image carries nothing the offline analyst can use; the numeric table decides."""
    snapshot = trend_snapshot(BULL)
    request = chart.build_request(snapshot, with_image=False, cap_usd=1.0)
    system, human = request.messages
    text = human.content[0]
    with_picture = HumanMessage(content=[text, image_block(b"\x89PNG not really")])
    plain = model.invoke([system, human]).content
    assert model.invoke([system, with_picture]).content == plain
    bear_request = chart.build_request(trend_snapshot(BEAR), with_image=False, cap_usd=1.0)
    assert model.invoke(list(bear_request.messages)).content != plain


def test_unknown_prompt_is_a_clear_error(model: OfflineAnalystChatModel) -> None:
    with pytest.raises(OfflineRuleError, match="no '\\(prompt ID/VERSION\\)' tag"):
        model.invoke([SystemMessage("You are a poet."), HumanMessage("Write a haiku.")])
    with pytest.raises(OfflineRuleError, match="no offline rule for prompt 'poet'"):
        answer_prompt("(prompt poet/v1)")


def _trades(sides: list[str | None], sizes: list[float], prices: list[float]) -> list[Trade]:
    start = datetime(2024, 1, 2, 10, 0)
    return [
        Trade(start + timedelta(seconds=i), price, size, side)  # type: ignore[arg-type]
        for i, (side, size, price) in enumerate(zip(sides, sizes, prices, strict=True))
    ]


def test_data_rule_measures_order_flow_and_blocks() -> None:
    # 6 buys of 10 and one block buy of 200, 3 sells of 10: imbalance (260 - 30) / 290.
    sides = ["buy"] * 6 + ["sell"] * 3 + ["buy"]
    sizes = [10.0] * 9 + [200.0]
    prices = [100.0, 100.1, 100.2, 100.3, 100.4, 100.5, 100.4, 100.3, 100.2, 100.6]
    answer = data_rule(
        {
            prompt_sections.TRADES: _section_body(
                prompt_sections.trades_section, sides, sizes, prices
            )
        }
    )
    assert answer.order_flow_imbalance == pytest.approx(round(230 / 290, 4))
    assert answer.block_trades == 1
    assert answer.volume_spike is True  # last 2 prints average 105 vs 10 before
    assert answer.signal > 0.5


def test_data_rule_signs_unknown_sides_by_the_tick_test() -> None:
    prices = [10.0, 10.1, 10.1, 10.0]  # up, (unchanged: still up), down
    body = _section_body(prompt_sections.trades_section, [None] * 4, [1.0, 2.0, 3.0, 4.0], prices)
    answer = data_rule({prompt_sections.TRADES: body})
    # first print has no direction; buys 2 + 3, sells 4 -> (5 - 4) / 9
    assert answer.order_flow_imbalance == pytest.approx(round(1 / 9, 4))


def _section_body(writer, sides, sizes, prices) -> str:  # type: ignore[no-untyped-def]
    return prompt_sections.find_sections(writer(_trades(sides, sizes, prices)))[
        prompt_sections.TRADES
    ]


def test_data_analyst_uses_bars_when_there_are_no_trades(model: OfflineAnalystChatModel) -> None:
    request = data.build_request(trend_snapshot(BULL), cap_usd=1.0)
    answer = parse_answer(str(model.invoke(list(request.messages)).content), DataAnswer)
    assert answer.block_trades == 0
    assert any("no trade data" in p for p in answer.micro_patterns)


def test_meta_rule_halves_size_when_the_book_is_losing() -> None:
    signals = [
        AgentSignal(analyst="chart", signal=0.8, confidence=0.8).model_dump(),
        AgentSignal(analyst="data", signal=0.6, confidence=0.5).model_dump(),
    ]
    sections = {
        prompt_sections.SIGNALS: prompt_sections.find_sections(
            prompt_sections.signals_section(signals)
        )[prompt_sections.SIGNALS],
        prompt_sections.PORTFOLIO: _portfolio_body(AccountView(equity=100.0, unrealized_pnl=0.0)),
    }
    healthy = meta_rule(sections)
    # weighted signal (0.64 + 0.3) / 1.3; conviction 0.94 / 2
    assert healthy.action is Action.BUY
    assert healthy.size == pytest.approx(round(0.94 / 1.3, 4))
    assert healthy.confidence == pytest.approx(0.47)
    losing = meta_rule(
        {**sections, prompt_sections.PORTFOLIO: _portfolio_body(AccountView(unrealized_pnl=-0.1))}
    )
    assert losing.size == pytest.approx(round(healthy.size / 2, 4))
    assert losing.risk_level is RiskLevel.HIGH


def _portfolio_body(portfolio: AccountView) -> str:
    return prompt_sections.find_sections(prompt_sections.portfolio_section(portfolio))[
        prompt_sections.PORTFOLIO
    ]


def test_meta_prompt_round_trips_through_the_offline_model(model: OfflineAnalystChatModel) -> None:
    snapshot = MarketSnapshot(symbol="X", timestamp=datetime(2024, 1, 2))
    signals = [AgentSignal(analyst="narrative", signal=-0.9, confidence=0.9)]
    messages = meta.build_messages(snapshot, signals, [])
    answer = parse_answer(str(model.invoke(list(messages)).content), meta.MetaAnswer)
    assert answer.action is Action.SELL and answer.size == 0.9
