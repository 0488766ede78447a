"""The compiled batched step: the Python formulas bit for bit, and its fast paths."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from envs import (
    BatchedTradingEnv,
    CostModel,
    EnvConfig,
    ObservationBuilder,
    TradingEnv,
    order_needed,
    rebalance,
)
from envs.trading import kernels
from envs.trading.batched_env import RunningEpisodeInfo
from envs.trading.kernels import differential_sharpe
from tests.env_helpers import random_walk_market

COSTS = CostModel(commission_bps=10.0, slippage_bps=20.0)
CONFIG = EnvConfig(window_size=5, mode="long_short", cost_model=COSTS, episode_length=40)


def test_compiled_fill_is_rebalance_bit_for_bit() -> None:
    rng = np.random.default_rng(30)
    n = 2_000
    cash, shares = rng.uniform(-5_000.0, 20_000.0, n), rng.uniform(-50.0, 150.0, n)
    target, price = rng.choice([-1.0, -0.3, 0.0, 0.5, 1.0], n), rng.uniform(10.0, 200.0, n)
    expected = rebalance(cash, shares, target, price, COSTS)
    for i in range(n):
        delta = kernels._order_shares(
            cash[i], shares[i], target[i], price[i], COSTS.buy_cost_rate, COSTS.sell_cost_rate
        )
        fill = kernels._fill_order(
            cash[i], shares[i], delta, price[i], COSTS.slippage_rate, COSTS.commission_rate
        )
        assert np.array(fill).tobytes() == np.array([f[i] for f in expected]).tobytes()


def test_compiled_differential_sharpe_is_the_python_one_bit_for_bit() -> None:
    rng = np.random.default_rng(31)
    returns = rng.normal(0.0, 0.01, 300)
    mean = second = compiled_mean = compiled_second = 0.0
    for r in returns:
        reward, mean, second = differential_sharpe(float(r), mean, second, 0.05)
        compiled, compiled_mean, compiled_second = kernels._differential_sharpe(
            r, compiled_mean, compiled_second, 0.05
        )
        assert (compiled, compiled_mean, compiled_second) == (reward, mean, second)


def test_compiled_order_needed_is_the_python_one() -> None:
    rng = np.random.default_rng(33)
    values = np.concatenate([rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 500), rng.uniform(-1, 1, 500)])
    bands = rng.uniform(0.0, 0.5, len(values))
    for current, target, band in zip(values, rng.permutation(values), bands, strict=True):
        assert kernels._order_needed(current, target, band) == order_needed(current, target, band)


@pytest.mark.parametrize("reward", ["log_return", "differential_sharpe"])
def test_batched_state_and_rewards_are_trading_env_bit_for_bit(reward: str) -> None:
    market = random_walk_market(n_bars=150, n_features=2, seed=32)
    # A band wide enough to skip some orders, and a turnover penalty in the reward.
    config = replace(CONFIG, reward=reward, rebalance_band=0.6, turnover_penalty=0.002)
    batched = BatchedTradingEnv(market, config, n_envs=5, seed=3)
    reference = DummyVecEnv([lambda: TradingEnv(market, config) for _ in range(5)])
    reference.seed(3)
    batched.reset()
    reference.reset()
    rng = np.random.default_rng(4)
    for _ in range(120):
        actions = rng.integers(0, 3, 5)
        _, rewards, dones, _ = batched.step(actions)
        _, ref_rewards, _, ref_infos = reference.step(actions)
        assert rewards.tobytes() == ref_rewards.tobytes()
        for i in np.flatnonzero(~dones):
            info = ref_infos[i]
            assert (batched.cash[i], batched.shares[i]) == (info["cash"], info["shares"])
            assert batched.log_return[i] == info["log_return"]
            assert batched.target_position[i] == info["target_position"]


def test_write_observations_is_observe_bit_for_bit_including_the_clip() -> None:
    market = random_walk_market(n_bars=80, n_features=3, seed=33)
    builder = ObservationBuilder(market.features * 8.0, window_size=4, clip=10.0)
    bars = np.array([3, 40, 79, 3])
    positions = np.array([0.5, -25.0, 1.0, 12.0])
    drawdowns = np.array([0.0, -0.9, -0.25, -1.0])
    batch = builder.observe_batch(bars, positions, drawdowns)
    for i, bar in enumerate(bars):
        one = builder.observe(int(bar), float(positions[i]), float(drawdowns[i]))
        assert batch[i].tobytes() == one.tobytes()
    assert batch[1, -2] == -10.0 and batch[3, -2] == 10.0


def test_running_copies_share_one_empty_read_only_info() -> None:
    env = BatchedTradingEnv(random_walk_market(n_bars=100, seed=34), CONFIG, n_envs=3, seed=0)
    env.reset()
    _, _, dones, infos = env.step(np.array([0, 1, 2]))
    assert not dones.any() and infos[0] is infos[1] is infos[2]
    assert isinstance(infos[0], dict) and infos[0] == {} and infos[0].get("episode") is None
    with pytest.raises(TypeError, match="read-only"):
        infos[0]["episode"] = {}
    with pytest.raises(TypeError, match="read-only"):
        infos[0].update(x=1)
    mine = dict(infos[0])
    mine["x"] = 1
    assert infos[1] == {} and isinstance(copy.deepcopy(infos[1]), RunningEpisodeInfo)


def test_episode_ends_still_get_fresh_infos_through_vec_monitor() -> None:
    env = VecMonitor(
        BatchedTradingEnv(random_walk_market(n_bars=100, seed=35), CONFIG, n_envs=2, seed=0)
    )
    env.reset()
    for _ in range(CONFIG.episode_length):
        _, _, dones, infos = env.step(np.array([2, 1]))
    assert dones.all()
    assert infos[0] is not infos[1]
    assert infos[0]["episode"]["l"] == CONFIG.episode_length
    assert "terminal_observation" in infos[1] and infos[1]["TimeLimit.truncated"] is True


def test_actions_of_any_integer_type_or_strides_step_alike() -> None:
    market = random_walk_market(n_bars=120, seed=36)
    actions = np.random.default_rng(5).integers(0, 3, (30, 4))
    given_as = {
        "int64": lambda a: a,
        "int32": lambda a: a.astype(np.int32),
        "uint8": lambda a: a.astype(np.uint8),
        "list": lambda a: a.tolist(),
        "column": lambda a: np.repeat(a[:, None], 2, axis=1)[:, 0],  # strided int64
        "async": None,
    }
    results = {}
    for name, convert in given_as.items():
        env = BatchedTradingEnv(market, CONFIG, n_envs=4, seed=9)
        env.reset()
        for row in actions:
            if convert is None:
                env.step_async(row)
                obs, rewards, _, _ = env.step_wait()
            else:
                obs, rewards, _, _ = env.step(convert(row))
        results[name] = (obs.tobytes(), rewards.tobytes(), env.equity.tobytes())
    assert len(set(results.values())) == 1
    equity = env.equity.copy()
    for bad in (np.zeros(3, dtype=np.int64), np.zeros(5, dtype=np.int32), [0, 1, 2, 2**40]):
        with pytest.raises(ValueError, match=r"integers in 0\.\.2, one for each of the 4 copies"):
            env.step(bad)
    assert env.equity.tobytes() == equity.tobytes()  # refused before any change


def test_trading_env_copies_and_pickles_mid_episode() -> None:
    env = TradingEnv(random_walk_market(n_bars=400, seed=37), CONFIG)
    env.reset(seed=1)
    for action in (2, 0, 1):
        env.step(action)
    copied, unpickled = copy.deepcopy(env), pickle.loads(pickle.dumps(env))
    for action in (1, 2, 2, 0, 1):
        steps = [e.step(action) for e in (env, copied, unpickled)]
        assert len({s[0].tobytes() for s in steps}) == 1
        assert steps[0][1:] == steps[1][1:] == steps[2][1:]
