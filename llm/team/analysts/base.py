"""What every analyst node shares: the gateway it calls, the prompt frame, and one call-and-parse
step that turns every outcome (answer, skip, failure, bad answer) into a state update."""

from __future__ import annotations

import functools
import json
from typing import Protocol, TypeVar

from pydantic import BaseModel

from llm.gateway import (
    AnswerParseError,
    LLMError,
    LLMGatewayDownError,
    LLMRequest,
    LLMResponse,
    LLMSkippedError,
)
from llm.team import prompt_sections
from llm.team.prompt_sections import PromptId
from llm.team.schemas import SIGNAL_SCALE, AnalystAnswer
from llm.team.snapshot import MarketSnapshot
from llm.team.state import IssueKind, NodeIssue, StateUpdate

AnswerT = TypeVar("AnswerT", bound=BaseModel)

SYSTEM_FRAME_V1 = """{role} {tag}

{instructions}

{scale}

Answer with ONE JSON object and nothing else. It must validate against this JSON schema:
{schema}"""


class CompletionGateway(Protocol):
    """The one door to the models (llm.gateway.gateway.Gateway satisfies it)."""

    def complete(self, request: LLMRequest) -> LLMResponse: ...

    def close(self) -> None: ...


@functools.cache
def system_prompt(
    prompt_id: PromptId, version: str, role: str, instructions: str, schema: type[BaseModel]
) -> str:
    """The system message: role, prompt tag, task instructions, shared scale, answer schema."""
    return SYSTEM_FRAME_V1.format(
        role=role,
        tag=prompt_sections.prompt_tag(prompt_id, version),
        instructions=instructions,
        scale=SIGNAL_SCALE,
        schema=json.dumps(schema.model_json_schema(), separators=(",", ":")),
    )


def market_header(snapshot: MarketSnapshot) -> str:
    return (
        f"Symbol {snapshot.symbol}, as of {snapshot.timestamp.isoformat()}; "
        f"{len(snapshot.bars)} bars (oldest first). Nothing after that time is known."
    )


def skip(node: str, reason: str) -> StateUpdate:
    """An analyst with nothing to analyse steps aside; that is recorded, not an error."""
    return {"skipped": [NodeIssue(node, IssueKind.MISSING_INPUT, reason)]}


def ask_model(
    gateway: CompletionGateway, request: LLMRequest, schema: type[AnswerT], node: str
) -> tuple[AnswerT | None, StateUpdate]:
    """One gateway call, parsed; the update records the answer's cost and model.

    The gateway retries and falls back on an answer that fails the schema, so a failure here is a
    call that failed (its paid attempts are in the ledger). An `AnswerParseError` comes only from
    a stand-in gateway that parses without retrying. A gateway that is down
    (`LLMGatewayDownError`) is not one analyst's error: it stops the run.
    """
    try:
        response = gateway.complete(request)
        answer = response.answer(schema)
    except LLMGatewayDownError:
        raise
    except LLMSkippedError as exc:
        return None, {"skipped": [NodeIssue(node, IssueKind.BUDGET_SKIP, str(exc))]}
    except AnswerParseError as exc:
        return None, {"errors": [NodeIssue(node, IssueKind.INVALID_ANSWER, str(exc))]}
    except LLMError as exc:
        return None, {"errors": [NodeIssue(node, IssueKind.CALL_FAILED, str(exc))]}
    return answer, {"costs": [response.cost_usd], "models": [response.model_served]}


def analyse(
    gateway: CompletionGateway, request: LLMRequest, schema: type[AnalystAnswer], node: str
) -> StateUpdate:
    """Ask an analyst model and, when it answers validly, add its signal to the state."""
    answer, update = ask_model(gateway, request, schema, node)
    if answer is None:
        return update
    return {**update, "signals": [answer.to_signal(node)]}
