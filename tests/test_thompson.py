"""The Thompson-sampling weight learner: its weights follow the better book, are a function of
its saved state (a resumed run draws what an uninterrupted one did), and are compared with
AdaHedge's on the same outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.jobs import trader_choices
from orchestrator.reports.weights import replay_learners
from orchestrator.trader.hedge import LEARNERS, HedgeWeights, ThompsonExperts

BOOKS = ("drl", "llm")


def outcomes(n: int, seed: int = 0) -> list[dict[str, float]]:
    """Gross relatives of two books: the DRL's drifts up, the LLM's does not."""
    rng = np.random.default_rng(seed)
    return [
        {"drl": float(1.002 + rng.normal(0, 0.01)), "llm": float(1.0 + rng.normal(0, 0.01))}
        for _ in range(n)
    ]


def feed(learner: ThompsonExperts, relatives: list[dict[str, float]]) -> list[float]:
    weights = []
    for x in relatives:
        learner.update(dict.fromkeys(BOOKS, 0.0), x)
        weights.append(learner.weights["drl"])
    return weights


def test_the_weights_are_probabilities_that_move_to_the_better_book() -> None:
    learner = ThompsonExperts(BOOKS)
    assert learner.weights == {"drl": 0.5, "llm": 0.5}
    weights = feed(learner, outcomes(400))
    assert all(0.0 <= w <= 1.0 for w in weights)
    assert sum(learner.weights.values()) == pytest.approx(1.0)
    assert np.mean(weights[-50:]) > 0.8 > np.mean(weights[:10])
    assert learner.regret_bound is None


def test_a_restored_learner_draws_exactly_what_the_uninterrupted_one_did() -> None:
    relatives = outcomes(60)
    whole = ThompsonExperts(BOOKS)
    expected = feed(whole, relatives)
    first = ThompsonExperts(BOOKS)
    feed(first, relatives[:25])
    resumed = ThompsonExperts(BOOKS)
    resumed.load_state_dict(first.state_dict())
    assert resumed.weights == first.weights
    assert feed(resumed, relatives[25:]) == expected[25:]


def test_the_hybrid_weights_take_either_learner_and_refuse_the_others_state() -> None:
    thompson, hedge = HedgeWeights(learner="thompson"), HedgeWeights()
    thompson.update(drl_position=1.0, llm_position=0.0, bar_return=0.01)
    assert thompson.regret_bound is None and thompson.n_updates == 1
    with pytest.raises(InvalidInputError, match=r"cumulative_loss|reward_sum"):
        hedge.load_state_dict(thompson.state_dict(), thompson.history)


def test_both_learners_are_replayed_side_by_side_on_the_same_outcomes() -> None:
    losses = -np.log(np.asarray([[x["drl"], x["llm"]] for x in outcomes(300)]))
    replays = replay_learners(losses[:, 0], losses[:, 1], "thompson")
    assert set(replays) == set(LEARNERS)
    assert replays["thompson"].as_run and not replays["hedge"].as_run
    best_book = float(np.sum(-losses[:, 0]))
    for replay in replays.values():
        assert replay.final_drl_weight > 0.5
        assert replay.mix_log_wealth < best_book + 1e-9  # no mix beats the best book here


def test_the_command_line_names_the_learner() -> None:
    assert trader_choices(learner="thompson").learner == "thompson"
    with pytest.raises(ConfigError, match="--learner 'ucb'"):
        trader_choices(learner="ucb")
