"""`ZeusGym/RecurringJob-v2` (and v0): choose the batch size and GPU power limit of each run of a recurring job."""

from __future__ import annotations

import copy
import os
from dataclasses import fields
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zeus_gym.core import Outcome, Params, observe, reset
from zeus_gym.core.draws import GeneratorDraw
from zeus_gym.core.features import observation_bounds, observe_configs
from zeus_gym.core.scalar import JobTables, Rows, job_tables, observe_into, observe_one, step_one
from zeus_gym.envs.setup import Gpus, JobSource, Workloads, check_options, describe_invalid, job_info
from zeus_gym.envs.spaces import ConfigurationSpace


# The observation layouts: "configs" (v2, one feature row per configuration) and "slots" (v0).
OBSERVATIONS = {"configs": observe_configs, "slots": observe}


def check_observation(observation: str) -> str:
    """The layout name, or a one-line error naming the allowed values."""
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {', '.join(map(repr, OBSERVATIONS))}, got {observation!r}")
    return observation


def observation_space(params: Params, observation: str = "configs", caps: tuple[float, float] | None = None) -> spaces.Dict:
    """The per-job observation space of layout `observation` for the (padded) shapes of `params`;
    `caps` (max run cost, max epoch-cost ratio) bound jobs not in `params` yet (procedural ones)."""
    if check_observation(observation) == "configs":
        bounds = observation_bounds(params, caps)
        return spaces.Dict({key: spaces.Box(np.zeros_like(high), high, dtype=np.float32) for key, high in bounds.items()})
    return slots_observation_space(params, None if caps is None else caps[0])


def slots_observation_space(params: Params, max_run_cost: float | None = None) -> spaces.Dict:
    """The v0 observation space for the (padded) shapes of `params`.

    Upper bounds are finite so that every standard checker accepts the space: one run costs at most
    `max_run_cost`; a recurrence at most `max_retries` runs plus the fallback run. They carry 1 %
    headroom because observations are computed in float64 and then rounded to float32.
    """
    num_b, num_p = params.max_batch_sizes, params.max_power_limits
    run_cost = 1.01 * float(params.max_run_cost.max() if max_run_cost is None else max_run_cost)
    threshold = params.beta * (params.max_retries + 1) * run_cost if np.isfinite(params.beta) else 1.0

    def box(shape: tuple[int, ...], high: float) -> spaces.Box:
        return spaces.Box(0.0, high, shape, dtype=np.float32)

    return spaces.Dict(
        {
            "progress": box((1,), 1.0),
            "attempt": box((1,), 1.0),
            "threshold": box((2,), max(threshold, 1.0)),
            "last_run": box((4,), max(run_cost, 1.0)),
            "tries": box((num_b * num_p,), float(params.max_retries)),
            "mean_cost": box((num_b * num_p,), run_cost),
            "reach_rate": box((num_b * num_p,), 1.0),
            "profiled": box((num_b,), 1.0),
            "batch_sizes": box((num_b,), 1.0),
            "power_limits": box((num_p,), 1.0),
            "default": box((num_b,), 1.0),
        }
    )


INFO_FIELDS = tuple(f.name for f in fields(Outcome) if f.name not in ("reward", "terminated"))
RENDER_MODES = ["ansi"]


