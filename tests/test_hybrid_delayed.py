"""Delayed AdaHedge (`hedge.DelayedAdaHedge`, `--learner hedge_delayed`): its printed bound covers
the weights each decision was traded with, `delay` updates before it was scored, for every loss
sequence; it restores exactly from its saved state; and in the hybrid the weights it reports as
traded are the ones the decision was made with."""

from __future__ import annotations

import json
import math
import random
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm import load_settings
from orchestrator.cli.options import DEFAULT_LEARNER as CLI_DEFAULT_LEARNER
from orchestrator.errors import InvalidInputError
from orchestrator.jobs import trader_choices
from orchestrator.journal import JournalReader
from orchestrator.reports import build_weights_report
from orchestrator.reports.weights import adahedge_bound, replay_learners
from orchestrator.runs.paper import run_paper
from orchestrator.runs.paper_config import PaperConfig
from orchestrator.trader.hedge import (
    DEFAULT_LEARNER,
    HYBRID_DELAY,
    LEARNERS,
    DelayedAdaHedge,
    ExpertWeights,
    HedgeWeights,
    make_learner,
)
from tests.paper_helpers import END, comparable_tables, tiny_agent

NAMES = ("drl", "llm", "market")
START = "2006-12"  # pins a paper run's first decision: a test split cut earlier begins elsewhere


def traded_regret(learner: DelayedAdaHedge, rounds: list[dict[str, float]]) -> list[float]:
    """Feed `rounds`; after each, the traded weights' Hedge loss minus the best expert's, with
    the traded weights taken independently of the learner's report: its weights `delay` updates
    before the previous one (uniform before that)."""
    names = learner.experts
    history = [learner.weights]  # weights after 0, 1, 2, ... updates
    hedge_loss, regrets = 0.0, []
    for relatives in rounds:
        step = learner.n_updates + 1
        traded = history[max(0, step - 1 - learner.delay)]
        update = learner.update(dict.fromkeys(names, 0.0), relatives)
        assert update.weights_before == traded  # the update reports the weights traded
        hedge_loss += sum(traded[n] * -math.log(relatives[n]) for n in names)
        history.append(learner.weights)
        regrets.append(hedge_loss - min(learner.cumulative_losses.values()))
    return regrets


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=3),
    st.lists(
        st.tuples(*[st.floats(min_value=0.5, max_value=1.5) for _ in NAMES]),
        min_size=1,
        max_size=60,
    ),
)
def test_the_traded_weights_never_trail_the_best_expert_by_more_than_the_bound(
    delay: int, rows: list[tuple[float, ...]]
) -> None:
    learner = DelayedAdaHedge(NAMES, delay=delay)
    rounds = [dict(zip(NAMES, row, strict=True)) for row in rows]
    for step, regret in enumerate(traded_regret(learner, rounds), start=1):
        assert regret <= learner.regret_bound + 1e-9 or step < len(rounds)
    assert regret <= learner.regret_bound + 1e-9


def punish_the_traded_leader(learner: DelayedAdaHedge | ExpertWeights, rounds: int) -> float:
    """An adversary that knows which weights the next scored decision was traded with (the
    learner's weights one update back) and makes their leader lose: the regret of those traded
    weights against the best expert."""
    names = learner.experts
    previous = current = learner.weights
    hedge_loss = 0.0
    for _ in range(rounds):
        leader = max(previous, key=previous.__getitem__)
        relatives = {n: (0.99 if n == leader else 1.005) for n in names}
        hedge_loss += sum(previous[n] * -math.log(relatives[n]) for n in names)
        learner.update(dict.fromkeys(names, 0.0), relatives)
        previous, current = current, learner.weights
    return hedge_loss - min(learner.cumulative_losses.values())


def test_the_bound_holds_against_an_adversary_of_the_delayed_weights() -> None:
    delayed = DelayedAdaHedge(("a", "b"), delay=1)
    regret = punish_the_traded_leader(delayed, 2_000)
    assert 0.0 < regret <= delayed.regret_bound + 1e-9


def traded_one_update_late(
    learner: DelayedAdaHedge | ExpertWeights, rows: list[tuple[float, float]]
) -> float:
    """The regret of the weights the learner held one update before each scoring."""
    history, hedge_loss = [learner.weights], 0.0
    for a, b in rows:
        traded = history[max(0, learner.n_updates - 1)]
        hedge_loss += traded["a"] * -math.log(a) + traded["b"] * -math.log(b)
        learner.update({"a": 0.0, "b": 0.0}, {"a": a, "b": b})
        history.append(learner.weights)
    return hedge_loss - min(learner.cumulative_losses.values())


