"""Hedge weights: updates by hand, oracle vs noise, equal sources, floor, recovery, persistence.

Synthetic bars move by exactly +-MOVE. An oracle holds sign(r) and earns MOVE every bar; an
always-wrong source loses MOVE; a noise source holds a random +-1. So the loss gap between two
sources on one bar is 0 or GAP = 2 * MOVE, and under plain Hedge (no forgetting, no floor) the
log-odds x = ln(w_drl / w_llm) move by exactly eta * GAP on each bar where they disagree.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest

from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.trader.hedge import (
    DEFAULT_LEARNING_RATE,
    HedgeConfig,
    HedgeWeights,
    hedge_learning_rate,
)

MOVE = 0.01
GAP = 2 * MOVE
ETA = DEFAULT_LEARNING_RATE
PLAIN = HedgeConfig(fixed_share=0.0, floor=0.0)
LN9 = math.log(9.0)  # log-odds of a 0.9 / 0.1 split


def _signs(seed: int, n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """Return signs of the bars and an independent noise source's positions."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=n_bars), rng.choice([-1.0, 1.0], size=n_bars)


def _first_bar_above(
    weights: HedgeWeights,
    drl: np.ndarray,
    llm: np.ndarray,
    r: np.ndarray,
    *,
    source: str,
    level: float = 0.9,
) -> int | None:
    """Feed bars one by one; the 1-based bar after which `source`'s weight first exceeds level."""
    for bar, (p_drl, p_llm, ret) in enumerate(zip(drl, llm, r, strict=True), start=1):
        weights.update(drl_position=float(p_drl), llm_position=float(p_llm), bar_return=float(ret))
        weight = weights.drl_weight if source == "drl" else weights.llm_weight
        if weight > level:
            return bar
    return None


def test_default_learning_rate_is_the_tuned_rate_for_a_year_of_daily_bars() -> None:
    assert hedge_learning_rate(252, 0.012) == pytest.approx(
        math.sqrt(math.log(2) / (252 * 1.44e-4))
    )
    assert pytest.approx(4.3705, abs=1e-4) == ETA
    assert HedgeConfig().learning_rate == ETA


def test_starts_at_fifty_fifty() -> None:
    weights = HedgeWeights()
    assert (weights.drl_weight, weights.llm_weight) == (0.5, 0.5)
    assert weights.history == ()


def test_one_plain_hedge_update_by_hand() -> None:
    weights = HedgeWeights(HedgeConfig(learning_rate=2.0, fixed_share=0.0, floor=0.0))
    record = weights.update(
        drl_position=1.0, llm_position=0.0, bar_return=0.01, drl_cost=0.001, label="2020-01-02"
    )
    # l_drl = -(1 * 0.01 - 0.001) = -0.009, l_llm = 0, x = -2 * (-0.009 - 0) = 0.018.
    assert record.drl_loss == pytest.approx(-0.009)
    assert record.llm_loss == 0.0
    assert weights.drl_weight == pytest.approx(1.0 / (1.0 + math.exp(-0.018)), rel=1e-15)
    assert weights.llm_weight == pytest.approx(1.0 / (1.0 + math.exp(0.018)), rel=1e-15)
    assert (record.step, record.label, record.drl_weight_before) == (1, "2020-01-02", 0.5)
    assert record.drl_weight_after == weights.drl_weight
    assert weights.history == (record,)


def test_fixed_share_mixes_after_the_hedge_step() -> None:
    weights = HedgeWeights(HedgeConfig(learning_rate=2.0, fixed_share=0.1, floor=0.0))
    weights.update(drl_position=1.0, llm_position=-1.0, bar_return=0.05)
    # x = -2 * (-0.05 - 0.05) = 0.2, then w = 0.9 * sigmoid(0.2) + 0.05.
    expected = 0.9 / (1.0 + math.exp(-0.2)) + 0.05
    assert weights.drl_weight == pytest.approx(expected, rel=1e-12)


