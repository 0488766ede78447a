"""A council of models votes on the meta decision; anything short of the rule's agreement is HOLD.

The council fails closed: a voter that errors or answers invalidly counts as a vote for nobody,
and the majority is counted over ALL seats, so errors can only push the decision towards HOLD.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from llm.gateway import LLMConfigError, LLMError
from llm.team.checked import CHECKED, Checked
from llm.team.schemas import MetaAnswer, RiskLevel

CouncilRule = Literal["unanimous", "majority"]
_RISK_ORDER = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)


@dataclass(frozen=True, slots=True, config=CHECKED)
class Council(Checked):
    """The models that vote (one seat each) and the agreement required."""

    error: ClassVar[type[LLMError]] = LLMConfigError

    models: Annotated[tuple[str, ...], Field(min_length=2)]
    rule: CouncilRule = "majority"

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.models)) != len(self.models):
            raise LLMConfigError(f"a council needs distinct models, got {list(self.models)}")
        return self

    def required_votes(self) -> int:
        seats = len(self.models)
        return seats if self.rule == "unanimous" else seats // 2 + 1


def council_vote(council: Council, ballots: Sequence[MetaAnswer | None]) -> MetaAnswer:
    """The council's decision from one ballot per seat (None: the seat failed to vote).

    The winning side acts with its most cautious member's size and confidence and its highest
    risk level.
    """
    if len(ballots) != len(council.models):
        raise ValueError(f"{len(council.models)} council seats but {len(ballots)} ballots")
    tally = ", ".join(
        f"{model}: {ballot.action.value if ballot else 'no vote'}"
        for model, ballot in zip(council.models, ballots, strict=True)
    )
    counts = Counter(ballot.action for ballot in ballots if ballot is not None)
    if not counts:
        return MetaAnswer.fail_closed(
            f"council ({council.rule}) failed closed: no valid votes ({tally})"
        )
    action, votes = counts.most_common(1)[0]
    if votes < council.required_votes():
        return MetaAnswer.fail_closed(
            f"council ({council.rule}) failed closed: {votes}/{len(ballots)} for "
            f"{action.value}, {council.required_votes()} needed ({tally})"
        )
    winners = [b for b in ballots if b is not None and b.action is action]
    return MetaAnswer(
        action=action,
        size=min(b.size for b in winners),
        confidence=min(b.confidence for b in winners),
        risk_level=max((b.risk_level for b in winners), key=_RISK_ORDER.index),
        reasoning=f"council ({council.rule}) {votes}/{len(ballots)} {action.value} ({tally}): "
        + winners[0].reasoning[:1500],
    )
