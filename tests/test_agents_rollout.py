"""Sequential rollouts, hindsight outcomes, and evaluation over whole splits."""

from __future__ import annotations

import numpy as np
import pytest

from agents import split_with_history
from agents.outcomes import (
    HORIZON_BARS,
    direction_was_right,
    equity_after_holding,
    horizon_bar,
)
from agents.training.market_data import concatenate
from agents.training.rollout import Policy, run_policy
from envs import CostModel, EnvConfig, TradingEnv, buy_and_hold, prepare_market
from tests.agents_helpers import hand_market, random_market

LONG_SHORT = EnvConfig(window_size=3, mode="long_short", long_short_positions=(-1.0, 0.0, 0.5, 1.0))


def hold_policy(config: EnvConfig) -> Policy:
    """Always the action with the largest target position (fully long)."""
    action = int(np.argmax(config.target_positions))
    return lambda _observation: action


def test_counterfactual_equity_of_the_chosen_action_is_what_the_env_books() -> None:
    market = random_market(seed=0, n_bars=80)
    env = TradingEnv(market, LONG_SHORT)
    targets = LONG_SHORT.target_positions
    rng = np.random.default_rng(1)
    _, info = env.reset()
    for _ in range(60):
        bar, action = info["bar"], int(rng.integers(len(targets)))
        equity = equity_after_holding(
            info["cash"],
            info["shares"],
            info["position"],
            targets[action],
            close_now=market.close[bar],
            open_next=market.open[bar + 1],
            close_later=market.close[bar + 1],
            config=LONG_SHORT,
        )
        _, _, _, _, info = env.step(action)
        assert equity == pytest.approx(info["equity"], rel=1e-12)


def _right_from_cash(target: float, open_next: float, close_later: float, costs: CostModel) -> bool:
    """Whether `target`, chosen from 1000 in cash at a close equal to the next open (no gap),
    was right by `close_later`."""
    config = EnvConfig(cost_model=costs)
    return direction_was_right(
        1000.0,
        0.0,
        0.0,
        target,
        close_now=open_next,
        open_next=open_next,
        close_later=close_later,
        config=config,
    )


def test_direction_outcome_counts_costs_and_judges_flat_against_long() -> None:
    costs = CostModel(commission_bps=10.0, slippage_bps=10.0)  # about 20 bp a side
    # From flat, the price opens at 100 and closes k bars later at 100.1: +10 bp does not pay
    # 20 bp of costs, so flat was right and long, or half long, was wrong.
    assert _right_from_cash(0.0, 100.0, 100.1, costs)
    assert not _right_from_cash(1.0, 100.0, 100.1, costs)
    assert not _right_from_cash(0.5, 100.0, 100.1, costs)
    # A +1% move pays for them: any long target was right, flat wrong.
    assert _right_from_cash(1.0, 100.0, 101.0, costs) and _right_from_cash(0.5, 100.0, 101.0, costs)
    assert not _right_from_cash(0.0, 100.0, 101.0, costs)
    # Ties are right: with no move and no costs every action ends with the same equity.
    assert _right_from_cash(0.0, 100.0, 100.0, CostModel(0.0, 0.0))
    assert _right_from_cash(1.0, 100.0, 100.0, CostModel(0.0, 0.0))


def test_outcomes_look_k_bars_ahead_and_stop_at_the_last_bar() -> None:
    assert horizon_bar(10, 100) == 10 + HORIZON_BARS
    assert horizon_bar(97, 100) == 99


def test_buy_and_hold_rollout_is_the_price_ratio_less_one_entry_cost() -> None:
    config = EnvConfig(window_size=2)
    market = hand_market(open_=[10, 11, 12, 12.4, 13, 14], close=[10, 11.5, 12.5, 11, 13.5, 15])

    rollout = run_policy(market, config, hold_policy(config))

    s, k = config.cost_model.slippage_rate, config.cost_model.commission_rate
    # Decisions at closes of bars 1..4; the buy is sized at close[1] = 11.5, fills at open[2] = 12
    # (the gap borrowed) and is marked at close[5] = 15.
    shares = config.initial_cash / (11.5 * (1 + s) * (1 + k))
    expected_final = config.initial_cash + shares * (15.0 - 12.0 * (1 + s) * (1 + k))
    assert rollout.equity[-1] == pytest.approx(expected_final)
    assert rollout.equity[0] == config.initial_cash
    assert len(rollout.actions) == 4
    np.testing.assert_array_equal(rollout.decision_bars, [1, 2, 3, 4])
    np.testing.assert_array_equal(rollout.positions, [1.0, 1.0, 1.0, 1.0])
    # Each long decision is judged at close[5] = 15 (the horizon cut at the last bar), above every
    # open it could have sold at: all right, even the one held through bar 3's fall (12.4 -> 11).
    np.testing.assert_array_equal(rollout.correct, [True, True, True, True])
    assert rollout.reward_sum == pytest.approx(np.log(expected_final / config.initial_cash))


def test_the_env_s_always_long_rollout_is_envs_buy_and_hold_to_the_last_cent() -> None:
    # buy_and_hold is the one benchmark computation (evaluation, backtest, paper summary); the
    # env holding a repeated action must book exactly the same equity, bar by bar.
    market = random_market(seed=4, n_bars=120)
    config = EnvConfig(window_size=5)
    rollout = run_policy(market, config, hold_policy(config))
    hold = buy_and_hold(market, config.first_bar(), config.initial_cash, config.cost_model)
    np.testing.assert_allclose(hold.equity, rollout.equity, rtol=1e-13)
    np.testing.assert_array_equal(hold.held, rollout.positions)


def test_split_with_history_evaluates_every_bar_of_the_split() -> None:
    prepared = prepare_market("synthetic")
    config = EnvConfig(window_size=30)

    market = split_with_history(prepared, "test", config.window_size)
    rollout = run_policy(market, config, hold_policy(config))

    assert market.n_bars == prepared.test.n_bars + config.window_size
    np.testing.assert_array_equal(rollout.dates, prepared.test.dates)
    # The first decision is made at the close of the last validation bar.
    assert market.dates[rollout.decision_bars[0]] == prepared.validation.dates[-1]


def test_concatenate_refuses_markets_out_of_order() -> None:
    market = random_market(seed=2, n_bars=10)
    with pytest.raises(ValueError, match="start after"):
        concatenate(market.slice(5, 10), market.slice(0, 5))
