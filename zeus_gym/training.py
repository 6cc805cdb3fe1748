"""Train Stable-Baselines3 / sb3-contrib policies on RecurringJob-v2 and play them as agents.

Needs the `rl` extra. MaskablePPO trains `zeus_gym.policies.ConfigurationScorerPolicy` (one shared
scorer per configuration) by default; the other algorithms SB3's `MultiInputPolicy`. `workloads`
may include `procedural`: every reset then draws a synthetic job derived from the other listed
workloads (all six if none) on `gpus` (`zeus_gym.procedural`). A training run writes into its folder `model.zip`, `config.json` (everything
needed to rebuild the same environment) and `training.json` (wall time and the share spent in the
environment), plus TensorBoard logs under `tensorboard/`. `Sb3Agent` (`--agent sb3:DIR`) plays a
saved policy greedily, restricted to the job's playable actions.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecMonitor

import zeus_gym
from zeus_gym.agents.base import BaseAgent
from zeus_gym.core.features import GLOBAL_FEATURES
from zeus_gym.folder_lock import lock_folder
from zeus_gym.policies import ConfigurationScorerPolicy
from zeus_gym.procedural import PROCEDURAL, ProceduralJobs
from zeus_gym.reward_scaling import ScaledRewards
from zeus_gym.sb3 import make_sb3_vec_env
from zeus_gym.wrappers import FlatActions, InvalidActionPenalty

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "maskable-ppo": MaskablePPO}
# Flat (Discrete) actions for DQN (which needs them) and MaskablePPO (exact pair masks).
FLAT = {"dqn", "maskable-ppo"}
# Enough action slots for every default job (librispeech on the V100 has 15 batch sizes, the A40
# 9 power limits): a policy trained on some jobs can then be run on any of them.
DEFAULT_SLOTS = (15, 9)
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "ppo": dict(n_steps=256, batch_size=256, ent_coef=0.01),
    "a2c": dict(n_steps=16, ent_coef=0.01),
    "dqn": dict(learning_starts=1000, buffer_size=100_000, exploration_fraction=0.2),
    # The scorer runs on every configuration of every sample: larger batches and fewer epochs
    # than SB3's defaults keep an update cheap next to the rollout.
    "maskable-ppo": dict(n_steps=256, batch_size=512, n_epochs=4, ent_coef=0.01, gamma=0.998),
}
POLICIES: dict[str, Any] = {"scorer": ConfigurationScorerPolicy, "mlp": "MultiInputPolicy"}


@dataclass
class TrainConfig:
    """Everything that defines a training run and the environment its policy acts in."""

    algo: str
    timesteps: int
    workloads: list[str] = field(default_factory=lambda: ["all"])
    gpus: list[str] = field(default_factory=lambda: ["all"])
    seed: int = 0
    n_envs: int = 8
    eta: float = 0.5
    beta: float = 2.0
    max_retries: int = 20
    num_recurrences: int | None = None
    trace_dir: str | None = None
    slots: tuple[int, int] = DEFAULT_SLOTS
    invalid_action_penalty: float = 1.0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    policy: str = "auto"  # "scorer" (the default of maskable-ppo, which it needs masks for) or "mlp"
    observation: str = "configs"  # the env's observation layout (v2); "slots" is v0's
    procedural: dict[str, Any] = field(default_factory=dict)  # ProceduralJobs arguments, with `procedural` workloads
    torch_threads: int = 1  # a second thread made updates 10x slower on a shared 2-core machine
    warm_start: str | None = None  # an agent to imitate before PPO (zeus_gym.imitation), e.g. "frugal"
    warm_start_steps: int = 20_000
    warm_start_epochs: int = 10
    warm_start_balance: bool = True  # weigh the teacher's decisions whether to explore as much as the rest (zeus_gym.imitation.decision_weights)
    warm_start_rounds: int = 2  # DAgger rounds after cloning: the clone plays, the teacher labels its states
    warm_start_round_steps: int | None = None  # steps of each round (None: warm_start_steps)
    warm_start_round_epochs: int | None = None  # epochs of each round's refit (None: warm_start_epochs)

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algo!r}: use one of {', '.join(ALGORITHMS)}")
        if self.policy == "auto":
            self.policy = "scorer" if self.algo == "maskable-ppo" else "mlp"
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}: use one of auto, {', '.join(POLICIES)}")
        if self.policy == "scorer" and (self.algo != "maskable-ppo" or self.observation != "configs"):
            raise ValueError("policy 'scorer' needs algo 'maskable-ppo' and observation 'configs'")
        if self.warm_start is not None and self.algo != "maskable-ppo":
            raise ValueError(f"warm_start needs algo 'maskable-ppo', got {self.algo!r}")
        if min(self.warm_start_steps, self.warm_start_epochs) < 1 or self.warm_start_rounds < 0:
            raise ValueError(f"warm_start_steps and warm_start_epochs must be >= 1 and warm_start_rounds >= 0, got "
                             f"{self.warm_start_steps}, {self.warm_start_epochs}, {self.warm_start_rounds}")
        if self.timesteps < 1 or self.n_envs < 1:
            raise ValueError(f"timesteps and n_envs must be positive, got {self.timesteps}, {self.n_envs}")
        self.slots = tuple(self.slots)
        self.trace_dir = None if self.trace_dir is None else str(self.trace_dir)
        self.hyperparameters = {**HYPERPARAMETERS[self.algo], **self.hyperparameters}

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of `RecurringJob-v2` (without workload and gpu)."""
        return dict(eta_knob=self.eta, beta_knob=self.beta, max_retries=self.max_retries, num_recurrences=self.num_recurrences,
                    slots=self.slots, observation=self.observation, trace_dir=self.trace_dir)

    def workload_kwargs(self) -> dict[str, Any]:
        """`workload` and `gpu` of the training env: the listed jobs, or procedural jobs derived
        from the other listed workloads when `procedural` is among them."""
        if PROCEDURAL not in self.workloads:
            return dict(workload=_one_or_list(self.workloads), gpu=_one_or_list(self.gpus))
        sources = [w for w in self.workloads if w != PROCEDURAL]
        sources = sources if sources and sources != ["all"] else list(zeus_gym.WORKLOADS)
        gpus = None if self.gpus == ["all"] else list(self.gpus)
        generator = ProceduralJobs(workloads=tuple(sources), gpus=gpus, trace_dir=self.trace_dir, **self.procedural)
        return dict(workload=generator, gpu=_one_or_list(self.gpus))


