"""N copies of `TradingEnv` on one market, stepped together in vectorised NumPy for training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

from envs.env_config import EnvConfig
from envs.env_errors import EnvSetupError
from envs.execution import rebalance
from envs.market_arrays import MarketArrays
from envs.observation import ObservationBuilder
from envs.rewards import differential_sharpe
from envs.trading_env import RUIN_EQUITY, check_prices


class BatchedTradingEnv(VecEnv):
    """SB3 `VecEnv` equal, step for step, to `DummyVecEnv` over `n_envs` `TradingEnv`s.

    Same timing, costs, rewards, episodes and seeding as `TradingEnv` (copy i is seeded with
    `seed + i`, as `VecEnv.seed` does), with each copy auto-reset when its episode ends (SB3's
    convention: the last observation goes to `infos[i]["terminal_observation"]`). Per-step
    diagnostics are arrays (`equity`, `cash`, `shares`, `position`, ...) rather than N info dicts,
    which would cost more than the step; `infos[i]` is filled only when copy i's episode ends,
    with its final equity and SB3's "TimeLimit.truncated" flag.
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
        self._targets = np.asarray(config.target_positions)
        self._cost_model = config.cost_model
        self._next_open = np.append(market.open[1:], np.nan)  # [t] = open[t + 1]: the fill price
        self._close = market.close.astype(np.float64)
        super().__init__(
            n_envs, self.observation_builder.space, spaces.Discrete(len(self._targets))
        )
        self._rngs: list[np.random.Generator | None] = [None] * n_envs
        self._bar = np.zeros(n_envs, dtype=np.int64)
        self._end_bar = np.zeros(n_envs, dtype=np.int64)
        self.cash = np.zeros(n_envs)
        self.shares = np.zeros(n_envs)
        self.target_position = np.zeros(n_envs)
        self.equity = np.zeros(n_envs)
        self.peak = np.zeros(n_envs)
        self.position = np.zeros(n_envs)
        self.drawdown = np.zeros(n_envs)
        self._dsr_mean = np.zeros(n_envs)
        self._dsr_second_moment = np.zeros(n_envs)
        self._next_target = np.zeros(n_envs)
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
        actions = np.asarray(actions).reshape(self.num_envs)
        n_actions = len(self._targets)
        # As unsigned integers, negative actions become huge: one comparison checks both ends.
        if actions.dtype.kind not in "iu" or actions.astype(np.uint64).max() >= n_actions:
            raise ValueError(f"actions must be integers in 0..{n_actions - 1}, got {actions}")
        self._next_target = self._targets[actions]

    def step_wait(self) -> VecEnvStepReturn:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        target = self._next_target
        # Copies whose target is unchanged hold their position at no cost, as in TradingEnv.
        self.cash, self.shares, _, _, _ = rebalance(
            self.cash,
            self.shares,
            target,
            self._next_open[self._bar],
            self._cost_model,
            trade=target != self.target_position,
        )
        self.target_position = target
        self._bar += 1
        close = self._close[self._bar]
        previous_equity = self.equity
        self.equity = self.cash + self.shares * close
        ruined = self.equity <= RUIN_EQUITY
        safe_equity = np.maximum(self.equity, RUIN_EQUITY)
        log_return = np.log(safe_equity / previous_equity)
        np.maximum(self.peak, self.equity, out=self.peak)
        self.position = self.shares * close / safe_equity
        self.drawdown = self.equity / self.peak - 1.0
        if np.count_nonzero(ruined):  # a ruined account is closed, as in TradingEnv
            self.position[ruined] = 0.0
            self.drawdown[ruined] = -1.0
        reward = log_return
        if self.config.reward == "differential_sharpe":
            reward, self._dsr_mean, self._dsr_second_moment = differential_sharpe(
                log_return, self._dsr_mean, self._dsr_second_moment, self.config.dsr_eta
            )
        obs = self.observation_builder.observe_batch(self._bar, self.position, self.drawdown)
        truncated = self._bar == self._end_bar
        dones = ruined | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if np.count_nonzero(dones):
            finished = np.flatnonzero(dones)
            for i in finished:
                infos[i] = {
                    "terminal_observation": obs[i].copy(),
                    "TimeLimit.truncated": bool(truncated[i] and not ruined[i]),
                    "equity": float(self.equity[i]),
                }
            self._reset_copies(finished, [None] * self.num_envs)
            obs[finished] = self.observation_builder.observe_batch(
                self._bar[finished], self.position[finished], self.drawdown[finished]
            )
        return obs, reward.astype(np.float32), dones, infos

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
        for state, value in (
            (self.cash, cash),
            (self.equity, cash),
            (self.peak, cash),
            (self.shares, 0.0),
            (self.target_position, 0.0),
            (self.position, 0.0),
            (self.drawdown, 0.0),
            (self._dsr_mean, 0.0),
            (self._dsr_second_moment, 0.0),
        ):
            state[indices] = value

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
