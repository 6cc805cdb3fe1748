"""A MaskablePPO policy that scores every configuration with one shared network.

The decision of each run is a bandit over configurations whose statistics are in the observation
(`RecurringJob-v2`: one row of features per flat action, see `zeus_gym.core.features`). An MLP over
the concatenated slots would learn "slot 3 is good", which means nothing on another job; here
the logit of configuration k is

    logit_k = w . h_k,    h_k = tanh(A z_k + C max_{j playable} z_j),    z_k = tanh(W [x_k, g])

with x_k the configuration's row (plus `derived_config_features`: where its batch size lies in a
hill climb from b0), g the global features (plus `derived_globals`: what the episode has spent so
far, what an early-stopped trial can cost, whether its budget affords one, b0's epochs), and the
same weights for every k: a DeepSets-style equivariant layer (the max over playable configurations lets a configuration be
scored against the best others, e.g. "my estimate is the lowest"). Permuting the configurations
permutes the logits, and the weights do not depend on the number of configurations K (K is read
from the observation's width), so a policy acts on any job. Unplayable configurations get the
logit -1e8 (probability exactly 0 in float32), with or without MaskablePPO's own masks. The value
head pools its own per-configuration embedding over playable configurations (mean and max) and
reads the global features; both heads share the encoder.

```python
from sb3_contrib import MaskablePPO
from zeus_gym.policies import ConfigurationScorerPolicy
from zeus_gym.sb3 import make_sb3_vec_env

model = MaskablePPO(ConfigurationScorerPolicy, make_sb3_vec_env(8, flat_actions=True, workload="all", gpu="all"))
```

It saves and loads with the algorithm (`model.save`, `MaskablePPO.load`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from zeus_gym.agents.frugal import EPISODE_BUDGET
from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES

MASKED_LOGIT = -1e8  # as sb3-contrib's masks: exp underflows to exactly 0 in float32
DERIVED_GLOBALS = ("spent", "threshold_share", "trial_margin", "b0_epochs")
DERIVED_CONFIG_FEATURES = ("above_b0", "frontier", "beyond_failure", "edge_gap")
_BATCH, _PROFILE, _B0, _PLAYABLE, _TRIES, _MEAN_COST, _REACH, _KNOWN, _EPOCH_COST, _MEAN_EPOCHS, _ESTIMATE = (
    CONFIG_FEATURES.index(name)
    for name in ("batch", "is_profile", "b0", "playable", "tries", "mean_cost", "reach_rate", "epoch_cost_known", "epoch_cost",
                 "mean_epochs", "estimate")
)
_PROGRESS, _ACTIVE, _THRESHOLD, _ONE_RUN = (
    GLOBAL_FEATURES.index(name) for name in ("progress", "threshold_active", "threshold", "inverse_recurrences")
)


def derived_globals(configs: th.Tensor, globals_: th.Tensor) -> th.Tensor:
    """(n, 4) episode-level quantities that are sums or minima over the rows, which neither a
    configuration's own row nor a max-pool can express, and which decide whether an exploration
    is affordable (what Frugal weighs). Costs are shares of Default's episode (num_recurrences x
    default cost):

    - `spent`: log(1 + the episode's cost so far), summed over the profile rows, which hold each
      batch size's totals (tries x mean cost); the log keeps it small when a poor policy has spent
      hundreds of Default episodes;
    - `threshold_share`: threshold / default cost / num_recurrences, what one early-stopped trial
      can cost;
    - `trial_margin`: tanh(2 (`affordable_trials` - 1)), positive when the budget pays for one
      failed trial: the decision is at 1 trial, and a learned layer finds a sign more easily than
      a threshold in a count that is mostly far from it;
    - `b0_epochs`: b0's mean epochs / max_epochs (0 before it ran), which tells whether larger
      batch sizes, needing more epochs, can still reach the target (Frugal climbs up first from b0
      when it needs at most half of max_epochs; `above_b0` gives each row its side)."""
    spent_share, threshold_share, count = _episode_terms(configs, globals_)
    return th.cat([th.log1p(spent_share), threshold_share, th.tanh(2.0 * (count - 1.0)), _b0_epochs(configs)], dim=1)


def derived_config_features(configs: th.Tensor) -> th.Tensor:
    """(n, K, 4) where each configuration's batch size lies in the hill climb over batch sizes,
    from the batch-size rows (profile actions) of the same observation; each a function of the
    rows' values alone, so permuting the rows permutes these:

    - `above_b0`: the sign of (its batch size - b0);
    - `frontier`: 1 if its batch size is the climb's next one: the nearest playable batch size
      beyond the tried ones (a batch size is tried once it ran), on either side, and not
      `beyond_failure`; before any run, b0;
    - `beyond_failure`: 1 if a tried batch size that never reached the target lies between b0 and
      it, itself included: a climb that failed there does not go past it;
    - `edge_gap`: on a frontier row, log(best `estimate` of the tried batch size next to it, the
      climb's edge on that side / the best `estimate` of all), at most 2; 0 when that edge is the
      cheapest known, where Frugal climbs first (0 also off the frontier and before estimates).

    Without them the scorer, which sees one row at a time plus a max-pool, did not learn these
    orderings: cloned Frugal jumped from b0 to the batch size two steps up, played the other
    power limits of batch sizes that had failed, and went on down past a failed one (cifar100,
    held out), each a wasted run that Frugal never makes."""
    playable = configs[:, :, _PLAYABLE] > 0.5
    profile = playable & (configs[:, :, _PROFILE] > 0.5)
    batch = configs[:, :, _BATCH]
    b0_batch = (batch * (configs[:, :, _B0] > 0.5)).amax(dim=1, keepdim=True)
    offset = batch - b0_batch
    tried = profile & (configs[:, :, _TRIES] > 0)
    failed = tried & (configs[:, :, _REACH] <= 0)
    inf = th.full_like(offset, th.inf)
    blocked_up = th.where(failed & (offset > 0), offset, inf).amin(dim=1, keepdim=True)
    blocked_down = th.where(failed & (offset < 0), offset, -inf).amax(dim=1, keepdim=True)
    beyond = ((offset > 0) & (offset >= blocked_up)) | ((offset < 0) & (offset <= blocked_down))
    highest = th.where(tried, offset, -inf).amax(dim=1, keepdim=True)
    lowest = th.where(tried, offset, inf).amin(dim=1, keepdim=True)
    next_up = th.where(profile & (offset > highest), offset, inf).amin(dim=1, keepdim=True)
    next_down = th.where(profile & (offset < lowest), offset, -inf).amax(dim=1, keepdim=True)
    untouched = ~tried.any(dim=1, keepdim=True)
    frontier = th.where(untouched, offset == 0, (offset == next_up) | (offset == next_down)) & playable & ~beyond
    estimate = th.where(playable & (configs[:, :, _ESTIMATE] > 0), configs[:, :, _ESTIMATE], inf)
    best = estimate.amin(dim=1, keepdim=True)
    upper_edge = th.where(offset == highest, estimate, inf).amin(dim=1, keepdim=True)
    lower_edge = th.where(offset == lowest, estimate, inf).amin(dim=1, keepdim=True)
    edge = th.where(offset > 0, upper_edge, lower_edge)  # b0's own frontier (before any run) has no edge
    known = frontier & th.isfinite(edge) & th.isfinite(best)
    gap = th.log(th.where(known, edge / best, th.ones_like(edge))).clamp(0.0, 2.0)  # log 1 = 0 off the frontier
    return th.stack([th.sign(offset) * playable, frontier.to(configs.dtype), (beyond & playable).to(configs.dtype), gap], dim=2)


def _b0_epochs(configs: th.Tensor) -> th.Tensor:
    """(n, 1) b0's mean epochs / max_epochs, from its profile row (0 before it ran)."""
    b0_profile = (configs[:, :, _PROFILE] > 0.5) & (configs[:, :, _B0] > 0.5)
    return (configs[:, :, _MEAN_EPOCHS] * b0_profile).sum(dim=1, keepdim=True)


def affordable_trials(configs: th.Tensor, globals_: th.Tensor) -> th.Tensor:
    """(n, 1) how many worst-case trials the budget still pays for: (EPISODE_BUDGET - cost so far -
    the remaining recurrences at the best expected cost known, at most Default's) / one trial's
    worst case. Frugal's budget rule, stated on what the observation shows: without it the scorer
    never learned to refuse a trial in a short job (imagenet/P100), where the horizon alone does
    not tell whether the power limits' savings pay for one. Without early stopping a trial's worst
    case is max_epochs at b0's cost per epoch, (1 / num_recurrences) / (b0's mean epochs /
    max_epochs): one Default run before b0 has run."""
    return _episode_terms(configs, globals_)[2]


def _episode_terms(configs: th.Tensor, globals_: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """(spent share, threshold share, affordable trials), each (n, 1)."""
    profile = configs[:, :, _PROFILE] > 0.5
    spent_share = (profile * configs[:, :, _TRIES] * configs[:, :, _MEAN_COST]).sum(dim=1, keepdim=True)
    one_run = globals_[:, _ONE_RUN : _ONE_RUN + 1]
    threshold_share = one_run * globals_[:, _THRESHOLD : _THRESHOLD + 1]
    # b0's expected cost at a limit is known exactly once its cost per epoch is (Default's expected
    # cost is b0's at its top limit, and `epoch_cost` is relative to that limit's); the others'
    # rest on their runs' epochs (`estimate`).
    b0 = configs[:, :, _B0] > 0.5
    b0_limit = b0 & ~profile & (configs[:, :, _KNOWN] > 0.5)
    estimate = th.where(b0_limit, configs[:, :, _EPOCH_COST], th.where(b0, th.zeros_like(configs[:, :, _ESTIMATE]), configs[:, :, _ESTIMATE]))
    best = th.where(estimate > 0, estimate, th.ones_like(estimate)).min(dim=1, keepdim=True).values.clamp(max=1.0)
    remaining = (1.0 - globals_[:, _PROGRESS : _PROGRESS + 1]).clamp(min=0.0)
    b0_epochs = _b0_epochs(configs)
    without_stopping = one_run / th.where(b0_epochs > 0, b0_epochs, th.ones_like(b0_epochs))
    worst = th.where(globals_[:, _ACTIVE : _ACTIVE + 1] > 0.5, threshold_share, without_stopping)
    slack = EPISODE_BUDGET - spent_share - remaining * best
    count = th.where(worst > 0, slack / th.where(worst > 0, worst, th.ones_like(worst)), th.full_like(worst, th.inf))
    return spent_share, threshold_share, count


class ConfigurationExtractor(BaseFeaturesExtractor):
    """No learning: `configs`, `globals` and `action_mask` side by side, for `SharedScorer`."""

    def __init__(self, observation_space: spaces.Dict) -> None:
        missing = {"configs", "globals", "action_mask"} - set(observation_space.spaces)
        if missing:
            raise ValueError(f"ConfigurationScorerPolicy needs the RecurringJob-v2 observation; keys {sorted(missing)} are missing")
        globals_ = observation_space["globals"].shape[0]
        if globals_ != len(GLOBAL_FEATURES):  # a policy saved on v1 (10): its weights do not fit v2's inputs
            raise ValueError(f"ConfigurationScorerPolicy needs the RecurringJob-v2 observation ({len(GLOBAL_FEATURES)} global features), "
                             f"got {globals_}: a policy trained on an older observation; retrain it with `zeus-gym train`")
        width = sum(int(np.prod(observation_space[key].shape)) for key in ("configs", "globals", "action_mask"))
        super().__init__(observation_space, features_dim=width)

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        return th.cat([observations["configs"], observations["globals"], observations["action_mask"]], dim=1)


class EquivariantEncoder(nn.Module):
    """Per-configuration embeddings h_k (n, K, H) from rows (n, K, F), globals (n, G), mask (n, K)."""

    def __init__(self, num_features: int, num_globals: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Linear(num_features + num_globals, hidden)
        self.own = nn.Linear(hidden, hidden)
        self.context = nn.Linear(hidden, hidden, bias=False)

    def forward(self, configs: th.Tensor, globals_: th.Tensor, mask: th.Tensor) -> th.Tensor:
        shared = globals_[:, None, :].expand(-1, configs.shape[1], -1)
        z = th.tanh(self.embed(th.cat([configs, shared], dim=2)))
        best = th.where(mask[:, :, None], z, th.full_like(z, -2.0)).max(dim=1).values  # tanh > -2
        return th.tanh(self.own(z) + self.context(best)[:, None, :])


class SharedScorer(nn.Module):
    """SB3's `mlp_extractor` slot: `forward_actor` gives the K logits, `forward_critic` the value."""

    def __init__(self, num_features: int, num_globals: int, hidden: int) -> None:
        super().__init__()
        self.num_features, self.num_globals = num_features, num_globals
        num_globals += len(DERIVED_GLOBALS)
        num_rows = num_features + len(DERIVED_CONFIG_FEATURES)
        self.latent_dim_pi = self.latent_dim_vf = 1  # SB3 sizes its heads by these; the policy drops them
        # One encoder for both heads: the network runs on every configuration of every sample,
        # which dominates training time, so it is paid once.
        self.encoder = EquivariantEncoder(num_rows, num_globals, hidden)
        self.score = nn.Linear(hidden, 1)
        self.value = nn.Sequential(nn.Linear(2 * hidden + num_globals, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def split(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """(configs (n, K, F + derived), globals (n, G + derived), mask (n, K) bool) from the
        extractor's output."""
        num_configs = (features.shape[1] - self.num_globals) // (self.num_features + 1)
        rows = num_configs * self.num_features
        configs = features[:, :rows].reshape(features.shape[0], num_configs, self.num_features)
        globals_ = features[:, rows : rows + self.num_globals]
        globals_ = th.cat([globals_, derived_globals(configs, globals_)], dim=1)
        return th.cat([configs, derived_config_features(configs)], dim=2), globals_, features[:, rows + self.num_globals :] > 0.5

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        configs, globals_, mask = self.split(features)
        return self._logits(self.encoder(configs, globals_, mask), mask)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        configs, globals_, mask = self.split(features)
        return self._value(self.encoder(configs, globals_, mask), globals_, mask)

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        configs, globals_, mask = self.split(features)
        h = self.encoder(configs, globals_, mask)
        return self._logits(h, mask), self._value(h, globals_, mask)

    def _logits(self, h: th.Tensor, mask: th.Tensor) -> th.Tensor:
        logits = self.score(h).squeeze(-1)
        return th.where(mask, logits, th.full_like(logits, MASKED_LOGIT))

    def _value(self, h: th.Tensor, globals_: th.Tensor, mask: th.Tensor) -> th.Tensor:
        weight = mask[:, :, None].to(h.dtype)
        mean = (h * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)
        best = th.where(mask[:, :, None], h, th.full_like(h, -2.0)).max(dim=1).values
        return self.value(th.cat([mean, best, globals_], dim=1))


class ConfigurationScorerPolicy(MaskableActorCriticPolicy):
    """MaskablePPO policy over `RecurringJob-v2` with flat actions: one shared scorer per
    configuration (see the module docstring). `hidden_size` is the width of its layers."""

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Discrete, lr_schedule: Any, hidden_size: int = 32, **kwargs: Any) -> None:
        self.hidden_size = hidden_size
        kwargs.setdefault("features_extractor_class", ConfigurationExtractor)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = SharedScorer(len(CONFIG_FEATURES), len(GLOBAL_FEATURES), self.hidden_size)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        # The scorer's outputs are the logits and the value: no linear heads on top of them.
        self.action_net, self.value_net = nn.Identity(), nn.Identity()
        if self.ortho_init:  # small initial logits (near-uniform policy), as SB3 does for its heads
            nn.init.orthogonal_(self.mlp_extractor.score.weight, gain=0.01)
            nn.init.orthogonal_(self.mlp_extractor.value[-1].weight, gain=1.0)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "hidden_size": self.hidden_size}
