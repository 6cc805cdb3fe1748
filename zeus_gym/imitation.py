"""Behaviour cloning and DAgger: warm-start a MaskablePPO policy by imitating an agent.

PPO from a uniform policy first spends many episodes on configurations that never reach the
target. Cloning a good agent's decisions first (the cross-entropy of its flat actions under the
policy, on the observations it met) starts PPO from that agent's behaviour instead. The teacher
is any agent `zeus-gym run --agent` takes; it plays single envs built like the training env
(procedural jobs included), seeded apart from the training env's seeds.

A clone only ever saw the teacher's own episodes: once it deviates (a batch size explored one
run too late), it meets states the teacher never reached and its errors compound. DAgger (Ross,
Gordon and Bagnell, 2011) fixes that: the clone plays, the teacher watches the same runs (it
books the clone's actions and their outcomes, as it books its own) and says at every step what it
would do there; those labels join the data and the clone is fitted again, for a few rounds.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

from zeus_gym.agents.loading import load_agent
from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES

TEACHER_SEED = 1_000_000  # far from the training env's seeds (seed + i) and the evaluation seeds


def teacher_demonstrations(env: gym.Env, teacher: str, steps: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(observations, flat actions) of `teacher` playing whole episodes of `env` until `steps`."""
    observations, labels, _ = _labelled_play([env], teacher, steps, seed)
    return observations, labels


def student_demonstrations(model: BaseAlgorithm, env_kwargs: dict[str, Any], teacher: str, steps: int, seed: int,
                           num_envs: int = 16) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(observations, teacher's flat actions, clone's flat actions) of `model`'s greedy policy
    playing `num_envs` envs until `steps`: in each state the clone met, the action the teacher,
    booking the clone's runs as its own, would have taken. The clone's actions are what the envs run."""
    envs = [gym.make("ZeusGym/RecurringJob-v2", **env_kwargs) for _ in range(num_envs)]
    return _labelled_play(envs, teacher, steps, seed, model)


def _labelled_play(envs: list[gym.Env], teacher: str, steps: int, seed: int,
                   student: BaseAlgorithm | None = None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Play `envs` (episode seeds `seed`, `seed + 1`, ... in the order episodes start) until
    `steps` steps: (observations, the teacher's flat action in each, the flat action played). The
    teacher plays itself (`student` None; whole episodes), or `student`'s greedy policy plays and
    the teacher follows its runs."""
    columns = int(envs[0].unwrapped.action_space.nvec[1])
    observations: list[dict[str, np.ndarray]] = []
    labels: list[int] = []
    played: list[int] = []
    episodes = iter(range(seed, seed + 10**9))
    agents: list[Any] = [None] * len(envs)
    current: list[Any] = [None] * len(envs)  # (observation, info) of each env's episode, None: start one
    while len(labels) < steps or (student is None and any(c is not None for c in current)):
        for i, env in enumerate(envs):
            if current[i] is None:
                episode = next(episodes)
                agents[i] = load_agent(teacher, env)
                current[i] = env.reset(seed=episode)
                agents[i].reset(current[i][1], episode)
        if student is not None:
            batch = {key: np.stack([c[0][key] for c in current]) for key in current[0][0]}
            chosen, _ = student.predict(batch, deterministic=True, action_masks=batch["action_mask"] > 0.5)
        for i, env in enumerate(envs):
            observation, info = current[i]
            label = agents[i].act(observation, info)
            observations.append({key: value.copy() for key, value in observation.items()})
            labels.append(int(label[0]) * columns + int(label[1]))
            action = label if student is None else np.array(divmod(int(chosen[i]), columns), dtype=np.int64)
            played.append(int(action[0]) * columns + int(action[1]))
            observation, reward, terminated, truncated, info = env.step(action)
            try:
                agents[i].observe(action, observation, reward, terminated, truncated, info)
            except RuntimeError as error:  # e.g. Zeus's pruning, which expects its own batch sizes
                if student is None:
                    raise
                raise ValueError(f"teacher {teacher!r} cannot follow runs it did not choose ({error}); DAgger needs a teacher "
                                 "that books any action, e.g. frugal or oracle (or none: --dagger-rounds 0)") from None
            current[i] = None if terminated or truncated else (observation, info)
    stacked = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return stacked, np.array(labels, dtype=np.int64), np.array(played, dtype=np.int64)


