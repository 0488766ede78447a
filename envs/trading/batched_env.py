"""N copies of `TradingEnv` on one market, stepped together by one compiled loop, for training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from envs.data import MarketArrays
from envs.errors import EnvSetupError
from envs.trading import kernels
from envs.trading.config import EnvConfig
from envs.trading.observation import ObservationBuilder
from envs.trading.trading_env import RUIN_EQUITY, check_prices

_INT64, _FLOAT32, _BOOL = np.dtype(np.int64), np.dtype(np.float32), np.dtype(np.bool_)


class RunningEpisodeInfo(dict):
    """The `infos[i]` of a copy whose episode goes on: empty, shared by all such copies, and
    read-only, since a change would show in every one of them.

    N fresh empty dicts per step cost as much as the whole compiled step. SB3 only reads these
    (its `VecMonitor` copies an info before adding to it); copy one, `dict(info)`, to change it.
    """

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "this info is shared by every running copy of a BatchedTradingEnv and is read-only;"
            " change a copy: dict(info)"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class BatchedTradingEnv(VecEnv):
    """SB3 `VecEnv` equal, step for step, to `DummyVecEnv` over `n_envs` `TradingEnv`s.

    Same timing, costs, rewards, episodes and seeding as `TradingEnv` (copy i is seeded with `seed +
    i`, as `VecEnv.seed` does), with each copy auto-reset when its episode ends (SB3's convention:
    the last observation goes to `infos[i]["terminal_observation"]`). One step of all copies is one
    call of the compiled `envs.trading.kernels.step_portfolios`, which uses the same fill and reward
    formulas as `TradingEnv`. Per-step diagnostics are arrays (`equity`, `cash`, `shares`,
    `position`, `log_return`, ...; rows of one state matrix, updated in place; after an episode
    ends, its copy's row shows the new episode's start) rather than N info dicts, which would cost
    more than the step; `infos[i]` is a fresh dict only when copy i's episode ends, with its final
    equity and SB3's "TimeLimit.truncated" flag, and otherwise one shared, read-only empty
    `RunningEpisodeInfo`.
    """

    def __init__(
        self,
        market: MarketArrays,
        config: EnvConfig | None = None,
        n_envs: int = 64,
        seed: int | None = None,
    ) -> None:
        config = EnvConfig() if config is None else config
        if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
            raise EnvSetupError(f"n_envs must be an int >= 1, got {n_envs!r}")
        config.check_market_length(market.n_bars)
        check_prices(market)
        self.market = market
        self.config = config
        self.render_mode = None
        self.observation_builder = ObservationBuilder(
            market.features, config.window_size, config.observation_clip
        )
        # Row 0 at bar t: open[t + 1], the fill of a decision made at t; row 1: close[t].
        self._prices = np.stack([np.append(market.open[1:], np.nan), market.close]).astype(
            np.float64
        )
        costs = config.cost_model
        self._parameters = kernels.step_parameters(
            buy_cost_rate=costs.buy_cost_rate,
            sell_cost_rate=costs.sell_cost_rate,
            slippage_rate=costs.slippage_rate,
            commission_rate=costs.commission_rate,
            ruin_equity=RUIN_EQUITY,
            clip=self.observation_builder.clip,
            dsr_eta=config.dsr_eta,
            use_differential_sharpe=config.reward == "differential_sharpe",
            n_features=self.observation_builder.n_features,
            rebalance_band=config.rebalance_band,
            turnover_penalty=config.turnover_penalty,
            targets=config.target_positions,
        )
        super().__init__(
            n_envs, self.observation_builder.space, spaces.Discrete(len(config.target_positions))
        )
        self._rngs: list[np.random.Generator | None] = [None] * n_envs
        self._portfolios = np.zeros((kernels.PORTFOLIO_FIELDS, n_envs))
        self._bars = np.zeros((2, n_envs), dtype=np.int64)
        self._bar, self._end_bar = self._bars[kernels.BAR], self._bars[kernels.END_BAR]
        self.cash = self._portfolios[kernels.CASH]
        self.shares = self._portfolios[kernels.SHARES]
        self.target_position = self._portfolios[kernels.TARGET]
        self.equity = self._portfolios[kernels.EQUITY]
        self.peak = self._portfolios[kernels.PEAK]
        self.position = self._portfolios[kernels.POSITION]
        self.drawdown = self._portfolios[kernels.DRAWDOWN]
        self.log_return = self._portfolios[kernels.LOG_RETURN]
        self._actions: np.ndarray = np.zeros(n_envs, dtype=np.int64)
        self._observations_shape = (n_envs, self.observation_builder.size)
        # What `kernels.step_portfolios` reads and updates, between the actions and the outputs.
        self._step_inputs = (
            self._parameters,
            self._prices,
            self.observation_builder.padded_features,
            self._portfolios,
            self._bars,
        )
        self._step_portfolios = kernels.compiled(
            kernels.step_portfolios,
            kernels.ACTIONS_TYPE,
            *self._step_inputs,
            *kernels.OUTPUT_TYPES,
        )
        self._running_infos: list[dict[str, Any]] = [RunningEpisodeInfo()] * n_envs
        self._started = False
        if seed is not None:
            self.seed(seed)

    def reset(self) -> VecEnvObs:
        self._reset_copies(np.arange(self.num_envs), self._seeds)
        self._reset_seeds()
        self._reset_options()
        self._started = True
        return self.observation_builder.observe_batch(self._bar, self.position, self.drawdown)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions  # checked by step_wait; like SB3's VecEnvs, kept, not copied

    def step_wait(self) -> VecEnvStepReturn:
        return self.step(self._actions)

    def step(self, actions: np.ndarray) -> VecEnvStepReturn:
        """Step every copy; the same as `step_async` then `step_wait`, without a tenth of the
        cost that the pair of calls adds."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        # The compiled step takes int64 vectors of any strides, unchecked by numba (it checks
        # their length and values itself).
        if not (type(actions) is np.ndarray and actions.dtype is _INT64 and actions.ndim == 1):
            actions = self._int64_actions(actions)
        n_envs = self.num_envs
        # Fresh outputs every step: callers keep them past the next one.
        obs = np.empty(self._observations_shape, _FLOAT32)
        rewards = np.empty(n_envs, _FLOAT32)
        dones = np.empty(n_envs, _BOOL)
        n_done = self._step_portfolios(actions, *self._step_inputs, obs, rewards, dones)
        infos = self._running_infos.copy()
        if n_done:
            if n_done < 0:
                self._raise_bad_actions(actions)
            self._finish_episodes(np.flatnonzero(dones), obs, infos)
        return obs, rewards, dones, infos

    def _int64_actions(self, actions: np.ndarray) -> np.ndarray:
        array = np.asarray(actions)
        if array.dtype.kind not in "iu" or array.size != self.num_envs:
            self._raise_bad_actions(actions)
        return array.reshape(self.num_envs).astype(np.int64)

    def _raise_bad_actions(self, actions: np.ndarray) -> NoReturn:
        n_actions = len(self.config.target_positions)
        raise ValueError(
            f"actions must be integers in 0..{n_actions - 1}, one for each of the"
            f" {self.num_envs} copies; got {actions!r}"
        )

    def _finish_episodes(
        self, finished: np.ndarray, obs: np.ndarray, infos: list[dict[str, Any]]
    ) -> None:
        """Report the copies whose episode ended, restart them, and show their first observation."""
        for i in finished:
            ruined = self.equity[i] <= RUIN_EQUITY
            infos[i] = {
                "terminal_observation": obs[i].copy(),
                "TimeLimit.truncated": bool(self._bar[i] == self._end_bar[i] and not ruined),
                "equity": float(self.equity[i]),
            }
        self._reset_copies(finished, [None] * self.num_envs)
        obs[finished] = self.observation_builder.observe_batch(
            self._bar[finished], self.position[finished], self.drawdown[finished]
        )

    def _reset_copies(self, indices: np.ndarray, seeds: Sequence[int | None]) -> None:
        """Start new episodes for the copies in `indices`, as `TradingEnv.reset(seed=seeds[i])`."""
        first = self.config.first_bar()
        length = self.config.episode_length
        for i in indices:
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(seeds[i])
            if length is None:
                self._bar[i], self._end_bar[i] = first, self.market.n_bars - 1
            else:
                self._bar[i] = int(self._rngs[i].integers(first, self.market.n_bars - length))
                self._end_bar[i] = self._bar[i] + length
        cash = float(self.config.initial_cash)
        starting_state = np.zeros(kernels.PORTFOLIO_FIELDS)
        starting_state[[kernels.CASH, kernels.EQUITY, kernels.PEAK]] = cash
        self._portfolios[:, indices] = starting_state[:, None]

    def close(self) -> None:
        """Nothing to release: the copies are arrays in this process."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The batch's attribute, once per requested copy (all copies share market and config)."""
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the batch; copies cannot differ, so `indices` must cover them all."""
        if len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("BatchedTradingEnv copies share their attributes: use indices=None")
        setattr(self, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the batch once; its result is returned once per requested copy."""
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Copies are arrays, never wrapped in gymnasium wrappers."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No images: the batch has no render mode."""
        return [None for _ in range(self.num_envs)]
