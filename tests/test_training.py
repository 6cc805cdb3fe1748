"""RL training: wrappers, SB3 checks, `zeus-gym train`, and trained policies as agents."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from typer.testing import CliRunner

import zeus_gym  # noqa: F401
from zeus_gym.cli import app
from zeus_gym.training import Sb3Agent
from zeus_gym.wrappers import FlatActions, InvalidActionPenalty

ENV_ID = "ZeusGym/RecurringJob-v2"
ENVS = {
    "single": dict(workload="movielens-1m", gpu="rtx6000"),
    "multi": dict(workload="all", gpu="all", slots=(15, 9)),
}
WRAPPERS = {
    "none": lambda env: env,
    "flat": FlatActions,
    "penalty": InvalidActionPenalty,
    "flat+penalty": lambda env: InvalidActionPenalty(FlatActions(env)),
}


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("kind", ENVS)
def test_sb3_check_env_passes_for_every_recommended_combination(zeus_trace_dir, kind, wrapper):
    env = WRAPPERS[wrapper](gym.make(ENV_ID, **ENVS[kind]).unwrapped)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(env)


def test_flat_actions_map_slots_and_masks(zeus_trace_dir):
    env = FlatActions(gym.make(ENV_ID, **ENVS["single"]).unwrapped)
    env.reset(seed=0)
    nvec = env.unwrapped.action_space.nvec
    assert env.action_space.n == nvec[0] * nvec[1]
    _, _, _, _, info = env.step(1 * nvec[1] + 2)
    assert (info["batch_index"], info["power_index"]) == (1, 2)
    assert np.array_equal(env.action_masks(), env.unwrapped.job_info["playable"].reshape(-1))
    assert not env.action_masks()[1]  # batch size 4 at 125 W is not in the RTX6000 trace


def test_invalid_action_penalty_does_not_run_and_truncates(zeus_trace_dir):
    env = InvalidActionPenalty(gym.make(ENV_ID, **ENVS["single"]).unwrapped, penalty=2.0, max_invalid=3)
    obs, _ = env.reset(seed=0)
    results = [env.step(np.array([0, 0])) for _ in range(3)]  # batch size 4 at 100 W: unplayable
    assert [r[1] for r in results] == [-2.0, -2.0, -2.0]
    assert [r[3] for r in results] == [False, False, True]
    assert all(r[4] == {"invalid_action": True} for r in results)
    assert all(np.array_equal(r[0]["configs"], obs["configs"]) for r in results)
    _, _, _, _, info = env.step(np.array([8, 8]))  # b0, profiled
    assert info["invalid_action"] is False and info["ran"]


def test_slots_pad_the_spaces(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="squad", gpu="p100", slots=(15, 9)).unwrapped
    assert env.action_space.nvec.tolist() == [15, 10]
    obs, info = env.reset(seed=0)
    assert obs["action_mask"].shape == (15 * 10,) and not obs["action_mask"].reshape(15, 10)[5:].any()
    with pytest.raises(ValueError, match="slots=\\(3, 9\\) is smaller than the jobs need: at least \\(5, 6\\)"):
        gym.make(ENV_ID, workload="squad", gpu="p100", slots=(3, 9))


@pytest.mark.parametrize("algo", ["ppo", "maskable-ppo"])
def test_train_save_reload_and_evaluate(zeus_trace_dir, tmp_path, algo):
    runner = CliRunner()
    out = tmp_path / algo
    result = runner.invoke(app, ["train", "--algo", algo, "--timesteps", "2048", "--workloads", "squad,imagenet", "--gpus", "a40,v100",
                                 "--n-envs", "4", "--recurrences", "20", "--output", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["algo"], config["slots"], config["workloads"]) == (algo, [15, 9], ["squad", "imagenet"])
    timing = json.loads((out / "training.json").read_text())
    assert timing["timesteps"] >= 2048 and 0 < timing["env_share"] < 1
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    # A held-out job with unplayable configurations: the policy must only pick playable ones.
    history = tmp_path / "history.jsonl"
    result = runner.invoke(app, ["run", "--agent", f"sb3:{out}", "--workload", "movielens-1m", "--gpu", "rtx6000", "--recurrences", "15", "--history", str(history)])
    assert result.exit_code == 0, result.output
    assert "vs Oracle" in result.output
    assert len(history.read_text().splitlines()) >= 15


@pytest.mark.parametrize("algo", ["a2c", "dqn"])
def test_other_algorithms_train(zeus_trace_dir, tmp_path, algo):
    from zeus_gym.training import TrainConfig, train

    train(TrainConfig(algo=algo, timesteps=1200, workloads=["squad"], gpus=["a40"], n_envs=2, num_recurrences=10), tmp_path, progress_bar=False)
    agent = Sb3Agent(tmp_path)
    env = gym.make(ENV_ID, workload="squad", gpu="a40", slots=(15, 9))
    obs, info = env.reset(seed=0)
    agent.reset(info, seed=0)
    action = agent.act(obs, info)
    assert info["playable"][action[0], action[1]]


def test_a_policy_of_an_older_observation_is_refused_in_one_line(zeus_trace_dir, tmp_path, monkeypatch):
    """A folder trained on v1 (10 global features) would otherwise fail deep inside SB3 on v2's 11."""
    import zeus_gym.training as training

    training.train(training.TrainConfig(algo="a2c", timesteps=100, workloads=["squad"], gpus=["a40"], n_envs=2, num_recurrences=10),
                   tmp_path, progress_bar=False)
    monkeypatch.setattr(training, "GLOBAL_FEATURES", (*training.GLOBAL_FEATURES, "a_newer_feature"))
    result = CliRunner().invoke(app, ["run", "--agent", f"sb3:{tmp_path}", "--workload", "squad", "--gpu", "a40"])
    assert result.exit_code == 1
    assert f"the policy in {tmp_path} was trained on an older observation (11 global features; RecurringJob-v2 has 12)" in result.output
    assert "Traceback" not in result.output


