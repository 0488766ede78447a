"""AdaHedge expert weights: the printed regret bound holds on any losses, and an oracle wins."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import InvalidInputError
from orchestrator.trader.expert_weights import ExpertWeights

NAMES = ("drl", "llm", "market")


def _hedge_loss_and_regret(weights: ExpertWeights, rounds: list[dict[str, float]]) -> float:
    hedge_loss = 0.0
    for relatives in rounds:
        current = weights.weights
        hedge_loss += sum(current[name] * -math.log(relatives[name]) for name in weights.experts)
        weights.update(dict.fromkeys(weights.experts, 1.0), relatives)
    return hedge_loss - min(weights.cumulative_losses.values())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(*[st.floats(min_value=0.5, max_value=1.5) for _ in NAMES]),
        min_size=1,
        max_size=60,
    )
)
def test_regret_never_exceeds_the_printed_bound(rows: list[tuple[float, ...]]) -> None:
    weights = ExpertWeights(NAMES)
    regret = _hedge_loss_and_regret(weights, [dict(zip(NAMES, row, strict=True)) for row in rows])
    assert regret <= weights.regret_bound + 1e-9


def test_bound_holds_against_an_adversary_that_punishes_the_leader() -> None:
    weights = ExpertWeights(("a", "b"))

    hedge_loss = 0.0
    for _ in range(2_000):
        leader = max(weights.weights, key=weights.weights.__getitem__)
        relatives = {name: (0.99 if name == leader else 1.005) for name in ("a", "b")}
        current = weights.weights
        hedge_loss += sum(current[n] * -math.log(relatives[n]) for n in ("a", "b"))
        weights.update({"a": 1.0, "b": 1.0}, relatives)

    regret = hedge_loss - min(weights.cumulative_losses.values())
    assert 0.0 < regret <= weights.regret_bound


def test_an_oracle_takes_the_weight_from_a_noise_source() -> None:
    rng = random.Random(7)
    weights = ExpertWeights(("oracle", "noise"))
    for _ in range(500):
        bar_return = rng.gauss(0.0, 0.01)
        noise = rng.choice((-1.0, 1.0))
        weights.update(
            {"oracle": math.copysign(1.0, bar_return), "noise": noise},
            {"oracle": 1.0 + abs(bar_return), "noise": 1.0 + noise * bar_return},
        )
    assert weights.weights["oracle"] > 0.99
    assert weights.regret_bound < 0.1  # the gap stops growing once the oracle leads


def test_equal_experts_keep_equal_weights() -> None:
    weights = ExpertWeights(("drl", "llm"))
    for relative in (1.01, 0.98, 1.002):
        update = weights.update({"drl": 1.0, "llm": 1.0}, {"drl": relative, "llm": relative})
    assert update.weights_after == {"drl": 0.5, "llm": 0.5}
    assert weights.regret_bound == 0.0


def test_state_dict_round_trip_continues_exactly() -> None:
    rng = random.Random(3)
    rows = [{n: 1.0 + rng.gauss(0.0, 0.02) for n in NAMES} for _ in range(40)]
    whole, resumed = ExpertWeights(NAMES), ExpertWeights(NAMES)
    for row in rows[:25]:
        whole.update(dict.fromkeys(NAMES, 1.0), row)
        resumed.update(dict.fromkeys(NAMES, 1.0), row)
    restored = ExpertWeights(NAMES)
    restored.load_state_dict(resumed.state_dict())
    for row in rows[25:]:
        whole.update(dict.fromkeys(NAMES, 1.0), row)
        restored.update(dict.fromkeys(NAMES, 1.0), row)
    assert restored.weights == whole.weights
    assert restored.regret_bound == whole.regret_bound


@pytest.mark.parametrize("relative", [0.0, -0.5, math.nan, math.inf])
def test_a_ruined_or_undefined_book_is_refused(relative: float) -> None:
    weights = ExpertWeights(("drl", "llm"))
    with pytest.raises(InvalidInputError, match="gross relative"):
        weights.update({"drl": 1.0, "llm": 1.0}, {"drl": relative, "llm": 1.0})


def test_a_state_of_other_experts_is_refused() -> None:
    saved = ExpertWeights(("drl", "llm")).state_dict()
    with pytest.raises(InvalidInputError, match="this trader has"):
        ExpertWeights(("drl", "llm", "cash")).load_state_dict(saved)
