"""Parsing model answers: fenced and trailing text are fine, anything invalid is a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm import Action, AgentSignal
from llm.gateway import AnswerParseError, extract_json_object, parse_answer
from llm.team.schemas import MetaAnswer

VALID = '{"action": "BUY", "size": 0.5, "confidence": 0.7, "risk_level": "LOW", "reasoning": "r"}'


@pytest.mark.parametrize(
    "text",
    [
        VALID,
        f"  {VALID}\n",
        f"```json\n{VALID}\n```",
        f"```\n{VALID}\n```",
        f"Here is my decision:\n```json\n{VALID}\n```\nLet me know if you need more.",
        f"{VALID}\nThis reflects the bullish chart.",
        f"Decision: {VALID} -- and a stray {{brace}}",
    ],
)
def test_accepts_plain_fenced_and_trailing_text(text: str) -> None:
    answer = parse_answer(text, MetaAnswer)
    assert answer.action is Action.BUY and answer.size == 0.5 and answer.confidence == 0.7


def test_braces_inside_strings_do_not_confuse_the_parser() -> None:
    assert extract_json_object('{"reasoning": "a } b {", "n": 1} tail') == {
        "reasoning": "a } b {",
        "n": 1,
    }


def test_fenced_block_wins_over_prose_braces() -> None:
    text = 'Schema was {like this}.\n```json\n{"n": 2}\n```'
    assert extract_json_object(text) == {"n": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I think you should buy.", "contains no JSON object"),
        ('{"action": BUY}', "not valid JSON"),
        ('```json\n{"action": "BUY", \n```', "not valid JSON"),
        ("[1, 2, 3]", "contains no JSON object"),
        ('{"action": "BUY", "size": 0.5}', "confidence: Field required"),
        (VALID.replace("0.5", "1.5"), "size: Input should be less than or equal to 1"),
        (VALID.replace('"BUY"', '"BUY_MORE"'), "action: Input should be 'BUY', 'SELL' or 'HOLD'"),
        (VALID.replace('"LOW"', '"LOW", "extra": 1'), "extra: Extra inputs are not permitted"),
        (VALID.replace('"BUY"', '"HOLD"'), "HOLD must have size 0"),
    ],
)
def test_invalid_answers_raise_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(AnswerParseError) as caught:
        parse_answer(text, MetaAnswer)
    assert message in str(caught.value)


def test_error_names_the_schema() -> None:
    with pytest.raises(AnswerParseError, match="does not fit MetaAnswer"):
        parse_answer("{}", MetaAnswer)


_PROSE = st.text(alphabet=st.characters(blacklist_characters="{}`"), max_size=40)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    signal=st.floats(-1.0, 1.0),
    confidence=st.floats(0.0, 1.0),
    before=_PROSE,
    after=_PROSE,
    fenced=st.booleans(),
)
def test_any_valid_signal_survives_prose_and_fences(
    signal: float, confidence: float, before: str, after: str, fenced: bool
) -> None:
    original = AgentSignal(analyst="data", signal=signal, confidence=confidence, reasoning="r")
    body = original.model_dump_json()
    text = f"{before}\n```json\n{body}\n```\n{after}" if fenced else f"{before} {body} {after}"
    assert parse_answer(text, AgentSignal) == original
