"""The hybrid's weights: AdaHedge over the sources' own books.

The printed regret bound holds on any losses; an oracle takes the weight from noise; identical
sources stay at 50/50; swapping the sources mirrors the weights; the state restores exactly.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import InvalidInputError
from orchestrator.trader.hedge import ExpertWeights, HedgeWeights

MOVE = 0.01


def _signs(seed: int, n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """Return signs of the bars and an independent noise source's positions."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=n_bars), rng.choice([-1.0, 1.0], size=n_bars)


def test_starts_at_fifty_fifty() -> None:
    weights = HedgeWeights()
    assert (weights.drl_weight, weights.llm_weight, weights.regret_bound) == (0.5, 0.5, 0.0)


def test_an_update_scores_each_book_by_its_log_relative() -> None:
    weights = HedgeWeights()
    update = weights.update(
        drl_position=1.0, llm_position=-0.5, bar_return=0.02, drl_cost=0.001, label="d"
    )
    assert update.drl_loss == pytest.approx(-math.log(1.0 + 0.02 - 0.001))
    assert update.llm_loss == pytest.approx(-math.log(1.0 - 0.01))
    # From 50/50 with eta infinite, the gap is Delta = h - m = (l_llm - l_drl) / 2, so the new
    # eta = ln 2 / Delta puts w_drl = 1 / (1 + exp(-2 ln 2)) = 0.8 whatever the losses were.
    assert update.drl_weight_before == 0.5
    assert update.drl_weight_after == pytest.approx(0.8)
    assert weights.regret_bound == pytest.approx(update.llm_loss - update.drl_loss)


def test_oracle_beats_noise_and_the_gap_stops_growing() -> None:
    signs, noise = _signs(seed=7, n_bars=300)
    weights = HedgeWeights()
    for sign, p in zip(signs, noise, strict=True):
        weights.update(drl_position=float(sign), llm_position=float(p), bar_return=MOVE * sign)
    assert weights.drl_weight > 0.999
    assert weights.regret_bound < 0.05


def test_identical_sources_stay_exactly_at_fifty_fifty() -> None:
    rng = np.random.default_rng(3)
    weights = HedgeWeights()
    for _ in range(500):
        position = float(rng.uniform(-1, 1))
        cost = float(rng.uniform(0, 1e-3))
        weights.update(
            drl_position=position,
            llm_position=position,
            bar_return=float(rng.normal(0, 0.02)),
            drl_cost=cost,
            llm_cost=cost,
        )
        assert weights.drl_weight == 0.5


def test_swapping_the_sources_mirrors_the_weights_exactly() -> None:
    signs, noise = _signs(seed=5, n_bars=300)
    _, other = _signs(seed=6, n_bars=300)
    a, b = HedgeWeights(), HedgeWeights()
    for ret, p, q in zip(MOVE * signs, noise, other, strict=True):
        a.update(drl_position=float(p), llm_position=float(q), bar_return=float(ret))
        b.update(drl_position=float(q), llm_position=float(p), bar_return=float(ret))
        assert a.drl_weight == pytest.approx(b.llm_weight, abs=1e-15)


def test_the_state_has_constant_size_and_restores_exactly_with_the_history() -> None:
    signs, noise = _signs(seed=2, n_bars=60)
    weights = HedgeWeights()
    sizes = set()
    for i, (ret, p) in enumerate(zip(MOVE * signs, noise, strict=True)):
        weights.update(
            drl_position=float(p),
            llm_position=0.5,
            bar_return=float(ret),
            drl_cost=1e-4,
            label=f"bar {i}",
        )
        sizes.add(len(weights.state_dict()["cumulative_loss"]))  # type: ignore[arg-type]
    assert sizes == {2}  # two sums, not a row a bar
    state = json.loads(json.dumps(weights.state_dict()))
    restored = HedgeWeights()
    restored.load_state_dict(state, weights.history)
    assert restored.history == weights.history and restored.n_updates == 60
    assert restored.drl_weight == weights.drl_weight
    for ret in (0.013, -0.021, 0.002):
        a = weights.update(drl_position=1.0, llm_position=-0.5, bar_return=ret)
        b = restored.update(drl_position=1.0, llm_position=-0.5, bar_return=ret)
        assert a == b
    assert a.step == 63


def test_load_state_dict_refuses_a_broken_history_or_state() -> None:
    weights = HedgeWeights()
    for ret in (0.01, -0.02, 0.005):
        weights.update(drl_position=1.0, llm_position=0.0, bar_return=ret)
    state, history = weights.state_dict(), weights.history
    for broken in (history[1:], (history[0], history[2]), (*history, history[0])):
        with pytest.raises(InvalidInputError, match=r"steps 1\.\.|history has"):
            HedgeWeights().load_state_dict(state, broken)
    with pytest.raises(InvalidInputError, match="steps"):
        HedgeWeights().load_state_dict(state, [asdict(update) for update in history])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Field required"):
        HedgeWeights().load_state_dict({}, history)
    with pytest.raises(InvalidInputError, match="history has"):
        HedgeWeights().load_state_dict(state, history[:2])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"drl_position": 1.5}, "drl_position"),
        ({"llm_position": math.nan}, "llm_position"),
        ({"bar_return": -1.5}, "bar_return"),
        ({"drl_cost": -0.001}, "drl_cost"),
    ],
)
def test_bad_update_inputs_are_refused(kwargs: dict[str, float], name: str) -> None:
    inputs = {"drl_position": 0.0, "llm_position": 0.0, "bar_return": 0.0, **kwargs}
    with pytest.raises(InvalidInputError, match=name):
        HedgeWeights().update(**inputs)


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