def decision_weights(observations: dict[str, np.ndarray], actions: np.ndarray) -> np.ndarray:
    """Per-sample weights (mean 1) giving the teacher's decisions whether to explore as much weight
    in all as its other decisions (each decision the same): its explorations (a configuration it
    had not run yet), and whatever it chose right after a run that profiled a new batch size,
    where it either goes on exploring or stops.

    A good teacher explores in a few steps of a long episode (Frugal: about 4 % of its actions), so
    an unweighted fit learns to exploit and, greedy, never takes the first exploring step: cloned
    Frugal then plays Default's configuration for ever. Weighting the explorations alone teaches
    the opposite: the clone explored on jobs where Frugal stops right after b0's profile run
    because a failed trial would break the budget (imagenet on the P100, 24 recurrences)."""
    rows = observations["configs"].reshape(len(actions), observations["action_mask"].shape[1], -1)
    tries = rows[np.arange(len(actions)), actions, CONFIG_FEATURES.index("tries")]
    after_profile = observations["globals"][:, GLOBAL_FEATURES.index("last_profiled")] > 0.5
    decision = (tries == 0) | after_profile
    share = float(decision.mean())
    if share in (0.0, 1.0):
        return np.ones(len(actions))
    return np.where(decision, 0.5 / share, 0.5 / (1.0 - share))


def clone(model: BaseAlgorithm, observations: dict[str, np.ndarray], actions: np.ndarray, *, epochs: int = 10,
          batch_size: int = 512, learning_rate: float = 1e-3, seed: int = 0, weights: np.ndarray | None = None) -> list[float]:
    """Fit `model`'s policy to (observations, actions) with its own optimizer (at
    `learning_rate`, then restored); the mean (`weights`-weighted) negative log-likelihood of each epoch."""
    weights = np.ones(len(actions)) if weights is None else np.asarray(weights, dtype=np.float64)
    policy = model.policy
    rng = np.random.default_rng(seed)
    saved = [group["lr"] for group in policy.optimizer.param_groups]
    for group in policy.optimizer.param_groups:
        group["lr"] = learning_rate
    masks = observations["action_mask"] > 0.5
    losses = []
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = rng.permutation(len(actions))
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            obs = {key: th.as_tensor(value[rows]) for key, value in observations.items()}
            _, log_prob, _ = policy.evaluate_actions(obs, th.as_tensor(actions[rows]), action_masks=masks[rows])
            weight = th.as_tensor(weights[rows], dtype=log_prob.dtype)
            loss = -(weight * log_prob).sum() / weight.sum()
            policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            policy.optimizer.step()
            total += float(loss.detach()) * len(rows)
        losses.append(total / len(actions))
    policy.set_training_mode(False)
    for group, lr in zip(policy.optimizer.param_groups, saved):
        group["lr"] = lr
    return losses


def warm_start(model: BaseAlgorithm, env_kwargs: dict[str, Any], teacher: str, steps: int, epochs: int, seed: int,
               balance: bool = True, rounds: int = 0, round_steps: int | None = None, round_epochs: int | None = None) -> dict[str, Any]:
    """Clone `teacher` into `model` on `steps` steps of `RecurringJob-v2(**env_kwargs)` (`balance`:
    with `decision_weights`), then `rounds` DAgger rounds: each adds `round_steps` (default
    `steps`) steps of the clone's own play labelled by the teacher and refits on all the data for
    `round_epochs` (default `epochs`) epochs."""
    start = time.perf_counter()
    if rounds:  # a teacher that cannot follow the clone's runs fails now, not after the cloning fit
        student_demonstrations(model, env_kwargs, teacher, 64, TEACHER_SEED + seed, num_envs=2)
    env = gym.make("ZeusGym/RecurringJob-v2", **env_kwargs)
    observations, actions = teacher_demonstrations(env, teacher, steps, TEACHER_SEED + seed)
    demonstration = time.perf_counter() - start  # the teacher's env steps and its own decisions
    weights = decision_weights(observations, actions) if balance else None
    losses = [clone(model, observations, actions, epochs=epochs, seed=seed, weights=weights)]
    agreement = []  # per round: how often the clone's greedy action was the teacher's, in its own states
    for round_ in range(1, rounds + 1):
        begin = time.perf_counter()
        more, labels, chosen = student_demonstrations(model, env_kwargs, teacher, round_steps or steps, TEACHER_SEED + seed + round_ * 100_003)
        demonstration += time.perf_counter() - begin
        agreement.append(float(np.mean(chosen == labels)))
        observations = {key: np.concatenate([observations[key], more[key]]) for key in observations}
        actions = np.concatenate([actions, labels])
        weights = decision_weights(observations, actions) if balance else None
        losses.append(clone(model, observations, actions, epochs=round_epochs or epochs, seed=seed + round_, weights=weights))
    return {"teacher": teacher, "steps": int(len(actions)), "epochs": epochs, "balance": balance, "rounds": rounds,
            "loss": losses, "agreement": agreement, "demonstration_seconds": demonstration}

