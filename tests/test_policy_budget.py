"""The policy's `affordable_trials` input states Frugal's budget rule on the observation alone.

After b0's profile run (when one run is 1 / num_recurrences of the episode, the state in which
Frugal decides whether a job can afford any exploration), the count of worst-case trials the 2 %
margin pays for must be Frugal's own count, up to Frugal's use of b0's expected cost instead of
the profile run's actual one; and on imagenet/P100 it must say "no trial", as Frugal does.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import zeus_gym  # noqa: F401
from zeus_gym.agents.frugal import FrugalAgent
from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES
from zeus_gym.policies import DERIVED_GLOBALS, EPISODE_BUDGET, affordable_trials as count_of, derived_globals

MARGIN = DERIVED_GLOBALS.index("trial_margin")
JOBS = [(w, g) for w in ("cifar100", "imagenet", "squad", "librispeech", "sentiment140") for g in ("a40", "p100", "rtx6000", "v100")]


def affordable_trials(obs: dict[str, np.ndarray]) -> float:
    configs = th.as_tensor(obs["configs"]).reshape(1, -1, len(CONFIG_FEATURES))
    globals_ = th.as_tensor(obs["globals"])[None]
    count = float(count_of(configs, globals_)[0, 0])
    # The policy's input is the count's margin over one trial.
    assert float(derived_globals(configs, globals_)[0, MARGIN]) == pytest.approx(math.tanh(2.0 * (count - 1.0)), abs=1e-6)
    return count


def frugal_count(agent: FrugalAgent) -> float:
    """Frugal's budget rule as a count: (budget - spent - the rest at the best) / one trial's worst."""
    info = agent.job_info
    episode = info["num_recurrences"] * info["default_cost"]
    rest = (info["num_recurrences"] - agent.done) * min(agent.mean_cost(agent.best()), info["default_cost"])
    return (agent.budget * episode - agent.expected_spent() - rest) / agent.threshold


def after_profiling_b0(workload: str, gpu: str, seed: int) -> tuple[dict[str, np.ndarray], FrugalAgent]:
    env = gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu)
    obs, info = env.reset(seed=seed)
    agent = FrugalAgent()
    agent.reset(info, seed)
    action = agent.act(obs, info)
    obs, reward, terminated, truncated, info = env.step(action)
    agent.observe(action, obs, reward, terminated, truncated, info)
    assert info["profiled"] and info["reached"] and math.isfinite(agent.threshold)
    return obs, agent


def test_the_budget_margin_is_the_held_out_aim():
    assert EPISODE_BUDGET == FrugalAgent().budget == 1.02


@pytest.mark.parametrize("workload,gpu", JOBS)
def test_affordable_trials_is_frugals_count_after_the_profile_run(zeus_trace_dir, workload, gpu):
    obs, agent = after_profiling_b0(workload, gpu, seed=3)
    expected = frugal_count(agent)
    # Frugal counts the profile run at b0's expected cost; the observation has its actual cost:
    # they differ by that run's luck, a fraction of one run, over one trial's worst case.
    assert affordable_trials(obs) == pytest.approx(expected, abs=0.1, rel=0.02)


def test_imagenet_on_the_p100_affords_no_trial(zeus_trace_dir):
    for seed in range(5):
        obs, agent = after_profiling_b0("imagenet", "p100", seed)
        assert affordable_trials(obs) < 1.0 and frugal_count(agent) < 1.0
        assert agent.next_trial() is None  # Frugal refuses: the count says so too


def test_before_any_run_the_worst_trial_is_one_default_run(zeus_trace_dir):
    obs, _ = gym.make("ZeusGym/RecurringJob-v2", workload="squad", gpu="v100").reset(seed=0)
    one_run = obs["globals"][GLOBAL_FEATURES.index("inverse_recurrences")]
    assert affordable_trials(obs) == pytest.approx((EPISODE_BUDGET - 1.0) / one_run, rel=1e-5)


def test_the_count_holds_while_only_b0_runs(zeus_trace_dir):
    """The state in which the clone explored in v1: a refusal episode, b0 run again and again at
    its best limit (its profile action). Each run costs about what the budget assumed, so the
    count stays where it was (v1's estimate of one run's weight fell to 0.07 in 8 runs)."""
    env = gym.make("ZeusGym/RecurringJob-v2", workload="imagenet", gpu="p100")
    obs, info = env.reset(seed=0)
    b0_profile = np.array([info["b0_index"], info["profile_action"]])
    obs, *_ = env.step(b0_profile)
    counts = [affordable_trials(obs)]
    for _ in range(12):
        obs, *_ = env.step(b0_profile)
        counts.append(affordable_trials(obs))
    assert max(counts) < 1.0
    assert counts == pytest.approx([counts[0]] * len(counts), abs=0.15)


def test_without_early_stopping_the_worst_case_is_max_epochs_at_b0s_epoch_cost(zeus_trace_dir):
    env = gym.make("ZeusGym/RecurringJob-v2", workload="imagenet", gpu="p100", beta_knob=math.inf)
    obs, info = env.reset(seed=0)
    obs, *_ = env.step(np.array([info["b0_index"], info["profile_action"]]))
    configs = obs["configs"].reshape(-1, len(CONFIG_FEATURES))
    b0_profile = (configs[:, CONFIG_FEATURES.index("b0")] > 0.5) & (configs[:, CONFIG_FEATURES.index("is_profile")] > 0.5)
    one_run = obs["globals"][GLOBAL_FEATURES.index("inverse_recurrences")]
    epochs_share = configs[b0_profile, CONFIG_FEATURES.index("mean_epochs")].item()
    b0_rows = (configs[:, CONFIG_FEATURES.index("b0")] > 0.5) & ~b0_profile
    best = min(configs[b0_rows, CONFIG_FEATURES.index("epoch_cost")].min(), 1.0)
    spent = one_run * configs[b0_profile, CONFIG_FEATURES.index("mean_cost")].item()
    remaining = 1.0 - obs["globals"][GLOBAL_FEATURES.index("progress")]
    expected = (EPISODE_BUDGET - spent - remaining * best) / (one_run / epochs_share)
    assert obs["globals"][GLOBAL_FEATURES.index("threshold_active")] == 0.0
    assert affordable_trials(obs) == pytest.approx(expected, rel=1e-5)
