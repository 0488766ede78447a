"""Training on several sources: the pooled env, the options, and the agent it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents import AgentError, DRLAgent, TrainConfig, split_with_history, train_agents
from agents.storage import AgentPaths
from agents.training.evaluation import AGENT, evaluate_agent
from agents.training.pooled_env import PooledVecEnv, copies_per_source
from envs import BatchedTradingEnv, EnvConfig, prepare_market
from tests.agents_helpers import tiny_config
from tests.env_helpers import random_walk_market

CONFIG = EnvConfig(window_size=5, episode_length=20)


def test_copies_are_shared_evenly_and_every_source_gets_one() -> None:
    assert copies_per_source(8, 3) == [3, 3, 2]
    assert copies_per_source(2, 2) == [1, 1]
    with pytest.raises(ValueError, match="2 envs cannot give each of 3 sources a copy"):
        copies_per_source(2, 3)


def test_the_pool_steps_exactly_as_its_sources_stepped_apart() -> None:
    markets = [random_walk_market(n_bars=100, seed=s) for s in (1, 2)]
    pool = PooledVecEnv(
        [BatchedTradingEnv(m, CONFIG, n) for m, n in zip(markets, (3, 2), strict=True)]
    )
    apart = [BatchedTradingEnv(m, CONFIG, n) for m, n in zip(markets, (3, 2), strict=True)]
    pool.seed(7)
    apart[0].seed(7)
    apart[1].seed(10)  # the pool's fourth copy: seed + 3
    observations = pool.reset()
    assert observations.tobytes() == np.concatenate([env.reset() for env in apart]).tobytes()
    rng = np.random.default_rng(0)
    for _ in range(60):
        actions = rng.integers(0, 3, 5)
        obs, rewards, dones, infos = pool.step(actions)
        parts = [apart[0].step(actions[:3]), apart[1].step(actions[3:])]
        assert obs.tobytes() == np.concatenate([p[0] for p in parts]).tobytes()
        assert rewards.tobytes() == np.concatenate([p[1] for p in parts]).tobytes()
        assert dones.tolist() == [*parts[0][2], *parts[1][2]]
        assert len(infos) == 5
    assert pool.get_attr("num_envs") == [3, 3, 3, 2, 2]


def test_data_names_distinct_sources() -> None:
    assert TrainConfig(data="sp500,nasdaq").sources == ("sp500", "nasdaq")
    for bad in ("sp500,,nasdaq", "sp500,sp500", "sp500,"):
        with pytest.raises(AgentError, match="--data must name distinct sources"):
            TrainConfig(data=bad)


def test_a_pooled_agent_records_its_sources_and_normalises_each_on_its_own(
    tmp_path: Path,
) -> None:
    config = tiny_config(tmp_path / "pooled", "dqn", data="synthetic,nasdaq")

    run = train_agents(config, progress_bar=False)

    manifest = json.loads(AgentPaths(config.out).manifest.read_text())
    assert manifest["training_sources"] == ["synthetic", "nasdaq"]
    assert manifest["data_source"] == "synthetic"  # validated, calibrated and tested
    assert manifest["data_hash"] == prepare_market("synthetic").data_hash
    assert manifest["normalizer"] is None
    agent = DRLAgent.load(config.out)
    assert agent.feature_normalizer() is None
    # Any source it runs on is normalised on its own train split, as in training.
    nasdaq = prepare_market("nasdaq", normalizer=agent.feature_normalizer())
    market = split_with_history(nasdaq, "test", agent.env_config.window_size)
    evaluation = evaluate_agent(agent, market, "test")
    assert evaluation.strategies[AGENT]["n_bars"] == nasdaq.test.n_bars
    assert run.agent.test.first_date == str(prepare_market("synthetic").test.dates[0])[:10]
