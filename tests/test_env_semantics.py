"""Hand-computed runs on a toy trace: every branch of the simulation semantics, with exact numbers.

Toy GPU (MAXPOWER 200 W), eta 0.5, so a run costs 0.5 E + 100 T. The early-stopping epoch cost
uses the batch size's own largest limit: (0.5 W + 0.5 max_limit_of_b) * s. Per epoch:

| batch | limit | s/epoch | W   | J/epoch | epoch cost | training runs (target epoch) |
|-------|-------|---------|-----|---------|------------|------------------------------|
| 8     | 100   | 10      | 80  | 800     | 900        | never                        |
| 16    | 100   | 8       | 90  | 720     | 1160       | 3                            |
| 16    | 200   | 5       | 180 | 900     | 950        | 3                            |
| 32    | 100   | 100     | 100 | 10000   | 10000      | 1                            |

b0 = 16: a run at 200 W costs 0.5 * 2700 + 100 * 15 = 2850 = default_cost.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import zeus_gym  # noqa: F401
from zeus_gym import JobSpec

TRAIN = """dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch
toy,net,8,sgd,0.1,1,0.5,
toy,net,16,sgd,0.1,1,0.5,3
toy,net,32,sgd,0.1,1,0.5,1
"""
POWER = """dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power
toy,net,8,sgd,100,10,80
toy,net,16,sgd,100,8,90
toy,net,16,sgd,200,5,180
toy,net,32,sgd,100,100,100
"""
SPEC = JobSpec("toy", "net", "sgd", 0.5, 10, 16)
B8, B16, B32 = 0, 1, 2
W100, W200, PROFILE = 0, 1, 2


@pytest.fixture
def toy_env(tmp_path):
    (tmp_path / "summary_train.csv").write_text(TRAIN)
    (tmp_path / "summary_power_toy.csv").write_text(POWER)

    def make(**kwargs):
        env = gym.make("ZeusGym/RecurringJob-v0", workload=SPEC, gpu="toy", trace_dir=tmp_path, **kwargs)
        env.reset(seed=0)
        return env

    return make


def test_job_info(toy_env):
    info = toy_env().unwrapped.job_info
    assert info["batch_sizes"] == [8, 16, 32]
    assert info["power_limits"] == [100, 200]
    assert info["default_cost"] == 2850.0
    assert info["num_recurrences"] == 2 * 3 * 2
    assert info["playable"].tolist() == [[True, False, True], [True, True, True], [True, False, True]]


def test_reached_run(toy_env):
    _, reward, terminated, truncated, info = toy_env().step([B16, W200])
    assert (info["ran"], info["reached"], info["epochs"]) == (True, True, 3)
    assert (info["energy"], info["time"], info["cost"]) == (2700.0, 15.0, 2850.0)
    assert reward == -1.0 and not terminated and not truncated
    assert (info["recurrence"], info["attempt"], info["min_cost"]) == (1, 1, 2850.0)


def test_early_stopped_run(toy_env):
    env = toy_env(beta_knob=2.0)
    env.step([B16, W200])
    _, reward, _, _, info = env.step([B8, W100])
    # Threshold 2 * 2850 = 5700 affords 5700 // 900 = 6 epochs; the run never reaches the target.
    assert info["threshold"] == 5700.0
    assert (info["ran"], info["reached"], info["epochs"]) == (True, False, 6)
    assert (info["energy"], info["time"], info["cost"]) == (4800.0, 60.0, 8400.0)
    assert reward == -8400.0 / 2850.0
    assert (info["recurrence"], info["attempt"], info["recurrence_done"]) == (2, 1, False)


def test_run_that_cannot_start(toy_env):
    env = toy_env(beta_knob=2.0)
    env.step([B16, W200])
    obs, reward, _, _, info = env.step([B32, W100])  # one epoch costs 10000 > 5700
    assert (info["ran"], info["reached"], info["epochs"]) == (False, False, 0)
    assert (info["energy"], info["time"], info["cost"], reward) == (0.0, 0.0, 0.0, 0.0)
    assert obs["last_run"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert obs["attempt"][0] == pytest.approx(1 / 20)


def test_profiled_run(toy_env):
    _, _, _, _, info = toy_env().step([B16, PROFILE])
    # First epoch: the mean of both limits (810 J, 6.5 s); the rest at 200 W, the cheaper epoch.
    assert (info["profiled"], info["power_limit"], info["epochs"]) == (True, 200, 3)
    assert info["profile_epoch_cost"].tolist() == [1160.0, 950.0]
    assert (info["energy"], info["time"]) == (810.0 + 2 * 900.0, 6.5 + 2 * 5.0)
    assert info["cost"] == 0.5 * 2610.0 + 100 * 16.5


def test_profile_of_batch_with_one_limit_marks_missing_limits_unknown(toy_env):
    _, _, _, _, info = toy_env().step([B8, PROFILE])
    assert info["power_limit"] == 100
    assert info["profile_epoch_cost"].tolist() == [900.0, np.inf]


def test_retry_accumulates_cost(toy_env):
    env = toy_env()
    _, _, _, _, failed = env.step([B8, W100])  # no threshold yet: runs all 10 epochs, never reaches
    assert (failed["epochs"], failed["cost"], failed["recurrence_done"]) == (10, 0.5 * 8000 + 100 * 100, False)
    obs, _, _, _, retry = env.step([B16, W200])
    assert (retry["recurrence"], retry["attempt"], retry["recurrence_done"]) == (1, 2, True)
    assert retry["min_cost"] == 14000.0 + 2850.0
    assert obs["threshold"].tolist() == pytest.approx([1.0, 2 * 16850.0 / 2850.0])


def test_max_retries_fallback(toy_env):
    env = toy_env(beta_knob=2.0, max_retries=2)
    env.step([B16, W200])
    _, _, _, _, first = env.step([B32, W100])  # cannot start: still counts as an attempt
    assert (first["attempt"], first["fallback"]) == (1, False)
    obs, reward, _, _, info = env.step([B8, W100])  # early-stopped: the 2nd failure
    assert (info["attempt"], info["reached"], info["fallback"], info["recurrence_done"]) == (2, False, True, True)
    assert (info["fallback_energy"], info["fallback_time"], info["fallback_cost"]) == (2700.0, 15.0, 2850.0)
    assert (info["fallback_batch_size"], info["fallback_power_limit"]) == (16, 200)
    assert info["step_cost"] == 8400.0 + 2850.0
    assert reward == -(8400.0 + 2850.0) / 2850.0
    assert info["min_cost"] == 2850.0
    assert obs["progress"][0] == pytest.approx(2 / 12)


def test_episode_terminates_after_num_recurrences(toy_env):
    env = toy_env(num_recurrences=3)
    results = [env.step([B16, W200]) for _ in range(3)]
    assert [r[2] for r in results] == [False, False, True]
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.step([B16, W200])


def test_no_early_stopping_with_infinite_beta(toy_env):
    env = toy_env(beta_knob=float("inf"))
    env.step([B16, W200])
    _, _, _, _, info = env.step([B32, W100])
    assert (info["threshold"], info["ran"], info["reached"], info["epochs"]) == (np.inf, True, True, 1)