def test_losses_are_clipped_to_the_loss_bound() -> None:
    weights = HedgeWeights(HedgeConfig(loss_bound=0.1))
    record = weights.update(drl_position=1.0, llm_position=-1.0, bar_return=0.5)
    assert (record.drl_loss, record.llm_loss) == (-0.1, 0.1)


def test_oracle_beats_noise_within_the_derived_number_of_updates() -> None:
    # Plain Hedge: x_n = ETA * GAP * (bars the noise got wrong), so w_oracle > 0.9 needs at least
    # FASTEST = ceil(ln 9 / (ETA * GAP)) = 26 bars; the noise is wrong half the time, so x reaches
    # ln 9 after ln 9 / (ETA * MOVE) = 50.3 bars on average. Budget: twice that, 102 bars (failing
    # would need the noise right on 77 of 102 fair coin flips, probability ~1e-7).
    fastest = math.ceil(LN9 / (ETA * GAP))
    budget = 2 * math.ceil(LN9 / (ETA * MOVE))
    assert (fastest, budget) == (26, 102)
    signs, noise = _signs(seed=7, n_bars=budget)
    for config in (PLAIN, HedgeConfig(fixed_share=0.0), HedgeConfig()):
        bar = _first_bar_above(HedgeWeights(config), signs, noise, MOVE * signs, source="drl")
        assert bar is not None, config
        assert fastest <= bar <= budget, (config, bar)
    # The same oracle as the LLM source: the weight moves the other way, just as fast.
    bar = _first_bar_above(HedgeWeights(PLAIN), noise, signs, MOVE * signs, source="llm")
    assert bar is not None
    assert fastest <= bar <= budget


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
        assert a.drl_weight == b.llm_weight


def test_two_independent_noises_average_fifty_fifty() -> None:
    # Near x = 0 fixed share makes x an AR(1): x' ~= (1 - a) x + ETA * gap, gap in {-GAP, 0, +GAP}
    # w.p. 1/4, 1/2, 1/4. Stationary sd of w ~= ETA * GAP / sqrt(2) / sqrt(1 - (1-a)^2) / 4 = 0.155:
    # single bars wander (harmless: the sources are equally good), but over 5000 bars the time
    # average has sd ~= 0.155 * sqrt((2 - a) / a / 5000) = 0.044. Tolerance 0.15 = 3.4 sd.
    n_bars = 5000
    signs, first = _signs(seed=11, n_bars=n_bars)
    _, second = _signs(seed=12, n_bars=n_bars)
    weights = HedgeWeights()
    path = []
    for ret, p, q in zip(MOVE * signs, first, second, strict=True):
        weights.update(drl_position=float(p), llm_position=float(q), bar_return=float(ret))
        path.append(weights.drl_weight)
    assert abs(float(np.mean(path)) - 0.5) <= 0.15


def test_the_floor_holds_against_an_always_wrong_source() -> None:
    signs, _ = _signs(seed=1, n_bars=400)
    for config in (HedgeConfig(fixed_share=0.0, floor=0.05), HedgeConfig()):
        weights = HedgeWeights(config)
        for ret in MOVE * signs:
            weights.update(
                drl_position=float(np.sign(ret)),
                llm_position=float(-np.sign(ret)),
                bar_return=float(ret),
            )
            assert weights.llm_weight >= config.floor * (1 - 1e-12)
        assert weights.llm_weight == pytest.approx(config.floor, rel=1e-12)
        assert weights.drl_weight == pytest.approx(1 - config.floor, rel=1e-12)


def _regime_switch(
    config: HedgeConfig, first_phase: int, second_phase: int
) -> tuple[HedgeWeights, int | None]:
    """DRL is the oracle and LLM always wrong for `first_phase` bars, then the reverse.

    Returns the learner and the bar of the second phase after which the LLM first exceeds 0.9.
    """
    weights = HedgeWeights(config)
    for _ in range(first_phase):
        weights.update(drl_position=1.0, llm_position=-1.0, bar_return=MOVE)
    ones = np.ones(second_phase)
    return weights, _first_bar_above(weights, -ones, ones, MOVE * ones, source="llm")


