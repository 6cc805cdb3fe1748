"""An SB3 `VecEnv` over N single envs on the scalar fast path: `make_sb3_vec_env`'s backend at small N.

A numpy step of the vector env costs some fifty numpy calls whatever N, so at the few envs SB3
training uses (8 by default) it is mostly per-call overhead, and its vector infos then have to be
split into one dict per env. A single env steps its job on Python numbers
(`zeus_gym.core.scalar`). This VecEnv steps N single envs one after the other, writes each
observation into a row of one batched buffer, and hands SB3 the info dicts the envs build. It is
SB3's `DummyVecEnv` over the same envs (sub-environment i seeded seed + i), with the same
observations, rewards, dones and infos step for step across autoresets, so trajectories are those
of the vector-env backend as well (both tested equal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from zeus_gym.envs.recurring_job import RecurringJobEnv
from zeus_gym.wrappers import PlayableDiscrete

KEYS = ("configs", "globals", "action_mask")  # the order of the observation's one buffer


class SB3ScalarVecEnv(VecEnv):
    """N `RecurringJobEnv`s ("configs" observation) as one SB3 `VecEnv`, each reset at once when
    its episode ends (`info["terminal_observation"]`; the reset info in `reset_infos`)."""

    def __init__(self, num_envs: int, flat_actions: bool = False, **env_kwargs: Any) -> None:
        first = RecurringJobEnv(**env_kwargs)
        if first.observation != "configs":
            raise ValueError(f"SB3ScalarVecEnv needs observation='configs', got {first.observation!r}")
        self.envs = [first] + [first.spawn() for _ in range(num_envs - 1)]
        self.flat_actions = flat_actions
        self._columns = int(first.action_space.nvec[1])  # P + 1
        self._actions: list[tuple[int, int]] = []
        action_space = PlayableDiscrete(first.action_space.playable.copy()) if flat_actions else first.action_space
        super().__init__(num_envs, first.observation_space, action_space)
        sizes = [first.observation_space[key].shape[0] for key in KEYS]
        ends = np.cumsum(sizes).tolist()
        self._slices = {key: slice(end - size, end) for key, size, end in zip(KEYS, sizes, ends)}
        self._width = ends[-1]

    def _views(self, buffer: np.ndarray) -> dict[str, np.ndarray]:
        """The observation dict of a buffer (one row per env, or one row): a view per key."""
        return {key: buffer[..., where] for key, where in self._slices.items()}

    def reset(self) -> dict[str, np.ndarray]:
        buffer = np.empty((self.num_envs, self._width), dtype=np.float32)
        for i, env in enumerate(self.envs):
            _, self.reset_infos[i] = env.reset(seed=self._seeds[i], options=self._options[i] or None)
            env.observe_into(buffer[i])
        self._reset_seeds()
        self._reset_options()
        return self._views(buffer)

    def step_async(self, actions: np.ndarray) -> None:
        if self.flat_actions:
            # As np.unravel_index does for the vector backend (out-of-range indices are refused below).
            flat = np.asarray(actions, dtype=np.int64).reshape(self.num_envs).tolist()
            pairs = [divmod(a, self._columns) for a in flat]
        else:
            actions = np.asarray(actions).reshape(self.num_envs, 2)
            if actions.dtype.kind not in "iu":
                raise ValueError(f"actions must be integers of shape ({self.num_envs}, 2), got {actions.dtype}")
            pairs = actions.tolist()
        # Checked before any env steps, as the vector backend does: a refused action changes nothing.
        for i, (env, (b, p)) in enumerate(zip(self.envs, pairs)):
            try:
                env.check_action(b, p)
            except ValueError as error:
                raise ValueError(f"sub-environment {i}: {error}") from None
        self._actions = pairs

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        buffer = np.empty((self.num_envs, self._width), dtype=np.float32)  # fresh: SB3 keeps observations
        rewards, dones, infos = [], [], []
        for i, (env, (b, p)) in enumerate(zip(self.envs, self._actions)):
            row = buffer[i]
            reward, done, info = env.step_into(b, p, row, checked=True)  # in step_async
            info["TimeLimit.truncated"] = False  # the env never truncates
            if done:
                info["terminal_observation"] = self._views(row.copy())
                _, self.reset_infos[i] = env.reset()
                env.observe_into(row)
            rewards.append(reward)
            dones.append(done)
            infos.append(info)
        return self._views(buffer), np.array(rewards, dtype=np.float32), np.array(dones, dtype=bool), infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.envs[i], attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.envs[i], attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        return [getattr(self.envs[i], method_name)(*method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
