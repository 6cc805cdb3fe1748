"""The cluster-trace scenario: recurring job groups whose submissions overlap (the Zeus artifact's
`run_alibaba.py`).

`groups` reads and validates group files (and fetches upstream's Alibaba file, verified by its git
blob id), `synth` makes SYNTHETIC groups in the same schema, `env` is `ZeusGym/ClusterTrace-v0`,
`play` plays an agent on one group, and `command` is `zeus-gym cluster`.
"""

from zeus_gym.cluster.env import ClusterTraceEnv
from zeus_gym.cluster.groups import (
    Group, GroupTable, fetch_alibaba_groups, git_blob_sha1, group_seed, load_groups, locate_alibaba_groups, read_groups,
    validate_groups,
)
from zeus_gym.cluster.play import GroupEpisode, GroupSummary, play_group
from zeus_gym.cluster.synth import synthesize_groups, write_groups

__all__ = [
    "ClusterTraceEnv",
    "Group",
    "GroupEpisode",
    "GroupSummary",
    "GroupTable",
    "fetch_alibaba_groups",
    "git_blob_sha1",
    "group_seed",
    "load_groups",
    "locate_alibaba_groups",
    "play_group",
    "read_groups",
    "synthesize_groups",
    "validate_groups",
    "write_groups",
]
