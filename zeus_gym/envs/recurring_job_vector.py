"""The native vector env of `ZeusGym/RecurringJob-v2` (and v0): N recurring jobs per numpy step."""

from __future__ import annotations

import copy
import os
from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from zeus_gym.core import Outcome, invalid_actions, reset, step
from zeus_gym.core.compiled import check_accelerator, step_compiled
from zeus_gym.core.draws import BufferedDraw
from zeus_gym.core.features import observation_buffer, observation_views
from zeus_gym.core.sim import replace_rows
from zeus_gym.envs.recurring_job import INFO_FIELDS, OBSERVATIONS, RENDER_MODES, check_observation, check_render_mode, observation_space, outcome_info, render_text
from zeus_gym.envs.setup import Gpus, JobSource, Workloads, check_options, describe_invalid, job_info
from zeus_gym.envs.spaces import ConfigurationSpace


class RecurringJobVectorEnv(VectorEnv):
    """
    ## Description

    `num_envs` independent copies of `RecurringJobEnv` advanced by one call into the numpy core
    per step (see `RecurringJobEnv` for the job, actions, observations, rewards and episodes).
    Sub-environment i behaves exactly like a single env: with the same seeds and actions its
    observations, rewards, terminations and infos are equal, step for step, to those of
    `gymnasium.vector.SyncVectorEnv` over single envs, across autoresets.

    ## Action Space

    `ConfigurationSpace` of shape `(num_envs, 2)`; `sample()` draws only playable actions. The
    actions of sub-environments that are being autoreset (NEXT_STEP mode) are ignored.

    ## Observation Space

    The single env's `Dict`, batched: every entry has a leading `num_envs` axis.

    ## Rewards and Infos

    Rewards as the single env. Infos follow Gymnasium's vector convention: `info[key]` is an
    array over sub-environments and `info["_" + key]` marks which of them have the key. A
    sub-environment that resets reports its reset info (the job description) in that step.

    ## Episode End

    As the single env. `autoreset_mode` is `NEXT_STEP` (Gymnasium's default: the step after the
    last one resets), `SAME_STEP` (reset at once; `info["final_obs"]` and `info["final_info"]`
    hold the last step's) or `DISABLED` (reset with `reset(options={"reset_mask": mask})`).

    ## Arguments

    `num_envs`, then the arguments of `RecurringJobEnv` (`observation` included), `autoreset_mode`, and `copy` (default
    True): with False every step returns the same observation buffers, overwritten by the next
    step, which saves an allocation of every observation array per step (as in SyncVectorEnv).
    `render_mode` None or "ansi" (`render()`: a line per sub-environment about its last run).
    `accelerator`: "numpy" (default) or "numba", the same step compiled into one loop over the
    jobs (`zeus_gym.core.compiled`, tested equal to the numpy step; needs
    `pip install "zeus-gym[fast]"`; its first step compiles it, a few seconds, then it is
    cached on disk): 1.7-1.9 times the steps per second at N = 1024 and about three times at
    N = 64 on the 2-core development machine.
    `copy.deepcopy` and `pickle` give an independent env that continues exactly as the original.
    `reset(seed=s)` seeds sub-environment i with `s + i`, as `SyncVectorEnv` does; a list of
    seeds gives each its own.

    ```python
    envs = gym.make_vec("ZeusGym/RecurringJob-v2", num_envs=64, workload="squad", gpu="a40")
    obs, info = envs.reset(seed=0)
    obs, rewards, terminations, truncations, infos = envs.step(envs.action_space.sample())
    ```

    ## Version History

    - v2: the global feature `inverse_recurrences` (see `RecurringJobEnv`).
    - v1: the configuration-centred observation (see `RecurringJobEnv`).
    - v0: initial release (the `"slots"` observation).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(
        self,
        num_envs: int = 1,
        workload: Workloads = "librispeech",
        gpu: Gpus = "v100",
        eta_knob: float = 0.5,
        beta_knob: float = 2.0,
        num_recurrences: int | None = None,
        max_retries: int = 20,
        trace_dir: str | os.PathLike | None = None,
        slots: tuple[int, int] | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        observation: str = "configs",
        accelerator: str = "numpy",
    ) -> None:
        self.render_mode = check_render_mode(render_mode)
        self.accelerator = check_accelerator(accelerator)
        self.observation = check_observation(observation)
        self._observe_into = OBSERVATIONS[self.observation]
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        modes = {m.value: m for m in AutoresetMode} | {m.name.lower(): m for m in AutoresetMode}
        key = autoreset_mode.value if isinstance(autoreset_mode, AutoresetMode) else str(autoreset_mode)
        if key not in modes and key.lower() not in modes:
            raise ValueError(f"autoreset_mode must be an AutoresetMode or one of {sorted(modes)}, got {autoreset_mode!r}")
        self.autoreset_mode = modes.get(key) or modes[key.lower()]
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.num_envs = num_envs
        self.copy = copy
        self._buffer: dict[str, np.ndarray] | None = None
        self._reused: np.ndarray | None = None  # the array under _buffer ("configs" layout)
        self._source = JobSource(
            workload, gpu, num_envs, eta_knob=eta_knob, beta_knob=beta_knob, num_recurrences=num_recurrences,
            max_retries=max_retries, trace_dir=trace_dir, slots=slots,
        )
        self.params = self._source.params
        self._job_infos = [job_info(self.params, j) for j in range(len(self.params.jobs))]
        self.single_action_space = ConfigurationSpace(self.params.playable[0])
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = observation_space(self.params, self.observation, self._source.bounds)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._jobs = np.zeros(num_envs, dtype=np.int64)
        self._state = None
        self._draw = BufferedDraw([None] * num_envs)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._last: list[dict[str, Any] | None] = [None] * num_envs  # each sub-environment's last step info

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict[str, Any]]:
        check_options(options, ("job", "reset_mask"))
        super().reset(seed=seed if isinstance(seed, int) else None)
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        elif len(seed) == self.num_envs:
            seeds = list(seed)
        else:
            raise ValueError(f"seed must be None, an int or {self.num_envs} seeds, got {len(seed)} seeds")
        rows = np.arange(self.num_envs)
        if options and "reset_mask" in options:
            rows = np.flatnonzero(np.asarray(options["reset_mask"], dtype=bool))
        for i in rows.tolist():
            if seeds[i] is not None or self._draw.generators[i] is None:
                self._draw.reseed(i, seeding.np_random(seeds[i])[0])
        if self._state is None:
            self._state = reset(self.params, self._jobs)
        self._reset_rows(rows, options)
        self._needs_reset[rows] = False
        for i in rows.tolist():
            self._last[i] = None
        return self._observe(), self._reset_infos({}, rows)

    def step(self, actions: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, 2) or actions.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers of shape ({self.num_envs}, 2), got {actions.dtype} {actions.shape}")
        idle = self._needs_reset if self.autoreset_mode == AutoresetMode.NEXT_STEP else np.zeros(self.num_envs, dtype=bool)
        if self.autoreset_mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-environments {np.flatnonzero(self._needs_reset).tolist()} ended: reset them with options={{'reset_mask': ...}}")
        if actions.dtype == np.uint64 and actions.size and actions.max() > np.iinfo(np.int64).max:
            i = int(np.flatnonzero((actions > np.iinfo(np.int64).max).any(axis=1))[0])
            raise ValueError(f"sub-environment {i}: action {actions[i].tolist()} is out of range (indices must be below 2**63)")
        actions = actions.astype(np.int64, copy=False)
        if idle.any():  # actions of autoresetting sub-environments are ignored: they run a harmless one
            idle_actions = np.stack([self.params.b0_index[self._jobs], np.full(self.num_envs, self.params.max_power_limits)], axis=1)
            actions = np.where(idle[:, None], idle_actions, actions)
        bad = np.flatnonzero(invalid_actions(self.params, self._state, actions[:, 0], actions[:, 1]))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"sub-environment {i}: {describe_invalid(self.params, self._jobs[i], actions[i])}")

        observed = None  # the compiled step writes the "configs" observation as it goes
        if self.accelerator == "numba":
            if self.observation == "configs":
                observed = self._observation_buffer()
            out = step_compiled(self.params, self._state, actions[:, 0], actions[:, 1], self._draw, idle, observed)
        else:
            draw = self._draw if not idle.any() else (lambda bounds: self._draw(np.where(idle, 1, bounds)))
            self._state, out = step(self.params, self._state, actions[:, 0], actions[:, 1], draw, inplace=True)
        rewards, terminations = np.where(idle, 0.0, out.reward), out.terminated & ~idle
        if self.render_mode is not None:
            for i in np.flatnonzero(~idle).tolist():
                self._last[i] = outcome_info(self.params, out, int(self._jobs[i]), i)
        same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        restarted = np.zeros(0, dtype=np.int64)
        # With SAME_STEP an ended sub-environment reports its reset info; its step is in final_info.
        infos = self._step_infos(out, ~idle & ~(terminations if same_step else idle))
        if same_step and terminations.any():
            ended = np.flatnonzero(terminations)
            final_obs = self._observe_into(self.params, self._state)
            for i in ended.tolist():
                final = {"final_obs": {k: v[i] for k, v in final_obs.items()}, "final_info": outcome_info(self.params, out, int(self._jobs[i]), i)}
                infos = self._add_info(infos, final, i)
            self._reset_rows(ended, None)
            infos = self._reset_infos(infos, ended)
            restarted = ended
        if idle.any():
            restarted = np.flatnonzero(idle)
            self._reset_rows(restarted, None)
            infos = self._reset_infos(infos, restarted)
        self._needs_reset = terminations.copy() if self.autoreset_mode != AutoresetMode.SAME_STEP else np.zeros(self.num_envs, dtype=bool)
        if observed is None:
            observation = self._observe()
        else:  # the rows that reset since the step are observed again
            observation = observation_views(self.params, observed) if self.copy else self._buffer
            if restarted.size:
                for key, value in self._observe_into(self.params, self._state, rows=restarted).items():
                    observation[key][restarted] = value
        return observation, rewards, terminations, np.zeros(self.num_envs, dtype=bool), infos

    def render(self) -> tuple[str, ...] | None:
        """With render_mode "ansi": a line per sub-environment about its last run; with None: nothing."""
        if self.render_mode is None:
            return None
        return tuple(render_text(self._job_infos[int(job)], last) for job, last in zip(self._jobs, self._last))

    def action_masks(self) -> np.ndarray:
        """(num_envs, B * (P + 1)) playable actions of each sub-environment's job, flat."""
        return self.action_space.playable.reshape(self.num_envs, -1).copy()

    def _observation_buffer(self) -> np.ndarray:
        """The (N, width) float32 array the next "configs" observation goes to: a fresh one, or
        with copy=False the one every step reuses."""
        if self.copy:
            return observation_buffer(self.params, self.num_envs, np.empty)
        self._make_reused_buffer()
        return self._reused

    def _make_reused_buffer(self) -> None:
        """With copy=False and the "configs" layout: the one array (and its views) every step fills."""
        if self.observation != "configs":
            return
        # A deep copy or an unpickled env holds copies of the views that no longer share the array.
        if self._buffer is None or self._reused is None or not np.may_share_memory(self._buffer["configs"], self._reused):
            self._reused = observation_buffer(self.params, self.num_envs, np.empty)
            self._buffer = observation_views(self.params, self._reused)

    def _observe(self) -> dict[str, np.ndarray]:
        """Fresh arrays, or with copy=False the same buffers every step (as SyncVectorEnv does)."""
        if self.copy:
            return self._observe_into(self.params, self._state)
        self._make_reused_buffer()
        self._buffer = self._observe_into(self.params, self._state, self._buffer)
        return self._buffer

    def _reset_rows(self, rows: np.ndarray, options: dict[str, Any] | None) -> None:
        """Start new episodes in sub-environments `rows`, drawing their jobs."""
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[rows] = True
        self._jobs[rows] = self._source.pick(self._draw, mask, options)[rows]
        if self._source.generator is not None:  # new jobs in rows `rows` of new params
            self.params = self._source.params
            for i in rows.tolist():
                self._job_infos[i] = job_info(self.params, i)
        replace_rows(self._state, rows, reset(self.params, self._jobs[rows]))
        self.action_space.set_playable(self.params.playable[self._jobs[rows]], rows)

    def _reset_infos(self, infos: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
        """Add the reset info (`job_info`) of sub-environments `rows`, typed as `_add_info` does."""
        for job in np.unique(self._jobs[rows]).tolist():
            same = rows[self._jobs[rows] == job]
            for key, value in self._job_infos[job].items():
                if key not in infos:
                    if isinstance(value, (bool, int, float, np.number)):
                        infos[key] = np.zeros(self.num_envs, dtype=type(value))
                    elif isinstance(value, np.ndarray):
                        infos[key] = np.zeros((self.num_envs, *value.shape), dtype=value.dtype)
                    else:
                        infos[key] = np.empty(self.num_envs, dtype=object)  # filled with None, faster than np.full
                    infos[f"_{key}"] = np.zeros(self.num_envs, dtype=bool)
                if infos[key].dtype == object:
                    for i in same.tolist():  # lists are copied so that no two infos share one
                        infos[key][i] = copy.copy(value)
                else:
                    infos[key][same] = value
                infos[f"_{key}"][same] = True
        return infos

    def _step_infos(self, out: Outcome, active: np.ndarray) -> dict[str, Any]:
        """The single env's step info of every active sub-environment, in vector form."""
        if not active.any():
            return {}
        columns = {name: getattr(out, name) for name in INFO_FIELDS}
        profile = self.params.profile_epoch_cost[self._jobs, out.batch_index]
        columns["profile_epoch_cost"] = np.where(out.profiled[:, None], profile, np.inf)
        columns["default_cost"] = self.params.default_cost[self._jobs]
        inactive = np.flatnonzero(~active)  # they read 0; few, so indices beat a boolean mask
        masks = np.repeat(active[None], len(columns), axis=0)  # each key its own mask (a row)
        infos: dict[str, Any] = {}
        for (name, values), mask in zip(columns.items(), masks):
            if inactive.size:
                values = values.copy()
                values[inactive] = 0
            infos[name], infos[f"_{name}"] = values, mask
        return infos
