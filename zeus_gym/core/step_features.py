"""`update_batch_features` for a step of N jobs on arrays, touching only what the step changed.

A run of (b, p) changes the counters of configuration p of batch size b, so of the `configs` rows
only the row of p and the profile row of b (the batch size's totals) change, plus every row's
epochs-to-target and estimate of batch size b (its mean epochs-to-target moved). The jobs whose
batch size was profiled by this step get all their rows of b recomputed by the definition; jobs
whose run did not start changed nothing. Same float operations as `update_batch_features`
(tested equal to the definition over all rows), a fraction of its memory traffic.
"""

from __future__ import annotations

import numpy as np

from zeus_gym.core.features import CONFIG_FEATURES, NUM_STATIC, update_batch_features
from zeus_gym.core.params import Params

_F = len(CONFIG_FEATURES)
_TRIES, _MEAN_COST, _REACH, _PROFILED, _KNOWN, _RATIO, _EPOCHS, _TARGET, _ESTIMATE = range(NUM_STATIC, _F)


def update_step_features(params: Params, state, rows: np.ndarray, b: np.ndarray, p: np.ndarray, ran: np.ndarray,
                         newly_profiled: np.ndarray) -> None:
    """Bring `state.config_features` up to date after a step of jobs `rows` at batch sizes `b`
    and the limits `p` they used; `ran`: the runs that started; `newly_profiled`: the jobs whose
    batch size `b` was profiled for the first time by this step."""
    fresh = np.flatnonzero(newly_profiled)
    started = np.flatnonzero(ran & ~newly_profiled)
    if started.size:
        _update_started(params, state, rows[started], b[started], p[started])
    if fresh.size:
        update_batch_features(params, state, rows[fresh], b[fresh])


def _update_started(params: Params, state, rows: np.ndarray, b: np.ndarray, p: np.ndarray) -> None:
    num_p = params.max_power_limits
    job = state.job[rows]
    # Flat (1-D) indices into the row-major arrays: cheaper than 2-D fancy indexing.
    features = state.config_features.reshape(-1)
    counters = state.tries.shape[1]
    config = rows * counters + b * num_p + p
    used = (rows * counters + b * num_p)[:, None] + np.arange(num_p)
    num_recurrences, max_epochs = params.num_recurrences[job], params.max_epochs[job]
    first = rows * state.config_features.shape[1] + b * ((num_p + 1) * _F)  # the batch size's first row
    row, total = first + p * _F, first + num_p * _F
    tries_, cost_, reached_, epochs_ = (a.reshape(-1) for a in (state.tries, state.cost_sum, state.reached, state.epochs_sum))

    tries = tries_[config]
    at_least_one = np.maximum(tries, 1.0)
    features[row + _TRIES] = tries / num_recurrences
    features[row + _MEAN_COST] = cost_[config] / at_least_one
    features[row + _REACH] = reached_[config] / at_least_one
    features[row + _EPOCHS] = epochs_[config] / at_least_one / max_epochs
    features[row + _KNOWN] = True  # it has run (a profiled batch size was known already)
    features[row + _RATIO] = params.config_epoch_ratio[job, b, p]

    batch_tries = tries_[used].sum(axis=1)
    at_least_one = np.maximum(batch_tries, 1.0)
    batch_reached = reached_[used].sum(axis=1)
    features[total + _TRIES] = batch_tries / num_recurrences
    features[total + _MEAN_COST] = cost_[used].sum(axis=1) / at_least_one
    features[total + _REACH] = batch_reached / at_least_one
    features[total + _EPOCHS] = epochs_[used].sum(axis=1) / at_least_one / max_epochs

    target = state.reached_epochs[rows, b] / np.maximum(batch_reached, 1.0)
    columns = first[:, None] + np.arange(num_p + 1) * _F  # each row of the batch size
    features[columns + _TARGET] = (target / max_epochs)[:, None]
    known = (features[columns + _KNOWN] != 0) & (batch_reached > 0)[:, None]
    features[columns + _ESTIMATE] = np.where(known, params.config_epoch_cost[job, b] * target[:, None], 0.0)
