"""Stable-Baselines3 adapter: the native vector env as an SB3 `VecEnv` (needs the `rl` extra).

SB3 has its own vector API (`reset()` returns only observations, infos are a list of dicts, and
finished environments reset at once with `info["terminal_observation"]`). `SB3VecEnv` provides it
on top of `RecurringJobVectorEnv` in SAME_STEP autoreset mode, so SB3 algorithms step all
sub-environments with one call into the numpy core:

```python
from stable_baselines3 import PPO
from zeus_gym.sb3 import make_sb3_vec_env

venv = make_sb3_vec_env(num_envs=16, workload="squad", gpu="a40")
model = PPO("MultiInputPolicy", venv, seed=0).learn(10_000)
```
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from zeus_gym.envs.recurring_job_vector import RecurringJobVectorEnv
from zeus_gym.wrappers import PlayableDiscrete


def unbatch_infos(infos: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector infos (`info[key]` + mask `info["_" + key]`) as one dict per env."""
    columns = _full_columns(infos, num_envs)
    if columns is not None:  # the usual step: every key a number for every env
        keys = list(columns)
        return [dict(zip(keys, row)) for row in zip(*columns.values())]
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    everyone = list(range(num_envs))
    for key, values in infos.items():
        if key.startswith("_"):
            continue
        present = infos.get(f"_{key}")
        rows = everyone if present is None or present.all() else np.flatnonzero(present).tolist()
        if isinstance(values, dict):
            nested = unbatch_infos(values, num_envs)
            for i in rows:
                out[i][key] = nested[i]
        elif isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype != object:
            scalars = values.tolist()  # Python scalars, as `.item()` gives, in one call
            for i in rows:
                out[i][key] = scalars[i]
        else:
            for i in rows:
                value = values[i]
                out[i][key] = value.item() if isinstance(value, np.generic) else value
    return out


def _full_columns(infos: dict[str, Any], num_envs: int) -> dict[str, list] | None:
    """Each key's value per env when every key is a numeric array present for every env (then
    one dict per env is a zip of the columns; a 1-D array gives Python scalars, a wider one its
    rows, as the general path does); None otherwise."""
    keys = [key for key in infos if key[:1] != "_"]
    masks = [infos[mask] for mask in ["_" + key for key in keys] if mask in infos]
    # One check of every mask (and that none is missing a row) instead of one call per key.
    if not keys or (masks and not np.concatenate(masks).all()):
        return None
    columns: dict[str, list] = {}
    for key in keys:
        values = infos[key]
        if type(values) is not np.ndarray or values.ndim == 0 or values.dtype == object:
            return None
        columns[key] = values.tolist() if values.ndim == 1 else list(values)
    return columns


class SB3VecEnv(VecEnv):
    """An SB3 `VecEnv` over a `RecurringJobVectorEnv` that resets in the same step."""

    def __init__(self, venv: RecurringJobVectorEnv, flat_actions: bool = False) -> None:
        if venv.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError("SB3VecEnv needs a RecurringJobVectorEnv with autoreset_mode=SAME_STEP (see make_sb3_vec_env)")
        self.venv = venv
        self.flat_actions = flat_actions
        self._grid = tuple(venv.single_action_space.nvec)
        self._actions: np.ndarray | None = None
        # With flat actions (as the FlatActions wrapper) MaskablePPO gets exact masks from
        # `env_method("action_masks")`, which the vector env answers for all sub-environments.
        action_space = PlayableDiscrete(venv.single_action_space.playable) if flat_actions else venv.single_action_space
        super().__init__(venv.num_envs, venv.single_observation_space, action_space)

    def reset(self) -> dict[str, np.ndarray]:
        """Reset every env with its seed and its options (`set_options`, as SB3's `DummyVecEnv`):
        the vector env takes one options dict per call, so envs with equal options reset together."""
        seeds = None if all(seed is None for seed in self._seeds) else list(self._seeds)
        groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for i, options in enumerate(self._options):
            options = options or {}
            if "reset_mask" in options:
                raise ValueError(f"env {i}: set_options takes the options of one env; 'reset_mask' is not one of them")
            groups.setdefault(repr(sorted(options.items())), (options, []))[1].append(i)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        for options, rows in groups.values():  # one group, of all envs, without set_options
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[rows] = True
            obs, infos = self.venv.reset(seed=seeds, options={**options, "reset_mask": mask})
            per_env = unbatch_infos(infos, self.num_envs)
            for i in rows:
                self.reset_infos[i] = per_env[i]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        if self.flat_actions:
            self._actions = np.stack(np.unravel_index(np.asarray(actions, dtype=np.int64).reshape(self.num_envs), self._grid), axis=1)
        else:
            self._actions = np.asarray(actions).reshape(self.num_envs, 2)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminations, truncations, infos = self.venv.step(self._actions)
        dones = terminations | truncations
        final = infos.pop("final_info", {}), infos.pop("final_obs", None)
        infos.pop("_final_info", None), infos.pop("_final_obs", None)
        out = unbatch_infos(infos, self.num_envs)
        final_infos = unbatch_infos(final[0], self.num_envs) if final[0] else None
        for i in range(self.num_envs):
            if dones[i]:
                # SB3 wants the last step's info, with the final observation; the reset info
                # (the job description) stays available in `reset_infos`.
                self.reset_infos[i] = out[i]
                out[i] = final_infos[i] if final_infos else {}
                out[i]["terminal_observation"] = final[1][i]
            out[i]["TimeLimit.truncated"] = bool(truncations[i] and not terminations[i])
        return obs, rewards.astype(np.float32), dones, out

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        """Calls the vector env's method once; a result with one row per env is split by env."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        rows: Sequence[int] | Iterable[int] = self._get_indices(indices)
        if isinstance(result, np.ndarray) and result.shape[:1] == (self.num_envs,):
            return [result[i] for i in rows]
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


# Up to this many envs, stepping single envs on Python numbers beats one numpy step of all of
# them (benchmarks/sb3_backends.py, procedural jobs: 2.4x at 8 envs, even near 24, 0.7x at 32).
SCALAR_UP_TO = 16


def make_sb3_vec_env(num_envs: int, flat_actions: bool = False, backend: str = "auto", **env_kwargs: Any) -> VecEnv:
    """`num_envs` envs with `RecurringJobVectorEnv`'s arguments `env_kwargs`, each reset at once
    when it ends, as an SB3 `VecEnv` (with `flat_actions`, one `Discrete` action per slot, as
    `FlatActions`). `backend`: "vector" (the native vector env, `SB3VecEnv`), "scalar" (single
    envs on the scalar fast path, `zeus_gym.sb3_scalar.SB3ScalarVecEnv`; "configs" observation
    only) or "auto" (scalar up to `SCALAR_UP_TO` envs). Both give the same trajectories."""
    if backend not in ("auto", "vector", "scalar"):
        raise ValueError(f"backend must be 'auto', 'vector' or 'scalar', got {backend!r}")
    if backend == "auto":
        small = num_envs <= SCALAR_UP_TO and "copy" not in env_kwargs  # the single env has no copy=False
        backend = "scalar" if small and env_kwargs.get("observation", "configs") == "configs" else "vector"
    if backend == "scalar":
        from zeus_gym.sb3_scalar import SB3ScalarVecEnv

        return SB3ScalarVecEnv(num_envs, flat_actions=flat_actions, **env_kwargs)
    venv = RecurringJobVectorEnv(num_envs=num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **env_kwargs)
    return SB3VecEnv(venv, flat_actions=flat_actions)
