"""Trade-execution check: the last look at an order before it reaches the broker.

The call goes through the one gateway as `Task.TRADE_EXECUTION` at `Complexity.CRITICAL`, where the
router alone decides what critical means (the task's top model, never downgraded, no budget check).

Fail closed: a call that errs or times out (the gateway's own timeout and retries), an answer
that does not parse as `ExecutionAnswer`, or one served by a model outside the task's chain (the
gateway retries and falls back on both, then fails), is a veto whose reason says what went wrong.
A gateway that is down (`LLMGatewayDownError`) stops the run instead. The prompt
is tagged `(prompt trade-execution/v1)` and carries the order, the account, the bars and the
indicators as `prompt_sections` sections, so the offline analyst can answer it with a rule
(`offline_rules.execution_rule`) from exactly what a paid model would read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from llm.gateway import (
    AnswerParseError,
    Complexity,
    LLMError,
    LLMGatewayDownError,
    LLMRequest,
    Task,
)
from llm.team import prompt_sections
from llm.team.analysts.base import CompletionGateway, market_header
from llm.team.snapshot import MarketSnapshot

PROMPT_ID = prompt_sections.PromptId.EXECUTION.value
PROMPT_VERSION = "v1"
ORDER_SECTION = "Order"

SYSTEM_V1 = """You are the execution desk's last check before an order goes to the broker. \
(prompt {prompt_id}/{version})

Confirm the order unless it is clearly wrong: it adds risk against a strong trend, or its size is \
out of proportion to the account. An order that only reduces risk is confirmed. Say why in one \
sentence.

Answer with ONE JSON object and nothing else. It must validate against this JSON schema:
{schema}"""
HUMAN_V1 = """{header}

{order}

{portfolio}

{bars}

{indicators}"""


class ExecutionAnswer(BaseModel):
    """What the trade-execution model returns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Literal["CONFIRM", "VETO"]
    reason: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True)
class Confirmation:
    """The verdict on one order; `model` is the model that served it (None when the call failed)."""

    confirmed: bool
    reason: str
    model: str | None = None
    cost_usd: float = 0.0

    def describe(self) -> str:
        """One line for the journal's order reason."""
        verdict = "confirmed" if self.confirmed else "vetoed"
        served = f" by {self.model}" if self.model else ""
        return f"execution {verdict}{served}: {self.reason}"


def build_messages(snapshot: MarketSnapshot, facts: dict[str, object]) -> list[BaseMessage]:
    schema = json.dumps(ExecutionAnswer.model_json_schema(), separators=(",", ":"))
    system = SYSTEM_V1.format(prompt_id=PROMPT_ID, version=PROMPT_VERSION, schema=schema)
    human = HUMAN_V1.format(
        header=market_header(snapshot),
        order=prompt_sections.section(ORDER_SECTION, "json", json.dumps(facts, sort_keys=True)),
        portfolio=prompt_sections.portfolio_section(snapshot.portfolio),
        bars=prompt_sections.bars_section(snapshot.bars),
        indicators=prompt_sections.indicators_section(snapshot.indicators),
    )
    return [SystemMessage(system), HumanMessage(human)]


def confirm_order(
    gateway: CompletionGateway, snapshot: MarketSnapshot, order: dict[str, object]
) -> Confirmation:
    """The trade-execution model's verdict on `order` at `snapshot`; raises only
    LLMGatewayDownError (the run must stop), every other failure is a veto."""
    request = LLMRequest(
        task=Task.TRADE_EXECUTION,
        messages=build_messages(snapshot, order),
        complexity=Complexity.CRITICAL,
        response_schema=ExecutionAnswer,
        template_version=f"{PROMPT_ID}/{PROMPT_VERSION}",
    )
    try:
        response = gateway.complete(request)
        answer = response.answer(ExecutionAnswer)
    except LLMGatewayDownError:
        raise
    except AnswerParseError as exc:
        return Confirmation(False, f"fail closed, unusable answer: {exc}")
    except LLMError as exc:
        return Confirmation(False, f"fail closed, the confirmation call failed: {exc}")
    except Exception as exc:  # any failure at all must stop the order, not let it through
        reason = f"fail closed, the confirmation call raised {type(exc).__name__}"
        return Confirmation(False, reason)
    confirmed = answer.verdict == "CONFIRM"
    return Confirmation(confirmed, answer.reason, response.model_served, response.cost_usd)