class EnvTimer(VecEnvWrapper):
    """Measures the wall time spent inside the environment's reset and step."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.seconds = 0.0

    def reset(self) -> Any:
        start = time.perf_counter()
        obs = self.venv.reset()
        self.seconds += time.perf_counter() - start
        return obs

    def step_wait(self) -> Any:
        start = time.perf_counter()
        out = self.venv.step_wait()
        self.seconds += time.perf_counter() - start
        return out


def make_training_env(config: TrainConfig) -> EnvTimer:
    """The training VecEnv: the native vector env for MaskablePPO (masks make every action
    playable); single envs with `InvalidActionPenalty` for the algorithms without masks."""
    kwargs = dict(**config.workload_kwargs(), **config.env_kwargs())
    if config.algo == "maskable-ppo":
        venv: VecEnv = make_sb3_vec_env(config.n_envs, flat_actions=True, **kwargs)
    else:
        def make() -> gym.Env:
            env = gym.make("ZeusGym/RecurringJob-v2", **kwargs).unwrapped
            return InvalidActionPenalty(FlatActions(env) if config.algo in FLAT else env, penalty=config.invalid_action_penalty)

        venv = DummyVecEnv([make] * config.n_envs)
    venv.seed(config.seed)
    # Costs span orders of magnitude across jobs (a hopeless configuration can cost hundreds of
    # Default recurrences), so returns are scaled for learning; the policy acts on the raw env.
    return EnvTimer(ScaledRewards(VecMonitor(venv), gamma=config.hyperparameters.get("gamma", 0.99)))


def train(config: TrainConfig, output: Path, progress_bar: bool = True, callback: Any = None) -> BaseAlgorithm:
    """Train, then save model, configuration and timing into `output` (`callback`: SB3's; refused
    at once if another run is using `output`: two runs would overwrite each other's model and logs)."""
    import torch

    output = Path(output)
    with lock_folder(output, "zeus-gym train"):
        torch.set_num_threads(config.torch_threads)
        env = make_training_env(config)
        model = ALGORITHMS[config.algo](
            POLICIES[config.policy], env, seed=config.seed, device="cpu", verbose=0,
            tensorboard_log=str(output / "tensorboard"), **config.hyperparameters,
        )
        start = time.perf_counter()
        imitation = None
        if config.warm_start is not None:
            from zeus_gym.imitation import warm_start

            kwargs = dict(**config.workload_kwargs(), **config.env_kwargs())
            imitation = warm_start(model, kwargs, config.warm_start, config.warm_start_steps, config.warm_start_epochs, config.seed,
                                    config.warm_start_balance, config.warm_start_rounds, config.warm_start_round_steps,
                                    config.warm_start_round_epochs)
            imitation["seconds"] = time.perf_counter() - start
        model.learn(total_timesteps=config.timesteps, progress_bar=progress_bar, callback=callback)
        seconds = time.perf_counter() - start
        save_policy(model, config, output)
        timing = {"seconds": seconds, "env_seconds": env.seconds, "env_share": env.seconds / seconds, "timesteps": model.num_timesteps,
                  "warm_start": imitation}
        (output / "training.json").write_text(json.dumps(timing, indent=2) + "\n")
        env.close()
    return model


def save_policy(model: BaseAlgorithm, config: TrainConfig, output: Path) -> None:
    """`model.zip` and `config.json` into `output`: a folder `Sb3Agent` (`--agent sb3:DIR`) plays."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.zip")
    (output / "config.json").write_text(json.dumps({**asdict(config), "zeus_gym_version": zeus_gym.__version__}, indent=2) + "\n")


def load_config(directory: Path) -> TrainConfig:
    """The `TrainConfig` saved by `train` in `directory`."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ValueError(f"{directory} is not a zeus-gym training folder: no config.json (train one with `zeus-gym train`)")
    saved = json.loads(path.read_text())
    saved.pop("zeus_gym_version", None)
    # Folders from before v1 trained MultiInputPolicy on the v0 ("slots") observation.
    saved.setdefault("observation", "slots")
    saved.setdefault("policy", "mlp")
    return TrainConfig(**saved)


_MODELS: dict[tuple[str, int], BaseAlgorithm] = {}  # per process: benchmarks build an agent per case


class Sb3Agent(BaseAgent):
    """A saved policy as an agent: the most likely playable action in each observation."""

    def __init__(self, directory: str | Path | None = None, *, model: BaseAlgorithm | None = None, config: TrainConfig | None = None) -> None:
        """The policy saved in `directory`, or a live `model` trained with `config`."""
        if directory is None:
            if model is None or config is None:
                raise ValueError("Sb3Agent needs a training folder, or both model and config")
            self.config, self.model = config, model
            return
        self.config = load_config(Path(directory))
        path = Path(directory).resolve() / "model.zip"
        key = (str(path), path.stat().st_mtime_ns)
        if key not in _MODELS:
            try:
                _MODELS[key] = ALGORITHMS[self.config.algo].load(path, device="cpu")
            except ValueError as error:  # the scorer refuses an older observation while SB3 rebuilds it
                raise ValueError(f"the policy in {directory}: {error}") from None
            except RuntimeError as error:  # weights of an earlier scorer, with other derived inputs
                if self.config.policy != "scorer" or "size mismatch" not in str(error):
                    raise
                raise ValueError(f"the policy in {directory} was trained by an earlier ConfigurationScorerPolicy, whose inputs differ "
                                 "(its weights have other shapes): retrain it with `zeus-gym train`") from None
        self.model = _MODELS[key]
        if self.config.observation == "configs":  # policies without the scorer load, then are refused here
            globals_ = self.model.observation_space["globals"].shape[0]
            if globals_ != len(GLOBAL_FEATURES):
                raise ValueError(f"the policy in {directory} was trained on an older observation ({globals_} global features; "
                                 f"RecurringJob-v2 has {len(GLOBAL_FEATURES)}): retrain it with `zeus-gym train`")

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        playable = np.asarray(self.job_info["playable"])
        if playable.shape != (self.config.slots[0], self.config.slots[1] + 1):
            raise ValueError(f"the policy was trained with slots={self.config.slots}; make the env with slots={self.config.slots}")
        scores = self._scores(observation)
        flat = int(np.argmax(np.where(playable.reshape(-1), scores, -np.inf)))
        return np.array(np.unravel_index(flat, playable.shape), dtype=np.int64)

    def _scores(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """Log-probability (or Q-value) of each flat action."""
        import torch

        policy = self.model.policy
        obs, _ = policy.obs_to_tensor(observation)
        with torch.no_grad():
            if isinstance(self.model, DQN):
                return policy.q_net(obs)[0].numpy()
            logits = [d.logits[0].numpy() for d in _categoricals(policy.get_distribution(obs))]
        return logits[0] if len(logits) == 1 else (logits[0][:, None] + logits[1][None, :]).reshape(-1)


def _categoricals(distribution: Any) -> list[Any]:
    inner = distribution.distribution
    return list(inner) if isinstance(inner, (list, tuple)) else [inner]


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)
