"""The last check before an order reaches the broker: the trade-execution model confirms or vetoes.

It runs only for orders (a non-zero order after the risk check) that the strategy chose; the risk
manager's forced exits (stop-loss, kill switch, trims) are never put to a model, since a veto must
never keep a position open that the hard limits close. The call goes through the one gateway as
`Task.TRADE_EXECUTION` at `Complexity.CRITICAL`, where the router alone decides what critical
means (the task's top model, never downgraded, no budget check); nothing here routes around it.

Fail closed: a call that errs or times out (the gateway's own timeout and retries), or an answer
that does not parse as `ExecutionAnswer`, is a veto whose reason says what went wrong. The prompt
is tagged `(prompt trade-execution/v1)` and carries the order, the account, the bars and the
indicators as `llm.prompt_blocks` sections, so the offline analyst can answer it with a rule
(`orchestrator.offline_execution_rule`) from exactly what a paid model would read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from llm import prompt_blocks as blocks
from llm.analysts.base import CompletionGateway, market_header
from llm.parsing import AnswerParseError, parse_answer
from llm.snapshot import MarketSnapshot
from llm.types import Complexity, LLMError, LLMRequest, Task
from orchestrator.market_snapshots import MarketSnapshots
from orchestrator.risk import OrderCheck

PROMPT_ID = "trade-execution"
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


def order_facts(check: OrderCheck, intent: str) -> dict[str, object]:
    """The order as the model sees it: side, size, and what it does to the position."""
    return {
        "side": "buy" if check.order_shares > 0 else "sell",
        "shares": abs(check.order_shares),
        "price": check.price,
        "notional": check.order_notional,
        "notional_fraction_of_equity": check.order_notional / check.equity,
        "current_position": check.current_position,
        "target_position": check.approved_position,
        "risk_check": check.status.value,
        "intent": intent,
    }


def build_messages(snapshot: MarketSnapshot, facts: dict[str, object]) -> list[BaseMessage]:
    schema = json.dumps(ExecutionAnswer.model_json_schema(), separators=(",", ":"))
    system = SYSTEM_V1.format(prompt_id=PROMPT_ID, version=PROMPT_VERSION, schema=schema)
    human = HUMAN_V1.format(
        header=market_header(snapshot),
        order=blocks.section(ORDER_SECTION, "json", json.dumps(facts, sort_keys=True)),
        portfolio=blocks.portfolio_section(snapshot.portfolio),
        bars=blocks.bars_section(snapshot.bars),
        indicators=blocks.indicators_section(snapshot.indicators),
    )
    return [SystemMessage(system), HumanMessage(human)]


class ExecutionConfirmer:
    """Asks the trade-execution model about each order (see the module docstring)."""

    def __init__(self, gateway: CompletionGateway, snapshots: MarketSnapshots) -> None:
        self.gateway = gateway
        self.snapshots = snapshots

    def confirm(self, bar: int, check: OrderCheck, intent: str) -> Confirmation:
        """The verdict on the order `check` approved at the close of `bar`; never raises."""
        snapshot = self.snapshots.at(bar, check.portfolio, check.price)
        request = LLMRequest(
            task=Task.TRADE_EXECUTION,
            messages=build_messages(snapshot, order_facts(check, intent)),
            complexity=Complexity.CRITICAL,
            response_schema=ExecutionAnswer,
            template_version=f"{PROMPT_ID}/{PROMPT_VERSION}",
        )
        try:
            response = self.gateway.complete(request)
        except LLMError as exc:
            return Confirmation(False, f"fail closed, the confirmation call failed: {exc}")
        except Exception as exc:  # any failure at all must stop the order, not let it through
            return Confirmation(
                False, f"fail closed, the confirmation call raised {type(exc).__name__}"
            )
        served, cost = response.model_served, response.cost_usd
        try:
            answer = parse_answer(response.content, ExecutionAnswer)
        except AnswerParseError as exc:
            return Confirmation(False, f"fail closed, unusable answer: {exc}", served, cost)
        return Confirmation(answer.verdict == "CONFIRM", answer.reason, served, cost)