def check_render_mode(render_mode: str | None) -> str | None:
    """None or one of RENDER_MODES."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
    return render_mode


def render_text(job_info: dict[str, Any], info: dict[str, Any] | None) -> str:
    """One line about the last run: configuration, epochs, energy, time, cost, reached."""
    job = f"{job_info['workload'].dataset} on {job_info['gpu']}"
    if info is None:
        return f"{job}: no run yet"
    where = f"{job} recurrence {info['recurrence']}/{job_info['num_recurrences']} attempt {info['attempt']}"
    limit = f"{info['power_limit']} W" + (" (profiled)" if info["profiled"] else "")
    if not info["ran"]:
        text = f"{where}: batch size {info['batch_size']} at {limit} did not start (cannot afford one epoch)"
    else:
        text = (f"{where}: batch size {info['batch_size']} at {limit}, {info['epochs']} epochs, {info['energy']:.6g} J, "
                f"{info['time']:.6g} s, cost {info['cost']:.6g}, {'reached' if info['reached'] else 'missed'} the target")
    if info["fallback"]:
        text += f"; b0 fallback {info['fallback_batch_size']} at {info['fallback_power_limit']} W, cost {info['fallback_cost']:.6g}"
    return text


def outcome_info(params: Params, out: Outcome, job: int, i: int | None = None) -> dict[str, Any]:
    """The `info` dict of a step of job `job` (row i of a batched outcome, or a scalar outcome):
    every `Outcome` field as a Python scalar (J, s, W), plus the profile's epoch cost per (padded)
    power limit (inf: not profiled, or no such limit)."""
    fields_ = vars(out)
    values = [fields_[name] for name in INFO_FIELDS] if i is None else [fields_[name][i] for name in INFO_FIELDS]
    info = {name: value.item() if isinstance(value, np.generic) else value for name, value in zip(INFO_FIELDS, values)}
    profile = params.profile_epoch_cost[job, info["batch_index"]]
    info["profile_epoch_cost"] = profile.copy() if info["profiled"] else np.full(profile.shape, np.inf)
    info["default_cost"] = params.default_cost[job].item()
    return info


class RecurringJobEnv(gym.Env[dict, np.ndarray]):
    """
    ## Description

    A DNN training job recurs (re-training on fresh data, hyper-parameter sweeps, ...). Before each
    run an agent picks the batch size and the GPU power limit; the run then trains until it
    reaches the target metric, is early-stopped because it has become too expensive, or hits
    `max_epochs`. The goal is the lowest energy-time cost over all recurrences. The runs are
    simulated from the Zeus (NSDI'23) traces exactly as Zeus's trace-driven simulator does
    (zeus==0.16.0 `Simulator.simulate_one_job`): each run draws one recorded training path of its
    batch size uniformly from `np_random`, so epochs-to-target vary from run to run.

    `workload` and `gpu` may also be lists (or "all"): every reset then draws one (workload, GPU)
    pair uniformly with `np_random` (or takes `options={"job": (workload, gpu)}`), and the spaces
    are padded to the largest job. The `playable` mask (in `job_info`, and used by the action
    space's sampler) marks the current job's actions; the observation describes each batch size
    and power limit slot (0 = no such slot), so one policy can act on any job.

    The cost of a run is `eta * energy + (1 - eta) * MAXPOWER * time` (J and s; MAXPOWER is the
    GPU's largest power limit in the traces). A run is stopped before the epoch at which its cost
    would pass `beta * min_cost`, where `min_cost` is the cheapest completed recurrence so far
    (failed attempts included); a run that cannot afford even one epoch does not start.

    ## Action Space

    `MultiDiscrete([B, P + 1])` (a `ConfigurationSpace` whose `sample()` draws only playable
    actions, mask in `job_info["playable"]`): the index of the batch size in `job_info["batch_sizes"]` and
    the index of the power limit in `job_info["power_limits"]`. Power index `P` means "profile
    just in time": the first epoch cycles through every limit of the batch size (it costs the mean
    epoch of all of them), the rest run at the limit with the lowest epoch cost
    `(eta * avg_power + (1 - eta) * max_limit_of_b) * time_per_epoch` (ties to the higher limit).
    A configuration absent from the power trace raises `ValueError`.

    ## Observation Space

    v2 (`observation="configs"`): a `Dict` of float32 `Box`es built around the K = B * (P + 1)
    configurations, row k being flat action `b * (P + 1) + p` (the `FlatActions` index; p = P is
    the profile action). A policy can score every configuration with one shared function of its
    row and the global features, whatever the job and the number of slots
    (`zeus_gym.policies.ConfigurationScorerPolicy` does).

    | key           | shape   | meaning                                                            |
    |---------------|---------|--------------------------------------------------------------------|
    | `configs`     | (K * 14,) | the (K, 14) matrix flattened row-major; per configuration: batch size and power limit features, is-profile, b0, playable, tries, mean cost, reach rate, profiled, cost per epoch (known flag, value), mean epochs of its runs, mean epochs-to-target of its batch size, cost estimate (see `zeus_gym.core.features`) |
    | `globals`     | (11,)   | progress, attempt, early stopping active, threshold / `default_cost`, last run (ran, reached, cost / `default_cost`, profiled), eta, 1 / beta, 1 / `num_recurrences` |
    | `action_mask` | (K,)    | 1 where the configuration is playable (the same as `action_masks()`) |

    The three keys are views of one contiguous float32 buffer.

    v0 (`observation="slots"`): per-slot arrays, per-configuration entries flattened row-major
    (entry `b * P + p`):

    | key          | shape  | meaning                                                              |
    |--------------|--------|----------------------------------------------------------------------|
    | `progress`   | (1,)   | recurrences completed / `num_recurrences`                            |
    | `attempt`    | (1,)   | failed attempts in the open recurrence / `max_retries` (> 0: retry) |
    | `threshold`  | (2,)   | early stopping active (0/1), `beta * min_cost / default_cost`        |
    | `last_run`   | (4,)   | last step: ran, reached, cost / `default_cost`, profiled             |
    | `tries`      | (B*P,) | runs started per configuration actually used / `num_recurrences`    |
    | `mean_cost`  | (B*P,) | their mean cost / `default_cost` (0 if untried)                      |
    | `reach_rate` | (B*P,) | fraction of them that reached the target                             |
    | `profiled`   | (B,)   | 1 if the batch size's power limits have been profiled                |
    | `batch_sizes`| (B,)   | each batch size as (log2 b + 1) / 17; 0 = no slot                    |
    | `power_limits`| (P,)  | each power limit / 1000 W; 0 = no slot                               |
    | `default`    | (B,)   | 1 at b0's slot (the batch size the job's owner would use)            |

    ## Rewards

    `-cost / default_cost` per step, where `default_cost` is the expected cost of one recurrence
    run at b0 and its largest power limit (computed from the traces, without early stopping).
    `info` has the raw figures: `energy` (J), `time` (s), `cost`, `ran`, `reached`, `epochs`,
    `batch_size`, `power_limit` (W), `batch_index`, `power_index` (the limit used), `profiled`,
    `profile_epoch_cost` (per power limit slot, padded to the largest job; inf unless profiled and
    measured), `recurrence` and `attempt` (1-based), `threshold`, `min_cost`, `default_cost`,
    `fallback` with `fallback_batch_size`, `fallback_power_limit`, `fallback_energy`,
    `fallback_time`, `fallback_cost`, and `step_cost` (the run's cost plus the fallback's).

    ## Starting State

    No recurrence done, no statistics, no early-stopping threshold. The reset `info` is
    `job_info`: batch sizes, power limits, feasibility, b0, eta, beta, profile action, ...

    ## Episode End

    - Termination: `num_recurrences` recurrences have reached the target metric.
    - A run that misses the target leaves its recurrence open: the next step is a retry and its
      cost adds to the recurrence. After `max_retries` failed attempts the recurrence is finished
      by a run of b0 at its largest limit without early stopping (on a training path that reaches
      the target), charged to that step and flagged by `info["fallback"]`. So the episode always
      ends after at most `num_recurrences * max_retries` steps.
    - Truncation: never by the environment itself (wrap it in `TimeLimit` if needed).

    ## Arguments

    | argument          | default         | meaning                                                     |
    |-------------------|-----------------|-------------------------------------------------------------|
    | `workload`        | `"librispeech"` | a name in `zeus_gym.WORKLOADS` or a `JobSpec` (or its dict); a list or "all"; or `"procedural"` / a `zeus_gym.procedural.ProceduralJobs`: a new synthetic job every reset (`job_info["synthetic"]`) |
    | `gpu`             | `"v100"`        | `a40`, `p100`, `rtx6000`, `v100`, or your trace's GPU name; a list or "all" |
    | `eta_knob`        | `0.5`           | weight of energy vs time in the cost, in [0, 1]             |
    | `beta_knob`       | `2.0`           | early-stop threshold factor; `inf` disables early stopping  |
    | `num_recurrences` | `None`          | recurrences per episode; None: 2 |B| |P| as in the paper    |
    | `max_retries`     | `20`            | failed attempts before the b0 fallback finishes a recurrence|
    | `trace_dir`       | `None`          | trace folder; None: `ZEUS_GYM_TRACE_DIR`, else the shipped traces |
    | `observation`     | `"configs"`     | observation layout: `"configs"` (v2) or `"slots"` (v0); set by the env id |
    | `slots`           | `None`          | pad the spaces to at least (batch sizes, power limits), e.g. `(15, 9)` for all default jobs, to run a policy on jobs it was not trained on |
    | `render_mode`     | `None`          | `None`, or `"ansi"`: `render()` returns a line about the last run |

    ## Copies

    `copy.deepcopy(env)` and `pickle` give an env in the same state with its own copy of the
    random stream: it continues exactly as the original would, and stepping it leaves the
    original untouched.

    ```python
    import gymnasium as gym
    import zeus_gym  # registers the environments

    env = gym.make("ZeusGym/RecurringJob-v2", workload="imagenet", gpu="a40", eta_knob=0.5)
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step([info["b0_index"], info["profile_action"]])
    ```

    ## Version History

    - v2: a global feature `inverse_recurrences` (1 / `num_recurrences`: how much one run weighs
      in the episode, which decides whether a trial is affordable); dynamics unchanged. v1 is no
      longer registered, and policies trained on it do not load on v2 (retrain them).
    - v1: observation redesigned around configurations (`configs`, `globals`, `action_mask`),
      with each configuration's cost per epoch and epochs of its runs; dynamics unchanged.
    - v0: initial release; simulation semantics of zeus==0.16.0; single and multi-workload.
      Still registered (the `"slots"` observation).
    """

    # render_fps is required by the checkers once there is a render mode; text frames have no rate of their own.
    metadata = {"render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(
        self,
        workload: Workloads = "librispeech",
        gpu: Gpus = "v100",
        eta_knob: float = 0.5,
        beta_knob: float = 2.0,
        num_recurrences: int | None = None,
        max_retries: int = 20,
        trace_dir: str | os.PathLike | None = None,
        slots: tuple[int, int] | None = None,
        render_mode: str | None = None,
        observation: str = "configs",
    ) -> None:
        self.render_mode = check_render_mode(render_mode)
        self.observation = check_observation(observation)
        self._source = JobSource(
            workload, gpu, 1, eta_knob=eta_knob, beta_knob=beta_knob, num_recurrences=num_recurrences,
            max_retries=max_retries, trace_dir=trace_dir, slots=slots,
        )
        self.params = self._source.params
        self.job_info = job_info(self.params)
        self.action_space = ConfigurationSpace(self.params.playable[0])
        self.observation_space = observation_space(self.params, self.observation, self._source.bounds)
        self._state = None
        self._rows: Rows | None = None  # memoryviews of self._state for the scalar path
        self._tables: JobTables | None = None
        self._done = False
        self._last_info: dict[str, Any] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict[str, Any]]:
        check_options(options, ("job",))
        super().reset(seed=seed)
        job = self._source.pick(GeneratorDraw([self.np_random]), np.ones(1, dtype=bool), options)
        self.params = self._source.params
        self._state = reset(self.params, job)
        self._rows = Rows(self._state)
        self._tables = job_tables(self.params, int(job[0]))
        self.job_info = job_info(self.params, int(job[0]))
        self.action_space.set_playable(self.params.playable[job[0]])
        self._done = False
        self._last_info = None
        # The caller's own copy: a second build (its lists and mask new, the frozen spec shared)
        # costs a tenth of a deep copy, which went through the spec's fields one by one.
        return self._observation(), job_info(self.params, int(job[0]))

    def step(self, action: np.ndarray) -> tuple[dict, SupportsFloat, bool, bool, dict[str, Any]]:
        self._check_running()
        batch = np.asarray(action)
        if batch.shape != (2,) or batch.dtype.kind not in "iu":
            raise ValueError(f"action must be 2 integers [batch size index, power limit index], got {action!r}")
        b, p = batch.tolist()
        info, reward, done, globals_ = self._step_one(b, p)
        if self.observation == "configs":
            return observe_one(self._state, self._tables, globals_), reward, done, False, info
        return self._observation(), reward, done, False, info

    def step_into(self, b: int, p: int, row: np.ndarray, checked: bool = False) -> tuple[float, bool, dict[str, Any]]:
        """`step([b, p])` of the "configs" layout with the observation written into `row` (a
        float32 array laid out as its one buffer: configs, globals, action_mask) instead of a
        fresh buffer; returns reward, terminated and info (the env never truncates). For adapters
        that batch the observations of many single envs (`zeus_gym.sb3`). `checked`: the caller
        ran `check_action(b, p)` since the last step (an adapter checks every env's action first,
        so that a refused one changes nothing), and the env does not check it again."""
        if self.observation != "configs":
            raise ValueError(f"step_into needs observation='configs', got {self.observation!r}")
        info, reward, done, globals_ = self._step_one(b, p, check=not checked)
        observe_into(row, self._state, self._tables, globals_)
        return reward, done, info

    def observe_into(self, row: np.ndarray) -> None:
        """The current "configs" observation written into `row`, as `step_into` does."""
        observe_into(row, self._state, self._tables)

    def _check_running(self) -> None:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded("the episode has terminated: call reset() before step()")

    def check_action(self, b: int, p: int) -> None:
        """Raise ValueError, saying why, unless action (b, p) (Python ints) is playable in the
        current episode's job (ResetNeeded without a running episode)."""
        self._check_running()
        tables = self._tables
        if not (0 <= b < tables.num_b and 0 <= p <= tables.num_p and tables.playable[b][p]):
            raise ValueError(describe_invalid(self.params, int(self._state.job[0]), np.array([b, p])))

    def _step_one(self, b: int, p: int, check: bool = True) -> tuple:
        """Step a running episode at action (b, p) (Python ints) on the scalar path: `step_one`'s results."""
        if check:
            self.check_action(b, p)
        # The draws read self.np_random at each step (no stored closure over it), so a deep copy or
        # an unpickled env draws from its own copy of the stream.
        info, reward, done, globals_ = step_one(self.params, self._rows, self._tables, b, p, self.np_random)
        self._done = done
        self._last_info = info
        return info, reward, done, globals_

    def __getstate__(self) -> dict[str, Any]:
        # Memoryviews cannot be pickled or deep-copied: a copy rebuilds them over its own state.
        return {**self.__dict__, "_rows": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._state is not None:
            self._rows = Rows(self._state)

    def render(self) -> str | None:
        """With render_mode "ansi": one line about the last run (configuration, epochs, energy,
        time, cost, reached); with None: nothing."""
        if self.render_mode is None:
            gym.logger.warn("render() was called with render_mode=None: make the env with render_mode='ansi'")
            return None
        return render_text(self.job_info, self._last_info)

    def spawn(self) -> RecurringJobEnv:
        """A new env, as `RecurringJobEnv` with this one's arguments makes it, that shares this
        one's `Params` (never written to) and procedural generator instead of building them again
        (the Params of all 24 default jobs take a fifth of a second). Only before the first reset."""
        if self._state is not None:
            raise RuntimeError("spawn() copies an env that has not been reset yet")
        shared = {id(self.params): self.params}
        if self._source.generator is not None:
            shared[id(self._source.generator)] = self._source.generator
        return copy.deepcopy(self, shared)

    def action_masks(self) -> np.ndarray:
        """Playable actions of the current job, flat: entry `b * (P + 1) + p` (see `FlatActions`).

        A MultiDiscrete policy masks each dimension on its own and cannot express that some
        (batch size, power limit) pairs are missing, so masked training uses flat actions."""
        return self.action_space.playable.reshape(-1).copy()

    def _observation(self) -> dict[str, np.ndarray]:
        if self.observation == "configs":
            return observe_one(self._state, self._tables)
        return OBSERVATIONS[self.observation](self.params, self._state, rows=0)