def test_adahedge_s_own_bound_does_not_cover_the_weights_traded_a_step_early() -> None:
    """b wins three times: AdaHedge moves to b after the first, but the second decision was
    traded before that move; its 2 Delta covers the weights it holds, not those."""
    rows = [(1.0, 1.5), (0.5, 1.5), (0.5, 1.5)]
    plain, delayed = ExpertWeights(("a", "b")), DelayedAdaHedge(("a", "b"), delay=1)
    assert traded_one_update_late(plain, rows) > plain.regret_bound + 0.18  # 2 Delta + 0.18
    assert traded_one_update_late(delayed, rows) <= delayed.regret_bound + 1e-12


def test_without_delay_it_is_adahedge_with_a_tighter_printed_bound() -> None:
    rng = random.Random(5)
    plain, delayed = ExpertWeights(NAMES), DelayedAdaHedge(NAMES, delay=0)
    for _ in range(300):
        relatives = {n: 1.0 + rng.gauss(0.0, 0.02) for n in NAMES}
        plain.update(dict.fromkeys(NAMES, 0.0), relatives)
        delayed.update(dict.fromkeys(NAMES, 0.0), relatives)
        assert delayed.weights == pytest.approx(plain.weights, abs=1e-12)
        # Delta_T + Delta_{T-1} (ln N / eta_T) against 2 Delta_T
        assert delayed.regret_bound <= plain.regret_bound + 1e-12


def test_an_oracle_takes_the_weight_and_the_bound_stops_growing() -> None:
    rng = random.Random(7)
    learner = DelayedAdaHedge(("oracle", "noise"), delay=1)
    bounds = []
    for _ in range(500):
        bar_return = rng.gauss(0.0, 0.01)
        noise = rng.choice((-1.0, 1.0))
        learner.update(
            {"oracle": math.copysign(1.0, bar_return), "noise": noise},
            {"oracle": 1.0 + abs(bar_return), "noise": 1.0 + noise * bar_return},
        )
        bounds.append(learner.regret_bound)
    assert learner.weights["oracle"] > 0.99
    assert 0.0 < bounds[-1] < 0.1 and bounds[-1] - bounds[249] < 0.01


def test_equal_experts_keep_equal_weights_and_a_zero_bound() -> None:
    learner = DelayedAdaHedge(("drl", "llm"), delay=1)
    for relative in (1.01, 0.98, 1.002):
        update = learner.update({"drl": 1.0, "llm": 1.0}, {"drl": relative, "llm": relative})
    assert update.weights_after == update.weights_before == {"drl": 0.5, "llm": 0.5}
    assert learner.regret_bound == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("cut", [0, 1, 2, 25])
def test_a_restored_learner_continues_exactly(cut: int) -> None:
    rng = random.Random(3)
    rows = [{n: 1.0 + rng.gauss(0.0, 0.02) for n in NAMES} for _ in range(40)]
    whole, first = DelayedAdaHedge(NAMES), DelayedAdaHedge(NAMES)
    for row in rows[:cut]:
        whole.update(dict.fromkeys(NAMES, 0.0), row)
        first.update(dict.fromkeys(NAMES, 0.0), row)
    state = json.loads(json.dumps(first.state_dict()))  # through JSON, as the journal keeps it
    assert len(json.dumps(state)) == len(json.dumps(DelayedAdaHedge(NAMES).state_dict())) or cut
    restored = DelayedAdaHedge(NAMES)
    restored.load_state_dict(state)
    assert restored.state_dict() == first.state_dict()
    for row in rows[cut:]:
        expected = whole.update(dict.fromkeys(NAMES, 0.0), row)
        assert restored.update(dict.fromkeys(NAMES, 0.0), row) == expected  # bit for bit
    assert restored.state_dict() == whole.state_dict()


def test_the_state_keeps_a_fixed_size_however_many_updates() -> None:
    learner = DelayedAdaHedge(NAMES)
    sizes = set()
    for step in range(200):
        learner.update(dict.fromkeys(NAMES, 0.0), {n: 1.0 + 0.001 * step for n in NAMES})
        state = learner.state_dict()
        sizes.add((len(state["cumulative_losses"]), len(state["scales"])))  # type: ignore[arg-type]
    assert sizes == {(HYBRID_DELAY + 1, HYBRID_DELAY + 1)}


def test_a_state_of_other_experts_another_delay_or_another_learner_is_refused() -> None:
    saved = DelayedAdaHedge(("drl", "llm")).state_dict()
    with pytest.raises(InvalidInputError, match="this trader has"):
        DelayedAdaHedge(("drl", "llm", "cash")).load_state_dict(saved)
    with pytest.raises(InvalidInputError, match="delay 2"):
        DelayedAdaHedge(("drl", "llm"), delay=2).load_state_dict(saved)
    with pytest.raises(InvalidInputError, match="cumulative_loss"):
        ExpertWeights(("drl", "llm")).load_state_dict(saved)
    with pytest.raises(InvalidInputError, match="cumulative_losses"):
        DelayedAdaHedge(("drl", "llm")).load_state_dict(ExpertWeights(("drl", "llm")).state_dict())
    with pytest.raises(InvalidInputError, match="delay"):
        DelayedAdaHedge(("drl", "llm"), delay=-1)