def test_a_scorer_policy_of_an_older_observation_is_refused_in_one_line(zeus_trace_dir, tmp_path, monkeypatch):
    """The scorer's weights are sized by the global features, so SB3 cannot even rebuild a v1 one."""
    import zeus_gym.policies as policies
    import zeus_gym.training as training

    training.train(training.TrainConfig(algo="maskable-ppo", timesteps=64, workloads=["squad"], gpus=["a40"], n_envs=2, num_recurrences=10,
                                        hyperparameters=dict(n_steps=32, batch_size=64)), tmp_path, progress_bar=False)
    monkeypatch.setattr(policies, "GLOBAL_FEATURES", (*policies.GLOBAL_FEATURES, "a_newer_feature"))
    result = CliRunner().invoke(app, ["run", "--agent", f"sb3:{tmp_path}", "--workload", "squad", "--gpu", "a40"])
    assert result.exit_code == 1
    assert (f"the policy in {tmp_path}: ConfigurationScorerPolicy needs the RecurringJob-v2 observation (12 global features), got 11: "
            "a policy trained on an older observation; retrain it with `zeus-gym train`") in result.output
    assert "Traceback" not in result.output


def test_a_scorer_policy_with_other_inputs_is_refused_in_one_line(zeus_trace_dir, tmp_path, monkeypatch):
    """A folder saved by an earlier scorer (other derived inputs, so other weight shapes) would end
    in SB3's state_dict size-mismatch traceback."""
    import torch as th

    import zeus_gym.policies as policies
    import zeus_gym.training as training

    with monkeypatch.context() as patch:  # an earlier scorer: one more derived input per configuration
        derive = policies.derived_config_features
        patch.setattr(policies, "DERIVED_CONFIG_FEATURES", (*policies.DERIVED_CONFIG_FEATURES, "an_older_input"))
        patch.setattr(policies, "derived_config_features", lambda configs: th.cat([derive(configs), configs[:, :, :1]], dim=2))
        training.train(training.TrainConfig(algo="maskable-ppo", timesteps=64, workloads=["squad"], gpus=["a40"], n_envs=2, num_recurrences=10,
                                            hyperparameters=dict(n_steps=32, batch_size=64)), tmp_path, progress_bar=False)
    result = CliRunner().invoke(app, ["run", "--agent", f"sb3:{tmp_path}", "--workload", "squad", "--gpu", "a40"])
    assert result.exit_code == 1
    assert (f"the policy in {tmp_path} was trained by an earlier ConfigurationScorerPolicy, whose inputs differ (its weights have "
            "other shapes): retrain it with `zeus-gym train`") in result.output
    assert "Traceback" not in result.output


def test_v1_is_retired_and_names_v2():
    with pytest.raises(gym.error.DeprecatedEnv, match="RecurringJob-v2"):
        gym.make("ZeusGym/RecurringJob-v1")


def test_bad_training_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["run", "--agent", f"sb3:{tmp_path}"])
    assert result.exit_code == 1
    assert "no trained policy there" in result.output


def test_train_warm_starts_with_cloning_and_dagger(zeus_trace_dir, tmp_path):
    out = tmp_path / "warm"
    result = CliRunner().invoke(app, ["train", "--timesteps", "256", "--workloads", "squad", "--gpus", "a40", "--n-envs", "2",
                                      "--recurrences", "10", "--warm-start", "frugal", "--warm-start-steps", "200",
                                      "--warm-start-epochs", "2", "--dagger-rounds", "1", "--output", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    warm = json.loads((out / "training.json").read_text())["warm_start"]
    assert (warm["teacher"], warm["rounds"], len(warm["agreement"]), len(warm["loss"])) == ("frugal", 1, 1, 2)
    assert warm["steps"] >= 400  # the teacher's own 200 steps, then 200 of the clone's
    assert json.loads((out / "config.json").read_text())["warm_start_rounds"] == 1


def test_train_warm_start_mistakes_are_one_line_errors(zeus_trace_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--algo", "ppo", "--warm-start", "frugal", "--output", str(tmp_path / "a")])
    assert result.exit_code == 1 and "warm_start needs algo 'maskable-ppo', got 'ppo'" in result.output
    result = runner.invoke(app, ["train", "--timesteps", "64", "--workloads", "squad", "--gpus", "a40", "--recurrences", "5",
                                 "--warm-start", "nosuchagent", "--output", str(tmp_path / "b"), "--no-progress"])
    assert result.exit_code == 1 and "nosuchagent" in result.output and "Traceback" not in result.output


def test_train_refuses_a_dagger_teacher_that_cannot_follow_at_once(zeus_trace_dir, tmp_path):
    result = CliRunner().invoke(app, ["train", "--timesteps", "64", "--workloads", "squad", "--gpus", "a40", "--recurrences", "5",
                                      "--warm-start", "zeus", "--warm-start-steps", "100000", "--output", str(tmp_path / "z"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "teacher 'zeus' cannot follow runs it did not choose" in result.output and "--dagger-rounds 0" in result.output


