"""A single-asset trading environment whose timing and accounting are honest by construction."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.data import MarketArrays
from envs.errors import EnvSetupError
from envs.trading.config import EnvConfig
from envs.trading.execution import market_order, order_needed
from envs.trading.kernels import differential_sharpe, log_growth
from envs.trading.observation import ObservationBuilder

RUIN_EQUITY = 1e-9
"""Equity at or below this (in price units) ends the episode: a short can lose more than equity."""


class TradingEnv(gym.Env[np.ndarray, np.int64]):
    """Trade one asset with discrete target positions; costs always on. Used for evaluation.

    Timing of one step, from bar t to bar t+1:
    1. At close t the agent sees the features of bars t-window+1..t and its portfolio state
       (position fraction and drawdown, both marked at close t); see `ObservationBuilder`.
    2. Its action names a target position (fraction of equity, `EnvConfig.target_positions`). If
       it lies outside the rebalance band of the position at close t, or is an exit to flat
       (`envs.trading.execution.order_needed`), an order sized at close t fills at open[t+1],
       with slippage and commission (`envs.trading.execution.market_order`, the order a broker
       gets); otherwise nothing trades.
    3. The portfolio is marked at close[t+1]: equity V = cash + shares * close[t+1].
    4. reward = log(V[t+1] / V[t]) with every cost inside V, so the rewards of an episode sum to
       log(final equity / initial equity); or, optionally, the differential Sharpe of that return.
       A step that trades then pays `turnover_penalty * |target - position at close t|` more.

    Episodes start at a random bar (`episode_length` steps, then truncated) or, with
    `episode_length=None`, at the first bar with a full window and run to the last bar. Equity at
    or below `RUIN_EQUITY` terminates the episode (its reward uses `RUIN_EQUITY` as final equity).

    `info` holds the portfolio marked at the bar's close and this step's trade: equity, cash,
    shares, position (position value / equity, 0 once ruined), target_position (the target of
    the last order), commission and slippage_cost (paid by this step's order, if `traded`),
    log_return (log(equity / previous equity), costs inside), bar and date.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 - gymnasium: not a ClassVar

    def __init__(
        self, market: MarketArrays, config: EnvConfig | None = None, render_mode: str | None = None
    ) -> None:
        config = EnvConfig() if config is None else config
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise EnvSetupError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        config.check_market_length(market.n_bars)
        check_prices(market)
        self.market = market
        self.config = config
        self.render_mode = render_mode
        self.observation_builder = ObservationBuilder(
            market.features, config.window_size, config.observation_clip
        )
        self.observation_space = self.observation_builder.space
        self.action_space = spaces.Discrete(len(config.target_positions))
        # No episode until reset(): one that has ended, so that step() is refused before it.
        self._bar = self._end_bar = config.first_bar()
        self._start_portfolio()

    def _start_portfolio(self) -> None:
        self._cash = self._equity = self._peak = self.config.initial_cash
        self._shares = 0.0
        self._target = 0.0  # the target position held
        self._position = 0.0  # position value / equity at the last close
        self._drawdown = 0.0  # equity / peak equity - 1 at the last close
        self._dsr_mean = self._dsr_second_moment = 0.0  # the differential Sharpe's moments

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        first_bar = self.config.first_bar()
        length = self.config.episode_length
        if length is None:
            self._bar, self._end_bar = first_bar, self.market.n_bars - 1
        else:
            self._bar = int(self.np_random.integers(first_bar, self.market.n_bars - length))
            self._end_bar = self._bar + length
        self._start_portfolio()
        info = self._info(commission=0.0, slippage_cost=0.0, traded=False, log_return=0.0)
        return self._observation(), info

    def step(
        self, action: int | np.integer
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._bar >= self._end_bar:
            raise RuntimeError("the episode is over: call reset() before step()")
        n_actions = len(self.config.target_positions)
        if not 0 <= action < n_actions:
            raise ValueError(f"action must be in 0..{n_actions - 1}, got {action!r}")

        target = self.config.target_positions[action]
        traded = order_needed(self._position, target, self.config.rebalance_band)
        commission = slippage_cost = penalty = 0.0
        if traded:
            penalty = self.config.turnover_penalty * abs(target - self._position)
            fill = market_order(
                self._cash,
                self._shares,
                target,
                float(self.market.close[self._bar]),
                float(self.market.open[self._bar + 1]),
                self.config.cost_model,
            )
            self._cash, self._shares, self._target = fill.cash, fill.shares, target
            commission, slippage_cost = fill.commission, fill.slippage_cost

        self._bar += 1
        close = float(self.market.close[self._bar])
        previous_equity = self._equity
        self._equity = self._cash + self._shares * close
        terminated = self._equity <= RUIN_EQUITY
        if terminated:  # the account is closed: what the observation shows of a ruined account
            log_return = log_growth(RUIN_EQUITY / previous_equity)
            self._position, self._drawdown = 0.0, -1.0
        else:
            log_return = log_growth(self._equity / previous_equity)
            self._peak = max(self._peak, self._equity)
            self._position = self._shares * close / self._equity
            self._drawdown = self._equity / self._peak - 1.0

        reward = log_return
        if self.config.reward == "differential_sharpe":
            reward, self._dsr_mean, self._dsr_second_moment = differential_sharpe(
                log_return, self._dsr_mean, self._dsr_second_moment, self.config.dsr_eta
            )
        reward -= penalty
        truncated = self._bar == self._end_bar
        info = self._info(
            commission=commission, slippage_cost=slippage_cost, traded=traded, log_return=log_return
        )
        return self._observation(), reward, terminated, truncated, info

    def _observation(self) -> np.ndarray:
        return self.observation_builder.observe(self._bar, self._position, self._drawdown)

    def _info(
        self, *, commission: float, slippage_cost: float, traded: bool, log_return: float
    ) -> dict[str, Any]:
        return {
            "equity": self._equity,
            "cash": self._cash,
            "shares": self._shares,
            "position": self._position,
            "target_position": self._target,
            "commission": commission,
            "slippage_cost": slippage_cost,
            "traded": traded,
            "log_return": log_return,
            "bar": self._bar,
            "date": self.market.dates[self._bar],
        }

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return (
            f"{self.market.dates[self._bar]!s:.10} bar={self._bar} equity={self._equity:.2f}"
            f" position={self._position:+.3f} drawdown={self._drawdown:.2%}"
        )


def check_prices(market: MarketArrays) -> None:
    """Refuse prices the accounting cannot use (loaders validate; direct callers may not)."""
    for name in ("open", "close"):
        prices = getattr(market, name)
        bad = np.flatnonzero(~(np.isfinite(prices) & (prices > 0.0)))
        if bad.size:
            raise EnvSetupError(
                f"market.{name} must be finite and > 0; bar {bad[0]} has {prices[bad[0]]!r}"
            )
