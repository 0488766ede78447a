"""Training on several sources at once: one SB3 `VecEnv` made of one batched env per source.

Each source keeps its own market, normalised on its own train split, so an episode never runs
from one series into another; the copies of all sources step together and the learner sees one
batch. Copy k of the pool is copy k - offset of its source's env, seeded `seed + k` as SB3 seeds
any `VecEnv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)


def copies_per_source(n_envs: int, n_sources: int) -> list[int]:
    """`n_envs` copies shared as evenly as possible, the first sources taking the remainder."""
    if n_envs < n_sources:
        raise ValueError(f"{n_envs} envs cannot give each of {n_sources} sources a copy")
    share, extra = divmod(n_envs, n_sources)
    return [share + (i < extra) for i in range(n_sources)]


class PooledVecEnv(VecEnv):
    """The copies of `envs` (same observation and action spaces) as one `VecEnv`, in order."""

    def __init__(self, envs: Sequence[VecEnv]) -> None:
        self.envs = list(envs)
        self._bounds = np.cumsum([0] + [env.num_envs for env in self.envs])
        first = self.envs[0]
        super().__init__(int(self._bounds[-1]), first.observation_space, first.action_space)

    def _slices(self) -> list[slice]:
        return [slice(a, b) for a, b in zip(self._bounds[:-1], self._bounds[1:], strict=True)]

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        seeds = super().seed(seed)
        for env, part in zip(self.envs, self._slices(), strict=True):
            env.seed(seeds[part][0])
        return seeds

    def reset(self) -> VecEnvObs:
        self._reset_seeds()
        return np.concatenate([env.reset() for env in self.envs])

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        results = [
            env.step(self._actions[part])
            for env, part in zip(self.envs, self._slices(), strict=True)
        ]
        infos = [info for _, _, _, part_infos in results for info in part_infos]
        return (
            np.concatenate([r[0] for r in results]),
            np.concatenate([r[1] for r in results]),
            np.concatenate([r[2] for r in results]),
            infos,
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _owners(self, indices: VecEnvIndices) -> list[tuple[VecEnv, int]]:
        """(the source env, its own index) of each pooled copy in `indices`."""
        owners = []
        for k in self._get_indices(indices):
            source = int(np.searchsorted(self._bounds, k, side="right")) - 1
            owners.append((self.envs[source], k - int(self._bounds[source])))
        return owners

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [env.get_attr(attr_name, [i])[0] for env, i in self._owners(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if indices is not None:
            raise ValueError("the pooled copies share their sources' attributes: indices=None")
        for env in self.envs:
            env.set_attr(attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        return [
            env.env_method(method_name, *method_args, indices=[i], **method_kwargs)[0]
            for env, i in self._owners(indices)
        ]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [env.env_is_wrapped(wrapper_class, [i])[0] for env, i in self._owners(indices)]
