"""Training end to end on a tiny budget: the agent directory, determinism, reload, decisions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from agents import AgentResult, DRLAgent, TrainConfig, split_with_history, train_agents
from agents.storage import SEEDS_SUMMARY_FILE, AgentPaths
from agents.training.evaluation import AGENT, BUY_AND_HOLD, evaluate_agent, rollout_metrics
from agents.training.market_data import hold_out_calibration
from agents.training.rollout import run_policy
from agents.training.selection import MARGIN_MULTIPLES, choose_switch_margin
from envs import FEATURE_NAMES, PreparedMarket, prepare_market
from tests.agents_helpers import tiny_config


@pytest.fixture(scope="module")
def synthetic() -> PreparedMarket:
    return prepare_market("synthetic")


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory: pytest.TempPathFactory) -> AgentResult:
    out = tmp_path_factory.mktemp("dqn") / "agent"
    return train_agents(tiny_config(out, "dqn"), progress_bar=False).agent


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory: pytest.TempPathFactory) -> AgentResult:
    out = tmp_path_factory.mktemp("ppo") / "agent"
    return train_agents(tiny_config(out, "ppo"), progress_bar=False).agent


@pytest.mark.parametrize("run_name", ["dqn_run", "ppo_run"])
def test_training_writes_a_complete_agent_directory(
    run_name: str, request: pytest.FixtureRequest, synthetic: PreparedMarket
) -> None:
    run: AgentResult = request.getfixturevalue(run_name)
    paths = AgentPaths(run.directory)
    manifest = json.loads(paths.manifest.read_text())
    window = manifest["env_config"]["window_size"]

    assert paths.model.is_file() and paths.evaluation.is_file()
    assert any(paths.tensorboard.rglob("events.out.tfevents.*"))
    assert (paths.eval_log / "evaluations.npz").is_file()
    assert len(list(paths.checkpoints.glob("*.zip"))) == 2  # every 256 of 512 steps
    assert manifest["algorithm"] == run_name.removesuffix("_run")
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["observation_shape"] == [window * len(FEATURE_NAMES) + 2]
    assert manifest["env_config"]["target_positions"] == [0.0, 0.5, 1.0]
    assert manifest["env_config"]["cost_model"]["commission_bps"] == 1.0
    assert manifest["data_source"] == "synthetic"
    assert manifest["data_hash"] == synthetic.data_hash
    assert manifest["normalizer"] == synthetic.normalizer.to_dict()
    assert manifest["splits"]["test"][0] == str(synthetic.test.dates[0])[:10]
    assert set(manifest["library_versions"]) == {"torch", "stable-baselines3", "gymnasium", "numpy"}
    assert manifest["format_version"] == 3
    calibration = manifest["calibration"]
    assert calibration["map"]["slope"] >= 0.0
    assert len(calibration["map"]["intercepts"]) == 3
    assert 0.0 <= calibration["ece"] <= 1.0
    assert calibration["log_loss"] > 0.0
    # Fitted on the calibration hold-out, the last train bars, not on the validation split.
    held_out = manifest["train_config"]["calibration_bars"]
    assert manifest["splits"]["calibration"] == [
        str(synthetic.train.dates[-held_out])[:10],
        str(synthetic.train.dates[-1])[:10],
    ]
    assert calibration["n_decisions"] == held_out
    assert sum(calibration["action_counts"]) == held_out
    assert sum(b["count"] for b in calibration["reliability"]) == held_out
    evaluation = json.loads(paths.evaluation.read_text())
    assert set(evaluation["strategies"]) == {AGENT, BUY_AND_HOLD}
    assert evaluation["first_date"] == str(synthetic.test.dates[0])[:10]
    agent_test = evaluation["strategies"][AGENT]
    assert agent_test["n_bars"] == synthetic.test.n_bars
    assert 0.0 <= agent_test["ece"] <= 1.0
    assert agent_test["confidence_log_loss"] > 0.0
    assert agent_test["auc"] is None or 0.0 <= agent_test["auc"] <= 1.0
    assert agent_test["trades_per_year"] == pytest.approx(
        agent_test["n_trades"] * 252 / agent_test["n_bars"]
    )
    assert sum(b["count"] for b in evaluation["reliability"]) == synthetic.test.n_bars


@pytest.mark.parametrize("run_name", ["dqn_run", "ppo_run"])
def test_a_reloaded_agent_reproduces_its_recorded_validation_and_test_results(
    run_name: str, request: pytest.FixtureRequest, synthetic: PreparedMarket
) -> None:
    run: AgentResult = request.getfixturevalue(run_name)
    agent = DRLAgent.load(run.directory)
    validation = split_with_history(synthetic, "validation", agent.env_config.window_size)
    test = split_with_history(synthetic, "test", agent.env_config.window_size)

    _, held_out = hold_out_calibration(
        synthetic, agent.manifest.train_config["calibration_bars"], agent.env_config.window_size
    )

    replay = run_policy(validation, agent.env_config, agent.act)
    assert rollout_metrics(replay, validation.periods_per_year) == agent.manifest.validation_metrics
    assert evaluate_agent(agent, test, "test") == run.test
    calibration = agent.manifest.calibration
    replay = run_policy(held_out, agent.env_config, agent.act)
    assert calibration.action_counts == tuple(np.bincount(replay.actions, minlength=3))
    for action, hit_rate in enumerate(calibration.action_hit_rates):
        chosen = replay.actions == action
        assert hit_rate == (replay.correct[chosen].mean() if chosen.any() else None)


def test_decisions_are_deterministic_greedy_and_carry_their_raw_scores(
    dqn_run: AgentResult, ppo_run: AgentResult, synthetic: PreparedMarket
) -> None:
    for run in (dqn_run, ppo_run):
        agent = DRLAgent.load(run.directory)
        market = split_with_history(synthetic, "test", agent.env_config.window_size)
        observations = run_policy(market, agent.env_config, agent.act).observations
        decisions = agent.decide_many(observations)
        again = [agent.decide(obs) for obs in observations]
        held = [int(np.abs(obs[-2] - np.array([0.0, 0.5, 1.0])).argmin()) for obs in observations]
        margin = agent.manifest.switch_margin
        for first, second, holding in zip(decisions, again, held, strict=True):
            assert first.action == second.action
            # A batch and a single row may round differently in float32 matmuls.
            assert first.confidence == pytest.approx(second.confidence, rel=1e-4)
            assert 0.0 <= first.confidence <= 1.0
            assert first.target_position == agent.env_config.target_positions[first.action]
            if agent.algorithm == "dqn":
                assert first.action_probs is None
                scores = first.q_values.copy()
            else:
                assert first.q_values is None
                assert first.action_probs.sum() == pytest.approx(1.0)
                scores = np.log(first.action_probs)
            scores[holding] += margin  # the held action must be beaten by the switch margin
            assert first.action == int(np.argmax(scores))


def test_save_writes_what_load_reads(
    dqn_run: AgentResult, synthetic: PreparedMarket, tmp_path: Path
) -> None:
    agent = DRLAgent.load(dqn_run.directory)
    agent.save(tmp_path / "copy")
    copy = DRLAgent.load(tmp_path / "copy")

    assert copy.manifest == agent.manifest
    observations = run_policy(synthetic.test, agent.env_config, agent.act).observations
    first, second = agent.decide_many(observations), copy.decide_many(observations)
    assert [d.action for d in first] == [d.action for d in second]
    assert [d.confidence for d in first] == [d.confidence for d in second]


def test_the_same_seed_gives_the_same_actions(
    dqn_run: AgentResult, tmp_path: Path, synthetic: PreparedMarket
) -> None:
    again = train_agents(tiny_config(tmp_path / "again", "dqn"), progress_bar=False).agent
    first, second = DRLAgent.load(dqn_run.directory), DRLAgent.load(again.directory)
    market = split_with_history(synthetic, "test", first.env_config.window_size)
    observations = run_policy(market, first.env_config, first.act).observations

    first_actions = [d.action for d in first.decide_many(observations)]
    second_actions = [d.action for d in second.decide_many(observations)]

    assert first_actions == second_actions
    assert again.test == dqn_run.test
    assert again.validation == dqn_run.validation


def test_several_seeds_write_one_directory_each_and_their_ensemble(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "multi", "ppo", seeds=(3, 4))

    run = train_agents(config, progress_bar=False)

    assert [m.seeds for m in run.members] == [(3,), (4,)]
    assert run.ensemble is not None and run.agent is run.ensemble
    summary = json.loads((config.out / SEEDS_SUMMARY_FILE).read_text())
    assert summary["seeds"] == [3, 4]
    sharpes = [r.test.strategies[AGENT]["sharpe"] for r in run.members]
    assert summary["test"]["sharpe"]["mean"] == pytest.approx(np.mean(sharpes))
    assert summary["test"]["sharpe"]["std"] == pytest.approx(np.std(sharpes, ddof=1))
    assert summary["ensemble"]["test"]["sharpe"] == run.ensemble.test.strategies[AGENT]["sharpe"]
    assert DRLAgent.load(config.out / "seed_4").manifest.seeds == (4,)
    ensemble = DRLAgent.load(config.out)
    assert ensemble.manifest.seeds == (3, 4)
    assert ensemble.manifest.model_files == ("models/seed_3.zip", "models/seed_4.zip")
    assert json.loads(AgentPaths(config.out).evaluation.read_text()) == run.ensemble.test.to_dict()


def test_force_replaces_the_earlier_agent_whole_and_nothing_else(tmp_path: Path) -> None:
    """An ensemble retrained as one seed (and back) leaves none of the other's files beside it,
    which a reader could take for the new agent's; a file of the user's stays."""
    out = tmp_path / "agent"
    train_agents(tiny_config(out, "dqn", seeds=(0, 1)), progress_bar=False)
    (out / "notes.txt").write_text("mine")
    train_agents(tiny_config(out, "dqn", force=True), progress_bar=False)
    single = {"best", "checkpoints", "eval", "evaluation.json", "manifest.json", "model.zip"}
    assert {path.name for path in out.iterdir()} == single | {"notes.txt", "tensorboard"}
    train_agents(tiny_config(out, "dqn", seeds=(0, 1), force=True), progress_bar=False)
    ensemble = {"evaluation.json", "manifest.json", "models", "seed_0", "seed_1"}
    assert {path.name for path in out.iterdir()} == ensemble | {"notes.txt", SEEDS_SUMMARY_FILE}
    assert DRLAgent.load(out).manifest.seeds == (0, 1)


def test_an_ensemble_decides_by_its_members_mean_probabilities(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "multi", "ppo", seeds=(3, 4))
    train_agents(config, progress_bar=False)
    ensemble = DRLAgent.load(config.out)
    members = [DRLAgent.load(config.out / f"seed_{seed}") for seed in (3, 4)]
    market = split_with_history(prepare_market("synthetic"), "test", 30)
    observations = run_policy(market, ensemble.env_config, ensemble.act).observations

    decisions = ensemble.decide_many(observations)

    probabilities = np.mean(
        [[d.action_probs for d in member.decide_many(observations)] for member in members], axis=0
    )
    np.testing.assert_allclose([d.action_probs for d in decisions], probabilities, rtol=1e-6)
    margin = ensemble.manifest.switch_margin
    for decision, observation in zip(decisions, observations, strict=True):
        held = int(np.abs(observation[-2] - np.array([0.0, 0.5, 1.0])).argmin())
        scores = np.log(decision.action_probs)
        scores[held] += margin
        assert decision.action == int(scores.argmax())


def test_an_agent_runs_on_another_source_whose_features_match(dqn_run: AgentResult) -> None:
    agent = DRLAgent.load(dqn_run.directory)
    sp500 = prepare_market("sp500", normalizer=agent.feature_normalizer())
    market = split_with_history(sp500, "test", agent.env_config.window_size)

    agent.check_compatible(market.feature_names, (agent.observation_shape[0],))
    evaluation = evaluate_agent(agent, market, "test")

    assert evaluation.first_date == "2015-01-02"
    assert evaluation.strategies[AGENT]["n_bars"] == sp500.test.n_bars


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_default_settings_are_deterministic_at_full_scale(algo: str, tmp_path: Path) -> None:
    config = TrainConfig(algo=algo, data="synthetic", out=tmp_path / "a", timesteps=20_000)

    first = train_agents(config, progress_bar=False).agent
    again = config.model_copy(update={"out": tmp_path / "b"})
    second = train_agents(again, progress_bar=False).agent

    assert first.test == second.test
    assert first.validation == second.validation


def test_confidence_at_decision_time_never_reads_a_later_bar(
    dqn_run: AgentResult, synthetic: PreparedMarket
) -> None:
    """The outcome labels look ahead (they are training targets); the decision and its
    confidence must not: rewriting every bar after t leaves the decisions up to t unchanged. The
    future is rewritten three ways (noise, a halving, a doubling, each with new features): a
    decision whose label straddles t is right after one of halving and doubling and wrong after
    the other, so one of them must change the labels, whatever the agent chose."""
    agent = DRLAgent.load(dqn_run.directory)
    market = split_with_history(synthetic, "test", agent.env_config.window_size)
    cut = market.n_bars // 2
    rng = np.random.default_rng(7)
    futures = [rng.uniform(0.5, 1.5, market.n_bars - cut), 0.5, 2.0]
    rewritten = [
        dataclasses.replace(
            market,
            open=np.concatenate([market.open[:cut], market.open[cut:] * future]),
            close=np.concatenate([market.close[:cut], market.close[cut:] * future]),
            features=np.concatenate(
                [market.features[:cut], rng.normal(size=market.features[cut:].shape)]
            ).astype(market.features.dtype),
        )
        for future in futures
    ]
    runs = [run_policy(m, agent.env_config, agent.act) for m in (market, *rewritten)]
    # Decided at a close before the rewritten bars (a wild rewritten future may end a run early).
    known = [run.decision_bars < cut for run in runs]
    decisions = [agent.decide_many(run.observations[k]) for run, k in zip(runs, known, strict=True)]
    original, *others = decisions
    assert len(original) > 0
    for other in others:
        assert [d.action for d in other] == [d.action for d in original]
        assert [d.confidence for d in other] == [d.confidence for d in original]
    labels = [run.correct[k] for run, k in zip(runs, known, strict=True)]
    assert any(not np.array_equal(labels[0], later) for later in labels[1:])  # they look ahead


def test_the_switch_margin_is_chosen_on_validation_within_the_turnover_budget(
    dqn_run: AgentResult, synthetic: PreparedMarket
) -> None:
    agent = DRLAgent.load(dqn_run.directory)
    validation = split_with_history(synthetic, "validation", agent.env_config.window_size)
    budget = agent.manifest.train_config["max_trades_per_year"]

    chosen, trials, rollout = choose_switch_margin(
        agent.models, validation, agent.env_config, budget
    )

    assert trials == agent.manifest.switch_margin_search  # what training recorded
    assert chosen.margin == agent.manifest.switch_margin
    assert (
        rollout_metrics(rollout, validation.periods_per_year) == agent.manifest.validation_metrics
    )
    assert [t.multiple for t in trials] == list(MARGIN_MULTIPLES)
    within = [t for t in trials if t.validation_trades_per_year <= budget]
    if within:  # the best Sharpe among the margins within the budget
        assert chosen.validation_trades_per_year <= budget
        assert chosen.validation_sharpe == max(t.validation_sharpe or -np.inf for t in within)
    else:  # else the margin that trades least
        assert chosen.validation_trades_per_year == min(
            t.validation_trades_per_year for t in trials
        )
