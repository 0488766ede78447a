"""TradingEnv: timing, accounting, rewards, episodes and API checks on hand-made markets."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs import (
    TRADING_ENV_ID,
    CostModel,
    EnvConfig,
    EnvSetupError,
    MarketArrays,
    TradingEnv,
    order_needed,
)
from tests.env_helpers import make_market, random_walk_market

COSTS = CostModel(commission_bps=10.0, slippage_bps=20.0)
S, K = 0.002, 0.001  # COSTS as fractions
LONG_ONLY = EnvConfig(window_size=3, cost_model=COSTS, initial_cash=10_000.0)  # actions 0, .5, 1
LONG_SHORT = replace(LONG_ONLY, mode="long_short")  # actions -1, 0, 1
FULL_LONG = 2


def run(env: TradingEnv, actions: list[int], seed: int | None = None) -> list[tuple]:
    """(obs, reward, terminated, truncated, info) of reset and each step, until the episode ends."""
    obs, info = env.reset(seed=seed)
    transitions = [(obs, 0.0, False, False, info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        transitions.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return transitions


def test_order_fills_at_next_open_with_hand_computed_costs_and_is_marked_at_next_close() -> None:
    market = make_market(
        open_=[10, 11, 12, 12.6, 13, 14], close=[10.5, 11.5, 12.5, 12.9, 13.5, 14.5]
    )
    env = TradingEnv(market, LONG_ONLY)
    _, info = env.reset()
    assert info["bar"] == 2  # first bar with a full window of 3
    _, reward, _, _, info = env.step(FULL_LONG)  # sized at close[2] = 12.5, fills at open[3]
    shares = 10_000.0 / (12.5 * (1 + S) * (1 + K))
    assert info["bar"] == 3 and info["traded"] is True
    assert info["shares"] == pytest.approx(shares, rel=1e-12)
    assert info["slippage_cost"] == pytest.approx(shares * 12.6 * S, rel=1e-12)
    assert info["commission"] == pytest.approx(shares * 12.6 * (1 + S) * K, rel=1e-12)
    cash = 10_000.0 - shares * 12.6 * (1 + S) * (1 + K)  # the gap up (12.5 -> 12.6) is borrowed
    assert info["cash"] == pytest.approx(cash, rel=1e-12)
    assert info["equity"] == pytest.approx(cash + shares * 12.9, rel=1e-12)  # marked at close[3]
    assert reward == pytest.approx(math.log((cash + shares * 12.9) / 10_000.0), rel=1e-12)

    _, _, _, _, info = env.step(FULL_LONG)  # the held target again: no order, no cost
    assert (info["traded"], info["commission"], info["slippage_cost"]) == (False, 0.0, 0.0)
    assert info["equity"] == pytest.approx(cash + shares * 13.5, rel=1e-12)

    _, _, _, truncated, info = env.step(0)  # sell everything at open[5] = 14
    assert info["cash"] == pytest.approx(cash + shares * 14.0 * (1 - S) * (1 - K), rel=1e-12)
    assert info["commission"] == pytest.approx(shares * 14.0 * (1 - S) * K, rel=1e-12)
    assert info["shares"] == pytest.approx(0.0, abs=1e-12)
    assert truncated is True and info["date"] == market.dates[5]


def test_buy_and_hold_equity_is_the_price_ratio_less_one_entry_cost() -> None:
    market = random_walk_market(n_bars=300, seed=1)
    env = TradingEnv(market, LONG_ONLY)
    transitions = run(env, [FULL_LONG] * 1000)
    decision = LONG_ONLY.first_bar()
    shares = 10_000.0 / (market.close[decision] * (1 + S) * (1 + K))  # sized at the close
    cash = 10_000.0 - shares * market.open[decision + 1] * (1 + S) * (1 + K)  # filled at the open
    expected = cash + shares * market.close[-1]
    assert transitions[-1][4]["equity"] == pytest.approx(expected, rel=1e-12)
    assert [t[4]["traded"] for t in transitions[1:]] == [True] + [False] * (len(transitions) - 2)


@pytest.mark.parametrize("config", [LONG_ONLY, LONG_SHORT], ids=["long_only", "long_short"])
def test_equity_is_cash_plus_shares_at_close_and_rewards_sum_to_log_growth(
    config: EnvConfig,
) -> None:
    market = random_walk_market(n_bars=500, seed=2)
    actions = np.random.default_rng(0).integers(0, 3, 1000).tolist()
    transitions = run(TradingEnv(market, config), actions)
    for _, _, _, _, info in transitions:
        close = market.close[info["bar"]]
        assert info["equity"] == pytest.approx(info["cash"] + info["shares"] * close, rel=1e-12)
    final_equity = transitions[-1][4]["equity"]
    total_reward = sum(t[1] for t in transitions)
    assert total_reward == pytest.approx(math.log(final_equity / 10_000.0), rel=1e-9)
    total_costs = sum(t[4]["commission"] + t[4]["slippage_cost"] for t in transitions)
    assert total_costs > 0.0


def test_order_needed_trades_outside_the_band_and_never_blocks_an_exit() -> None:
    assert not order_needed(0.5, 0.55, 0.1)  # inside the band: no order
    assert order_needed(0.5, 0.65, 0.1)  # outside it
    assert order_needed(0.5, 0.0, 0.9)  # an exit to flat trades whatever the band
    assert order_needed(-0.05, 0.0, 0.1)
    assert not order_needed(0.0, 0.0, 0.0)  # flat to flat: nothing to do
    assert order_needed(0.5, 0.5 + 1e-12, 0.0) and not order_needed(0.5, 0.5, 0.0)
    assert not order_needed(-1.0, -0.95, 0.1) and order_needed(-1.0, 1.0, 1.5)


def test_rebalance_band_skips_small_orders_and_rebalances_drift_beyond_it() -> None:
    # Targets 0, 0.45, 0.5: 0.45 -> 0.5 lies inside a 0.1 band, the exit to 0 never does.
    config = replace(LONG_ONLY, long_only_positions=(0.0, 0.45, 0.5), rebalance_band=0.1)
    market = make_market(open_=[10] * 5 + [20] * 3, close=[10] * 5 + [20] * 3)
    env = TradingEnv(market, config)
    env.reset()
    _, _, _, _, info = env.step(1)  # to 0.45 from flat: trades
    assert info["traded"] and info["target_position"] == 0.45
    _, _, _, _, info = env.step(2)  # to 0.5: within the band of 0.45, no order
    assert not info["traded"] and info["target_position"] == 0.45
    assert info["position"] == pytest.approx(0.45, rel=1e-3)
    _, _, _, _, info = env.step(1)  # the price doubles at bar 5: the position drifts to ~0.62
    assert not info["traded"] and info["position"] > 0.6
    _, _, _, _, info = env.step(1)  # 0.45 is now outside the band: rebalanced back
    assert info["traded"] and info["position"] == pytest.approx(0.45, rel=1e-9)


def test_turnover_penalty_lowers_the_reward_of_a_trade_and_never_the_equity() -> None:
    market = random_walk_market(n_bars=60, seed=5)
    actions = [FULL_LONG, FULL_LONG, 0, 1, 1, FULL_LONG]
    plain = run(TradingEnv(market, LONG_ONLY), actions)
    penalised = run(TradingEnv(market, replace(LONG_ONLY, turnover_penalty=0.01)), actions)
    previous_position = 0.0
    for before, after in zip(plain[1:], penalised[1:], strict=True):
        info = after[4]
        assert info["equity"] == before[4]["equity"]
        traded = abs(info["target_position"] - previous_position) if info["traded"] else 0.0
        assert after[1] == pytest.approx(before[1] - 0.01 * traded, abs=1e-4 * 0.01)
        previous_position = info["position"]


def test_long_only_never_holds_a_short_and_borrows_only_an_overnight_gap() -> None:
    market = random_walk_market(n_bars=500, seed=3)
    actions = np.random.default_rng(1).integers(0, 3, 1000).tolist()
    cash = 10_000.0
    for _, _, _, _, info in run(TradingEnv(market, LONG_ONLY), actions):
        bar = info["bar"]
        assert info["shares"] >= 0.0 and info["position"] >= -1e-12
        if not info["traded"]:
            assert info["cash"] == cash
        else:  # sized at close[bar - 1] to spend at most the cash; the gap up is borrowed
            gap = max(market.open[bar] / market.close[bar - 1] - 1.0, 0.0)
            assert info["cash"] >= -gap * info["shares"] * market.close[bar - 1] * 1.01 - 1e-9
        cash = info["cash"]


def test_long_short_can_go_short_and_a_blown_up_short_terminates() -> None:
    market = make_market(open_=[10, 10, 10, 10, 35, 36], close=[10, 10, 10, 10, 40, 41])
    env = TradingEnv(market, LONG_SHORT)
    env.reset()
    _, _, terminated, _, info = env.step(0)  # short 100% at open[3] = 10
    assert info["shares"] < 0.0 and info["position"] == pytest.approx(-1.0, rel=1e-3)
    assert not terminated
    obs, reward, terminated, _, info = env.step(0)  # close 40: a short of equity loses 3x
    assert terminated is True and info["equity"] < 0.0
    assert math.isfinite(reward) and reward < -10.0
    assert env.observation_space.contains(obs)
    assert obs[-2:].tolist() == [0.0, -1.0]  # a ruined account shows as closed


def test_no_look_ahead_observations_before_t_ignore_every_later_bar() -> None:
    market = random_walk_market(n_bars=120, n_features=4, seed=4)
    t = 60
    rng = np.random.default_rng(99)
    noise = {
        name: getattr(market, name).copy() for name in ("open", "high", "low", "close", "volume")
    }
    for prices in noise.values():
        prices[t + 1 :] = rng.uniform(1.0, 500.0, len(prices) - t - 1)
    features = market.features.copy()
    features[t + 1 :] = rng.normal(size=features[t + 1 :].shape)
    altered = MarketArrays(
        dates=market.dates, features=features, feature_names=market.feature_names, **noise
    )
    actions = np.random.default_rng(5).integers(0, 3, 200).tolist()
    original = run(TradingEnv(market, LONG_SHORT), actions)
    changed = run(TradingEnv(altered, LONG_SHORT), actions)
    seen = [(a, b) for a, b in zip(original, changed, strict=False) if a[4]["bar"] <= t]
    assert len(seen) == t - LONG_SHORT.first_bar() + 1
    for before, after in seen:
        assert before[0].tobytes() == after[0].tobytes()
        assert before[1] == after[1] and before[4]["equity"] == after[4]["equity"]
    first_after = next(a for a in changed if a[4]["bar"] == t + 1)
    assert first_after[0].tobytes() != original[t - LONG_SHORT.first_bar() + 1][0].tobytes()


def test_observation_is_the_feature_window_then_position_and_drawdown() -> None:
    market = random_walk_market(n_bars=50, n_features=4, seed=6)
    env = TradingEnv(market, LONG_ONLY)
    env.reset()
    obs, _, _, _, info = env.step(1)
    bar = info["bar"]
    np.testing.assert_array_equal(obs[:12], market.features[bar - 2 : bar + 1].ravel())
    assert obs[12] == np.float32(info["position"])
    assert obs[13] == np.float32(info["equity"] / max(10_000.0, info["equity"]) - 1.0)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape


def test_the_observation_builder_rebuilds_the_env_observation_from_its_portfolio_state() -> None:
    market = random_walk_market(n_bars=300, seed=7)
    env = TradingEnv(market, LONG_SHORT)
    actions = np.random.default_rng(2).integers(0, 3, 1000).tolist()
    peak = 10_000.0
    for obs, _, _, _, info in run(env, actions):
        peak = max(peak, info["equity"])
        drawdown = info["equity"] / peak - 1.0
        rebuilt = env.observation_builder.observe(info["bar"], info["position"], drawdown)
        assert rebuilt.tobytes() == obs.tobytes()
    with pytest.raises(EnvSetupError, match="no full feature window"):
        env.observation_builder.observe(1, 0.0, 0.0)


def test_features_are_clipped_into_the_observation_space() -> None:
    features = np.full((10, 1), 50.0, dtype=np.float32)
    env = TradingEnv(make_market(np.ones(10), np.ones(10), features), LONG_ONLY)
    obs, _ = env.reset()
    assert obs[:3].tolist() == [10.0, 10.0, 10.0] and env.observation_space.contains(obs)


def test_every_step_returns_a_fresh_observation() -> None:
    env = TradingEnv(random_walk_market(n_bars=100, seed=8), LONG_ONLY)
    previous, _ = env.reset()
    kept = previous.copy()
    for action in (0, 1, 2, 2, 0):
        obs, *_ = env.step(action)
        assert not np.shares_memory(obs, previous)
        obs[:] = -1.0
        previous = obs
    assert np.array_equal(kept, env.reset()[0])


def test_full_pass_visits_every_bar_once_and_truncates_at_the_last() -> None:
    market = random_walk_market(n_bars=40, seed=9)
    transitions = run(TradingEnv(market, LONG_ONLY), [1] * 100)
    assert [t[4]["bar"] for t in transitions] == list(range(2, 40))
    assert [t[3] for t in transitions] == [False] * 37 + [True]
    assert not any(t[2] for t in transitions)


def test_random_start_episodes_have_fixed_length_and_seeded_starts() -> None:
    market = random_walk_market(n_bars=100, seed=10)
    env = TradingEnv(market, replace(LONG_ONLY, episode_length=20))
    starts = set()
    for seed in range(30):
        transitions = run(env, [1] * 100, seed=seed)
        bars = [t[4]["bar"] for t in transitions]
        assert len(transitions) == 21 and bars == list(range(bars[0], bars[0] + 21))
        assert 2 <= bars[0] <= 100 - 1 - 20
        again = run(env, [1] * 100, seed=seed)
        assert [t[0].tobytes() for t in again] == [t[0].tobytes() for t in transitions]
        starts.add(bars[0])
    assert len(starts) > 10


def test_differential_sharpe_follows_moody_and_saffell() -> None:
    market = random_walk_market(n_bars=200, seed=11)
    config = replace(LONG_ONLY, reward="differential_sharpe", dsr_eta=0.05)
    actions = np.random.default_rng(3).integers(0, 3, 1000).tolist()
    transitions = run(TradingEnv(market, config), actions)[1:]
    mean = second = 0.0
    for _, reward, _, _, info in transitions:
        r = info["log_return"]
        variance = second - mean**2
        expected = 0.0
        if variance > 1e-12:
            expected = (second * (r - mean) - 0.5 * mean * (r * r - second)) / variance**1.5
        assert reward == pytest.approx(expected, rel=1e-9, abs=1e-12)
        mean, second = mean + 0.05 * (r - mean), second + 0.05 * (r * r - second)
    assert transitions[0][1] == 0.0
    assert sum(abs(t[1]) for t in transitions) > 0.0


def test_registered_for_gymnasium_make_and_passes_both_env_checkers() -> None:
    market = random_walk_market(n_bars=300, seed=12)
    configs = [
        EnvConfig(),
        replace(LONG_SHORT, episode_length=50, reward="differential_sharpe"),
    ]
    for config in configs:
        env = gym.make(TRADING_ENV_ID, market=market, config=config)
        assert env.spec is not None and env.spec.id == TRADING_ENV_ID
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gym_check_env(env.unwrapped)
            sb3_check_env(env.unwrapped)
    env = gym.make(TRADING_ENV_ID, market=market, render_mode="ansi")
    env.reset()
    assert "equity=100000.00" in env.render()


def test_made_env_refuses_step_before_reset_without_gymnasiums_order_wrapper() -> None:
    # Registered with order_enforce=False because the env enforces the order itself.
    env = gym.make(TRADING_ENV_ID, market=random_walk_market(n_bars=100, seed=12))
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)


def test_info_reports_every_documented_field() -> None:
    env = TradingEnv(random_walk_market(n_bars=30, seed=13), LONG_ONLY)
    _, info = env.reset()
    expected_keys = {
        "equity", "cash", "shares", "position", "target_position", "commission",
        "slippage_cost", "traded", "log_return", "bar", "date",
    }  # fmt: skip
    assert set(info) == expected_keys
    _, _, _, _, info = env.step(1)
    assert set(info) == expected_keys and info["target_position"] == 0.5


def test_misuse_gets_clear_errors() -> None:
    env = TradingEnv(random_walk_market(n_bars=5, seed=14), LONG_ONLY)
    env.reset()
    with pytest.raises(ValueError, match=r"action must be in 0\.\.2"):
        env.step(3)
    with pytest.raises(ValueError, match="action"):
        env.step(-1)
    env.step(0)
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_size": 0}, "window_size"),
        ({"mode": "short_only"}, "mode"),
        ({"long_only_positions": (0.0, -0.5)}, "long_only_positions"),
        ({"long_short_positions": (1.0,)}, "long_short_positions"),
        ({"long_short_positions": (0.0, 0.0, 1.0)}, "long_short_positions"),
        ({"reward": "sharpe"}, "reward"),
        ({"dsr_eta": 1.5}, "dsr_eta"),
        ({"episode_length": 0}, "episode_length"),
        ({"initial_cash": -1.0}, "initial_cash"),
        ({"observation_clip": 0.5}, "observation_clip"),
        ({"rebalance_band": -0.1}, "rebalance_band"),
        ({"turnover_penalty": float("nan")}, "turnover_penalty"),
        ({"cost_model": None}, "cost_model"),
        ({"window_size": True}, "window_size"),
        ({"initial_cash": "100"}, "initial_cash"),
        ({"long_only_positions": [0.0, 1.0]}, "long_only_positions"),
    ],
)
def test_bad_settings_are_refused_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(EnvSetupError, match=f"^EnvConfig.{field} must be .*, got ") as error:
        EnvConfig(**changes)  # type: ignore[arg-type]
    assert "\n" not in str(error.value)  # the CLI prints it as one line


def test_settings_are_frozen_and_only_known_fields_are_taken() -> None:
    with pytest.raises(EnvSetupError, match="EnvConfig has no field 'windowsize'"):
        EnvConfig(windowsize=5)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        LONG_ONLY.window_size = 5  # type: ignore[misc]
    assert replace(LONG_ONLY, window_size=3) == LONG_ONLY


def test_misaligned_market_arrays_are_refused() -> None:
    market = random_walk_market(n_bars=20)
    with pytest.raises(EnvSetupError, match=r"MarketArrays\.close must have shape \(20,\)"):
        replace(market, close=market.close[:-1])
    with pytest.raises(EnvSetupError, match=r"MarketArrays\.features must have shape \(20, 3\)"):
        replace(market, features=market.features[:, :2])
    with pytest.raises(EnvSetupError, match=r"^MarketArrays\.feature_names is required$"):
        MarketArrays(  # type: ignore[call-arg]
            dates=market.dates,
            open=market.open,
            high=market.high,
            low=market.low,
            close=market.close,
            volume=market.volume,
            features=market.features,
        )


def test_markets_the_env_cannot_run_on_are_refused() -> None:
    with pytest.raises(EnvSetupError, match="at least 23"):
        TradingEnv(random_walk_market(n_bars=22), replace(LONG_ONLY, episode_length=20))
    bad_price = make_market(open_=[1, 1, 0, 1, 1], close=[1, 1, 1, 1, 1])
    with pytest.raises(EnvSetupError, match=r"market\.open.*bar 2"):
        TradingEnv(bad_price, LONG_ONLY)
    features = np.ones((5, 2), dtype=np.float32)
    features[3, 1] = np.nan
    with pytest.raises(EnvSetupError, match=r"\[3, 1\]"):
        TradingEnv(make_market(np.ones(5), np.ones(5), features), LONG_ONLY)
    with pytest.raises(EnvSetupError, match="render_mode"):
        TradingEnv(random_walk_market(n_bars=10), LONG_ONLY, render_mode="human")
