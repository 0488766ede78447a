"""BatchedTradingEnv: the same transitions as N independent TradingEnvs, in one vectorised step."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from envs import BatchedTradingEnv, CostModel, EnvConfig, EnvSetupError, TradingEnv
from tests.env_helpers import make_market, random_walk_market

BASE = EnvConfig(window_size=5, cost_model=CostModel(10.0, 20.0), episode_length=30)
CONFIGS = {
    "long_only_random_starts": BASE,
    "long_short_random_starts": replace(BASE, mode="long_short"),
    "full_pass": replace(BASE, episode_length=None),
    "differential_sharpe": replace(BASE, mode="long_short", reward="differential_sharpe"),
    # 0.45 <-> 0.5 lies inside the band: orders skipped, drift rebalanced, trades penalised.
    "band_and_penalty": replace(
        BASE, long_only_positions=(0.0, 0.45, 0.5), rebalance_band=0.1, turnover_penalty=0.003
    ),
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_independent_envs_step_for_step(config: EnvConfig) -> None:
    market = random_walk_market(n_bars=120, n_features=3, seed=21)
    n_envs = 6
    batched = BatchedTradingEnv(market, config, n_envs, seed=5)
    reference = DummyVecEnv([lambda: TradingEnv(market, config) for _ in range(n_envs)])
    reference.seed(5)
    assert batched.reset().tobytes() == reference.reset().tobytes()
    rng = np.random.default_rng(0)
    episodes_ended = 0
    for _ in range(300):
        actions = rng.integers(0, 3, n_envs)
        obs, rewards, dones, infos = batched.step(actions)
        ref_obs, ref_rewards, ref_dones, ref_infos = reference.step(actions)
        assert obs.tobytes() == ref_obs.tobytes()
        assert dones.tolist() == ref_dones.tolist()
        np.testing.assert_allclose(rewards, ref_rewards, rtol=1e-6, atol=1e-9)
        assert rewards.dtype == ref_rewards.dtype
        for i in range(n_envs):
            if dones[i]:
                episodes_ended += 1
                assert infos[i]["equity"] == ref_infos[i]["equity"]
                terminal, ref_terminal = (
                    infos[i]["terminal_observation"],
                    ref_infos[i]["terminal_observation"],
                )
                assert terminal.tobytes() == ref_terminal.tobytes()
                assert infos[i]["TimeLimit.truncated"] == ref_infos[i]["TimeLimit.truncated"]
            else:
                assert batched.equity[i] == ref_infos[i]["equity"]
                assert batched.position[i] == ref_infos[i]["position"]
    assert episodes_ended >= n_envs


def test_ruined_copy_terminates_and_restarts_like_trading_env() -> None:
    market = make_market(open_=[10] * 4 + [35, 36, 37], close=[10] * 4 + [40, 41, 42])
    config = EnvConfig(window_size=3, mode="long_short", initial_cash=1_000.0)
    batched = BatchedTradingEnv(market, config, n_envs=2, seed=0)
    batched.reset()
    batched.step(np.array([0, 1]))  # copy 0 shorts 100% at open 10, copy 1 stays flat
    _, rewards, dones, infos = batched.step(np.array([0, 1]))  # close 40: copy 0 is ruined
    assert dones.tolist() == [True, False]
    assert infos[0]["TimeLimit.truncated"] is False and infos[0]["equity"] < 0.0
    assert np.isfinite(rewards).all() and rewards[0] < -10.0
    assert batched.equity[0] == 1_000.0 and batched.shares[0] == 0.0  # restarted


def test_seeding_is_reproducible_and_copies_start_apart() -> None:
    market = random_walk_market(n_bars=500, seed=22)
    first = BatchedTradingEnv(market, BASE, n_envs=8, seed=1)
    second = BatchedTradingEnv(market, BASE, n_envs=8, seed=1)
    assert first.reset().tobytes() == second.reset().tobytes()
    assert len(set(first._bar.tolist())) > 4
    other = BatchedTradingEnv(market, BASE, n_envs=8, seed=2)
    assert other.reset().tobytes() != first.reset().tobytes()


def test_trains_with_stable_baselines3() -> None:
    market = random_walk_market(n_bars=200, seed=23)
    env = VecMonitor(BatchedTradingEnv(market, BASE, n_envs=4, seed=0))
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    actions, _ = model.predict(env.reset(), deterministic=True)
    assert actions.shape == (4,)


def test_vec_env_plumbing_and_misuse() -> None:
    batched = BatchedTradingEnv(random_walk_market(n_bars=60, seed=24), BASE, n_envs=3)
    with pytest.raises(RuntimeError, match="reset"):
        batched.step(np.zeros(3, dtype=np.int64))
    batched.reset()
    with pytest.raises(ValueError, match=r"actions must be integers in 0\.\.2"):
        batched.step(np.array([0, 3, 1]))
    with pytest.raises(ValueError, match="actions"):
        batched.step(np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="actions"):
        batched.step(np.array([0.0, 1.0, 1.0]))
    assert batched.get_attr("render_mode") == [None, None, None]
    assert batched.env_is_wrapped(VecMonitor, indices=[0, 2]) == [False, False]
    batched.set_attr("render_mode", None)
    with pytest.raises(ValueError, match="indices=None"):
        batched.set_attr("render_mode", None, indices=[1])
    with pytest.raises(EnvSetupError, match="n_envs"):
        BatchedTradingEnv(random_walk_market(n_bars=60), BASE, n_envs=0)