def test_the_floor_lets_a_source_recover_in_the_derived_number_of_bars() -> None:
    # At the switch w_llm sits on the floor 0.05 (x = ln 19); each bar takes ETA * GAP off x, and
    # w_llm > 0.9 once x < -ln 9: after ceil((ln 19 + ln 9) / (ETA * GAP)) = 59 bars.
    expected = math.ceil((math.log(19.0) + LN9) / (ETA * GAP))
    assert expected == 59
    _, bar = _regime_switch(HedgeConfig(fixed_share=0.0, floor=0.05), 300, 400)
    assert bar == expected
    # Without a floor or forgetting the 300 bars of evidence must be undone first:
    # 300 + ln 9 / (ETA * GAP) = 325.1 -> 326 bars.
    _, plain_bar = _regime_switch(PLAIN, 300, 400)
    assert plain_bar == math.ceil(300 + LN9 / (ETA * GAP)) == 326


def test_fixed_share_lets_a_source_recover() -> None:
    # Fixed share keeps w_llm >= a / 2 (x_llm >= -ln((2 - a) / a)); below 1/2 the mixing only helps
    # it and each Hedge step adds ETA * GAP, so it is back to 1/2 within
    # ceil(ln((2 - a) / a) / (ETA * GAP)) = 61 bars for a = 0.01.
    a = 0.01
    config = HedgeConfig(fixed_share=a, floor=0.0)
    weights, _ = _regime_switch(config, 300, 0)
    assert weights.llm_weight >= a / 2
    budget = math.ceil(math.log((2 - a) / a) / (ETA * GAP))
    assert budget == 61
    ones = np.ones(budget)
    assert _first_bar_above(weights, -ones, ones, MOVE * ones, source="llm", level=0.5) is not None


def test_the_state_dict_is_the_log_odds_and_restores_exactly_with_the_history() -> None:
    signs, noise = _signs(seed=2, n_bars=60)
    config = HedgeConfig(fixed_share=0.01)
    weights = HedgeWeights(config)
    sizes = []
    for i, (ret, p) in enumerate(zip(MOVE * signs, noise, strict=True)):
        weights.update(
            drl_position=float(p),
            llm_position=0.5,
            bar_return=float(ret),
            drl_cost=1e-4,
            label=f"bar {i}",
        )
        state = weights.state_dict()
        sizes.append(len(json.dumps(state)) - len(json.dumps(state["log_odds"])))
    assert len(set(sizes)) == 1  # only the digits of the log-odds vary, not a row a bar
    state = json.loads(json.dumps(weights.state_dict()))
    assert list(state) == ["log_odds"]
    restored = HedgeWeights(config)
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
        with pytest.raises(InvalidInputError, match=r"steps 1\.\."):
            HedgeWeights().load_state_dict(state, broken)
    with pytest.raises(InvalidInputError, match="steps"):
        HedgeWeights().load_state_dict(state, [asdict(update) for update in history])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="log_odds: Field required"):
        HedgeWeights().load_state_dict({}, history)
    with pytest.raises(InvalidInputError, match="HedgeState: not JSON values"):
        HedgeWeights().load_state_dict({"log_odds": math.inf})
    with pytest.raises(InvalidInputError, match=r"HedgeState\.log_odds"):
        HedgeWeights().load_state_dict({"log_odds": "0.5"})
    with pytest.raises(InvalidInputError, match="config"):  # the settings are the constructor's
        HedgeWeights().load_state_dict({**state, "config": {"floor": 0.7}})


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


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": 20.0, "loss_bound": 0.1}, "learning_rate \\* loss_bound"),
        ({"floor": 0.5}, "floor"),
        ({"fixed_share": 1.0}, "fixed_share"),
        ({"floor": -0.1}, "floor"),
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        HedgeConfig(**kwargs)
    with pytest.raises(ConfigError, match="n_bars"):
        hedge_learning_rate(0, 0.01)