@pytest.mark.parametrize("relative", [0.0, -0.5, math.nan, math.inf])
def test_a_ruined_or_undefined_book_is_refused(relative: float) -> None:
    with pytest.raises(InvalidInputError, match="gross relative"):
        DelayedAdaHedge(("drl", "llm")).update(
            {"drl": 1.0, "llm": 1.0}, {"drl": relative, "llm": 1.0}
        )


def test_the_hybrid_weights_record_the_weights_each_decision_was_traded_with() -> None:
    weights = HedgeWeights(learner="hedge_delayed")
    after = [weights.drl_weight]
    for step in range(30):
        update = weights.update(
            drl_position=1.0, llm_position=0.0, bar_return=0.01 if step % 3 else -0.02
        )
        assert update.drl_weight_before == after[max(0, update.step - 1 - HYBRID_DELAY)]
        after.append(update.drl_weight_after)
    restored = HedgeWeights(learner="hedge_delayed")
    restored.load_state_dict(json.loads(json.dumps(weights.state_dict())), weights.history)
    assert restored.weights == weights.weights and restored.regret_bound == weights.regret_bound


def test_every_learner_is_named_once_and_the_defaults_agree() -> None:
    assert set(LEARNERS) == {"hedge", "hedge_delayed", "thompson"}
    assert CLI_DEFAULT_LEARNER == DEFAULT_LEARNER
    assert trader_choices().learner == DEFAULT_LEARNER
    assert trader_choices(learner="hedge_delayed").learner == "hedge_delayed"
    assert isinstance(make_learner("hedge_delayed", NAMES), DelayedAdaHedge)
    with pytest.raises(InvalidInputError, match="unknown weight learner"):
        make_learner("ucb", NAMES)  # type: ignore[arg-type]


def test_the_weights_report_replays_the_run_s_learner() -> None:
    rng = np.random.default_rng(0)
    relatives = np.column_stack([1.002 + rng.normal(0, 0.01, 300), 1.0 + rng.normal(0, 0.01, 300)])
    losses = -np.log(relatives)
    learner = DelayedAdaHedge(("drl", "llm"))
    for drl, llm in relatives:
        learner.update({"drl": 0.0, "llm": 0.0}, {"drl": float(drl), "llm": float(llm)})
    bound = adahedge_bound(losses[:, 0], losses[:, 1], "hedge_delayed")
    assert bound == learner.regret_bound
    replays = replay_learners(losses[:, 0], losses[:, 1], "hedge_delayed")
    assert set(replays) == set(LEARNERS) and replays["hedge_delayed"].as_run
    assert replays["hedge_delayed"].final_drl_weight == learner.weights["drl"]


def test_a_paper_run_stopped_and_resumed_ends_exactly_as_an_uninterrupted_one(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Through the journal: delayed AdaHedge's state (the last two updates' losses and scales)
    is restored bit for bit, and the weights report replays it to the run's own bound."""
    agent = tiny_agent(tmp_path_factory)
    config = PaperConfig(trader=trader_choices(learner="hedge_delayed"))
    settings = load_settings({}, env_file=None)
    whole, parts = tmp_path / "whole" / "journal.sqlite", tmp_path / "parts" / "journal.sqlite"
    for journal in (whole, parts):
        journal.parent.mkdir()
    run = partial(run_paper, agent, "synthetic", "offline", start=START, settings=settings)
    run(whole, end=END, config=config)
    run(parts, end="2007-03", config=config)  # stopped
    run(parts, end=END, config=config)  # resumed from the journal
    expected = comparable_tables(whole)
    for name, table in comparable_tables(parts).items():
        assert table.equals(expected[name]), name
    with JournalReader.open(parts) as reader:
        report = build_weights_report(reader)
        bars = reader.table("weight_updates")
    assert len(bars) > 100 and report.learners["hedge_delayed"].as_run
    learner = DelayedAdaHedge(("drl", "llm"))
    for drl, llm in zip(bars["drl_loss"], bars["llm_loss"], strict=True):
        update = learner.update(
            {"drl": 0.0, "llm": 0.0}, {"drl": math.exp(-drl), "llm": math.exp(-llm)}
        )
    assert report.regret_bound == learner.regret_bound
    assert bars["drl_weight_before"].iloc[-1] == update.weights_before["drl"]
