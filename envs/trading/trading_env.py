"""A single-asset trading environment whose timing and accounting are honest by construction."""

from __future__ import annotations

from math import log2
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.data import MarketArrays
from envs.errors import EnvSetupError
from envs.trading.config import EnvConfig
from envs.trading.kernels import LN2, differential_sharpe, fill_order, order_shares
from envs.trading.observation import ObservationBuilder, ObservationStream

RUIN_EQUITY = 1e-9
"""Equity at or below this (in price units) ends the episode: a short can lose more than equity."""


class TradingEnv(gym.Env[np.ndarray, np.int64]):
    """Trade one asset with discrete target positions; costs always on.

    Timing of one step, from bar t to bar t+1:
    1. At close t the agent sees the features of bars t-window+1..t and its portfolio state
       (position fraction and drawdown, both marked at close t); see `ObservationBuilder`.
    2. Its action names a target position (fraction of equity, `EnvConfig.target_positions`). If
       it differs from the target now held, an order rebalances to it at open[t+1], with slippage
       and commission (`envs.trading.execution.rebalance`'s formulas, called here without its `Fill`
       wrapper); repeating the held target trades nothing.
    3. The portfolio is marked at close[t+1]: equity V = cash + shares * close[t+1].
    4. reward = log(V[t+1] / V[t]) with every cost inside V, so the rewards of an episode sum to
       log(final equity / initial equity); or, optionally, the differential Sharpe of that return.

    Episodes start at a random bar (`episode_length` steps, then truncated) or, with
    `episode_length=None`, at the first bar with a full window and run to the last bar. Equity at
    or below `RUIN_EQUITY` terminates the episode (its reward uses `RUIN_EQUITY` as final equity).
    `observation_at` builds the same observation outside the env, for the live trader.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012

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
        # Hot-path copies: Python floats and lists index and multiply without NumPy overhead.
        self._targets = config.target_positions
        self._n_actions = len(self._targets)
        costs = config.cost_model
        self._buy_cost_rate, self._sell_cost_rate = costs.buy_cost_rate, costs.sell_cost_rate
        self._slippage_rate, self._commission_rate = costs.slippage_rate, costs.commission_rate
        self._differential_sharpe = config.reward == "differential_sharpe"
        self._open = market.open.tolist()
        self._close = market.close.tolist()
        self._dates = list(market.dates)
        self._stream = ObservationStream(self.observation_builder)
        self._observe = self._stream.observe
        self._bar = self._end_bar = config.first_bar()
        self._start_portfolio()

    def _start_portfolio(self) -> None:
        self._cash = self._equity = self._peak = float(self.config.initial_cash)
        self._shares = self._target = self._position = self._drawdown = 0.0
        self._dsr_mean = self._dsr_second_moment = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        first = self.config.first_bar()
        length = self.config.episode_length
        if length is None:
            self._bar, self._end_bar = first, self.market.n_bars - 1
        else:
            self._bar = int(self.np_random.integers(first, self.market.n_bars - length))
            self._end_bar = self._bar + length
        self._start_portfolio()
        self._stream.start(self._bar, self._end_bar)
        bar, cash = self._bar, self._cash
        info = step_info(cash, cash, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0.0, bar, self._dates[bar])
        return self._observe(bar, 0.0, 0.0), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        # Locals over attributes throughout: this method is the single env's whole cost.
        bar = self._bar
        if bar >= self._end_bar:
            raise RuntimeError("the episode is over: call reset() before step()")
        if not 0 <= action < self._n_actions:
            raise ValueError(f"action must be in 0..{self._n_actions - 1}, got {action!r}")
        target = self._targets[action]
        cash, shares = self._cash, self._shares
        traded = target != self._target
        if traded:
            price = self._open[bar + 1]
            delta = order_shares(
                cash, shares, target, price, self._buy_cost_rate, self._sell_cost_rate
            )
            cash, shares, commission, slippage_cost, _ = fill_order(
                cash, shares, delta, price, self._slippage_rate, self._commission_rate
            )
            self._cash, self._shares, self._target = cash, shares, target
        else:
            commission = slippage_cost = 0.0
        self._bar = bar = bar + 1
        close = self._close[bar]
        previous_equity = self._equity
        self._equity = equity = cash + shares * close
        terminated = equity <= RUIN_EQUITY
        if terminated:  # the account is closed: what the observation shows of a ruined account
            log_return = log2(RUIN_EQUITY / previous_equity) * LN2
            position, drawdown = 0.0, -1.0
        else:
            log_return = log2(equity / previous_equity) * LN2
            peak = self._peak
            if equity > peak:  # not max(): a builtin call costs 5% of a step
                self._peak = peak = equity
            position = shares * close / equity
            drawdown = equity / peak - 1.0
        self._position, self._drawdown = position, drawdown
        reward = log_return
        if self._differential_sharpe:
            reward, self._dsr_mean, self._dsr_second_moment = differential_sharpe(
                log_return, self._dsr_mean, self._dsr_second_moment, self.config.dsr_eta
            )
        info = step_info(
            equity,
            cash,
            shares,
            position,
            target,
            commission,
            slippage_cost,
            traded,
            log_return,
            bar,
            self._dates[bar],
        )
        return (
            self._observe(bar, position, drawdown),
            reward,
            terminated,
            bar == self._end_bar,
            info,
        )

    def portfolio_state(self) -> tuple[float, float]:
        """(position fraction, drawdown) at the last close, as the observation shows them.

        position fraction = position value / equity; drawdown = equity / peak equity - 1. A
        ruined account (equity <= RUIN_EQUITY) is closed: (0, -1).
        """
        return self._position, self._drawdown

    def observation_at(self, bar: int, position_fraction: float, drawdown: float) -> np.ndarray:
        """The observation at `bar` for any portfolio state: what a live trader feeds the agent."""
        return self.observation_builder.observe(bar, position_fraction, drawdown)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return (
            f"{self._dates[self._bar]!s:.10} bar={self._bar} equity={self._equity:.2f}"
            f" position={self._position:+.3f} drawdown={self._drawdown:.2%}"
        )


def step_info(  # noqa: PLR0917 - built every step, where keywords cost 2% of it
    equity: float,
    cash: float,
    shares: float,
    position: float,
    target_position: float,
    commission: float,
    slippage_cost: float,
    traded: bool,
    log_return: float,
    bar: int,
    date: np.datetime64,
) -> dict[str, Any]:
    """`TradingEnv`'s info dict: the portfolio marked at the bar's close, and this step's trade.

    equity = cash + shares * close; position = position value / equity (0 once ruined);
    target_position: the target the portfolio holds now; commission and slippage_cost: paid by
    this step's order, if `traded`; log_return: log(equity / previous equity), costs inside.
    """
    return {
        "equity": equity,
        "cash": cash,
        "shares": shares,
        "position": position,
        "target_position": target_position,
        "commission": commission,
        "slippage_cost": slippage_cost,
        "traded": traded,
        "log_return": log_return,
        "bar": bar,
        "date": date,
    }


def check_prices(market: MarketArrays) -> None:
    """Refuse prices the accounting cannot use (loaders validate; direct callers may not)."""
    for name in ("open", "close"):
        prices = getattr(market, name)
        bad = np.flatnonzero(~(np.isfinite(prices) & (prices > 0.0)))
        if bad.size:
            raise EnvSetupError(
                f"market.{name} must be finite and > 0; bar {bad[0]} has {prices[bad[0]]!r}"
            )
