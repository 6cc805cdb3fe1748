"""zeus-gym: Gymnasium environments for GPU energy optimization of recurring DNN training jobs."""

from gymnasium.envs.registration import register

from zeus_gym.workloads import WORKLOADS, JobSpec

__version__ = "0.1.0"

register(
    id="ZeusGym/RecurringJob-v2",
    entry_point="zeus_gym.envs.recurring_job:RecurringJobEnv",
    vector_entry_point="zeus_gym.envs.recurring_job_vector:RecurringJobVectorEnv",
    kwargs={"observation": "configs"},
)
# v1 is retired: the same observation without the global `inverse_recurrences`, which policies
# need to budget their trials; `gym.make` of it names v2. v0 stays: its observation is another layout.
# v0: the same dynamics with the per-slot observation of the first release.
register(
    id="ZeusGym/RecurringJob-v0",
    entry_point="zeus_gym.envs.recurring_job:RecurringJobEnv",
    vector_entry_point="zeus_gym.envs.recurring_job_vector:RecurringJobVectorEnv",
    kwargs={"observation": "slots"},
)

__all__ = ["WORKLOADS", "JobSpec", "__version__"]

register(id="ZeusGym/ClusterTrace-v0", entry_point="zeus_gym.cluster.env:ClusterTraceEnv")
