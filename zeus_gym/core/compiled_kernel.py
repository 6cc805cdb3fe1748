"""The numba kernels of `zeus_gym.core.compiled` (imported only when it steps: this imports numba).

Module-level functions, so that numba caches their machine code on disk (`cache=True`).
"""

import numba
import numpy as np

from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES, NUM_STATIC

jit = numba.njit(cache=True, nogil=True)
# Helpers are inlined into the kernel in numba's IR: a call passing arrays costs a reference
# count update per array, more than the helper's arithmetic.
inline = numba.njit(cache=True, nogil=True, inline="always")

# Globals are compile-time constants for numba.
f_count = len(CONFIG_FEATURES)
tries_col, mean_col, reach_col, profiled_col, known_col, ratio_col, epochs_col, target_col, estimate_col = range(NUM_STATIC, f_count)
mask32 = np.uint64(0xFFFFFFFF)
num_globals = len(GLOBAL_FEATURES)


@jit
def pairwise(values, row, start, n):
    """numpy's pairwise float64 summation of values[row, start:start + n], without the leading 0.0."""
    if n < 8:
        total = 0.0
        for i in range(start, start + n):
            total += values[row, i]
        return total
    if n <= 128:
        r0, r1, r2, r3 = values[row, start], values[row, start + 1], values[row, start + 2], values[row, start + 3]
        r4, r5, r6, r7 = values[row, start + 4], values[row, start + 5], values[row, start + 6], values[row, start + 7]
        stop = start + n - n % 8
        for i in range(start + 8, stop, 8):
            r0 += values[row, i]
            r1 += values[row, i + 1]
            r2 += values[row, i + 2]
            r3 += values[row, i + 3]
            r4 += values[row, i + 4]
            r5 += values[row, i + 5]
            r6 += values[row, i + 6]
            r7 += values[row, i + 7]
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(stop, start + n):
            total += values[row, i]
        return total
    half = n // 2
    half -= half % 8
    return pairwise(values, row, start, half) + pairwise(values, row, start + half, n - half)


@inline
def add_reduce(values, row, start, n):
    """`values[row, start:start + n].sum()` as numpy computes it: its identity 0.0 plus the pairwise sum."""
    if n < 8:  # the common case without a call (a batch size has fewer than 8 limits)
        total = 0.0
        for k in range(start, start + n):
            total += values[row, k]
        return 0.0 + total
    return 0.0 + pairwise(values, row, start, n)


@inline
def floor_divide(a, b):
    """numpy's float floor division (npy_divmod): fmod, exact correction, rounding of the quotient."""
    mod = np.fmod(a, b)
    if b == 0.0:
        return a / b
    div = (a - mod) / b
    if mod != 0.0:
        if (b < 0.0) != (mod < 0.0):
            div -= 1.0
    if div != 0.0:
        floordiv = np.floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = np.copysign(0.0, a / b)
    return floordiv


@inline
def minimum(a, b):
    """np.minimum: NaN propagates."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


@inline
def maximum(a, b):
    """np.maximum: NaN propagates."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@inline
def lemire(words, position, i, cursor, bound):
    """Generator.integers(0, bound) on job i's buffered words from `cursor`: (index, next
    cursor), or (-1, cursor) when the words ran out."""
    block = words.shape[1]
    if cursor >= block:
        return -1, cursor
    n = np.uint64(bound)
    product = np.uint64(words[i, cursor]) * n
    cursor += 1
    low = product & mask32
    if low < n:
        threshold = (np.uint64(4294967296) - n) % n
        while low < threshold:
            if cursor >= block:
                return -1, cursor
            product = np.uint64(words[i, cursor]) * n
            cursor += 1
            low = product & mask32
    return np.int64(product >> np.uint64(32)), cursor


@inline
def refresh_batch(features, i, j, b, num_p, tries_, cost_, reached_, epochs_, reached_epochs, profiled_, num_recurrences,
                  max_epochs, config_epoch_cost, config_epoch_ratio):
    """update_batch_features for one job: all P + 1 rows of batch size b."""
    first_counter = b * num_p
    batch_tries = add_reduce(tries_, i, first_counter, num_p)
    batch_cost = add_reduce(cost_, i, first_counter, num_p)
    batch_reached = add_reduce(reached_, i, first_counter, num_p)
    batch_epochs = add_reduce(epochs_, i, first_counter, num_p)
    target = reached_epochs[i, b] / maximum(batch_reached, 1.0)
    is_profiled = profiled_[i, b]
    nrec, me = num_recurrences[j], max_epochs[j]
    target_feature = target / me
    first = b * (num_p + 1) * f_count
    for k in range(num_p + 1):
        if k < num_p:
            tries, cost, reached, epochs = tries_[i, first_counter + k], cost_[i, first_counter + k], reached_[i, first_counter + k], epochs_[i, first_counter + k]
            known = is_profiled or tries > 0.0
        else:
            tries, cost, reached, epochs = batch_tries, batch_cost, batch_reached, batch_epochs
            known = is_profiled
        at_least_one = maximum(tries, 1.0)
        row = first + k * f_count
        features[i, row + tries_col] = tries / nrec
        features[i, row + mean_col] = cost / at_least_one
        features[i, row + reach_col] = reached / at_least_one
        features[i, row + profiled_col] = 1.0 if is_profiled else 0.0
        features[i, row + known_col] = 1.0 if known else 0.0
        features[i, row + ratio_col] = config_epoch_ratio[j, b, k] if known else 0.0
        features[i, row + epochs_col] = epochs / at_least_one / me
        features[i, row + target_col] = target_feature
        features[i, row + estimate_col] = config_epoch_cost[j, b, k] * target if known and batch_reached > 0.0 else 0.0


@inline
def update_started(features, i, j, b, p, num_p, tries_, cost_, reached_, epochs_, reached_epochs, num_recurrences,
                   max_epochs, config_epoch_cost, config_epoch_ratio):
    """_update_started for one job: the rows of p and of the batch size's totals, and every
    row's target and estimate."""
    nrec, me = num_recurrences[j], max_epochs[j]
    config = b * num_p + p
    first = b * (num_p + 1) * f_count
    row, total = first + p * f_count, first + num_p * f_count
    tries = tries_[i, config]
    at_least_one = maximum(tries, 1.0)
    features[i, row + tries_col] = tries / nrec
    features[i, row + mean_col] = cost_[i, config] / at_least_one
    features[i, row + reach_col] = reached_[i, config] / at_least_one
    features[i, row + epochs_col] = epochs_[i, config] / at_least_one / me
    features[i, row + known_col] = 1.0
    features[i, row + ratio_col] = config_epoch_ratio[j, b, p]
    first_counter = b * num_p
    batch_tries = add_reduce(tries_, i, first_counter, num_p)
    at_least_one = maximum(batch_tries, 1.0)
    batch_reached = add_reduce(reached_, i, first_counter, num_p)
    features[i, total + tries_col] = batch_tries / nrec
    features[i, total + mean_col] = add_reduce(cost_, i, first_counter, num_p) / at_least_one
    features[i, total + reach_col] = batch_reached / at_least_one
    features[i, total + epochs_col] = add_reduce(epochs_, i, first_counter, num_p) / at_least_one / me
    target = reached_epochs[i, b] / maximum(batch_reached, 1.0)
    target_feature = target / me
    for k in range(num_p + 1):
        column = first + k * f_count
        features[i, column + target_col] = target_feature
        known = features[i, column + known_col] != 0.0 and batch_reached > 0.0
        features[i, column + estimate_col] = config_epoch_cost[j, b, k] * target if known else 0.0


@jit
def step_jobs(jobs, stalled, write_rows, b_, p_, idle, words, position, eta, beta, max_retries, num_p, num_recurrences, batch_sizes, power_limits,
              time_per_epoch, energy_per_epoch, profile_energy, profile_time, epoch_cost, best_limit, target_epochs,
              num_paths, max_epochs, max_power, default_cost, b0_index, b0_limit, config_epoch_cost,
              config_epoch_ratio, fallback_energy, fallback_time, num_fallback, job_, recurrence_, attempt_,
              recurrence_cost_, min_cost_, tries_, cost_, reached_, tries_feature, mean_cost_feature,
              reach_rate_feature, profiled_, epochs_, reached_epochs, features, last_run, floats, ints, bools, obs,
              playable, inverse_beta):
    """Step jobs `jobs` in place (see `zeus_gym.core.compiled.step_compiled`). Each job touches
    only its own rows, so threads may step disjoint `jobs` at once (the GIL is released). With a
    non-empty `obs` (N, K * F + G + K) also write each job's global features and action mask
    into its row (`observe_configs`; the caller copies the `configs` features, a memcpy), and
    with `write_rows` also the `configs` rows the step changed (those of batch size b), for jobs
    whose rows the caller copied before the step. `stalled[i]`: job i's buffered words ran out,
    and it did not step."""
    observe = obs.shape[0] > 0
    kf = features.shape[1]
    for k in range(len(jobs)):
        i = jobs[k]
        j, b, power_index = job_[i], b_[i], p_[i]
        # simulate_run
        threshold = beta * min_cost_[i]
        profiled = power_index == num_p
        p = best_limit[j, b] if profiled else power_index
        cursor = position[i]
        bound = 1 if idle[i] else num_paths[j, b]
        path = 0
        if bound > 1:
            path, cursor = lemire(words, position, i, cursor, bound)
            if path < 0:
                stalled[i] = True
                continue
        target = target_epochs[j, b, path]
        me = max_epochs[j]
        limited = threshold != np.inf
        affordable = floor_divide(threshold if limited else 0.0, epoch_cost[j, b, p])
        allowed = minimum(affordable, me) if limited else me
        ran = allowed > 0.0
        reached = ran and target <= allowed
        epochs = target if reached else allowed
        if profiled:
            energy = profile_energy[j, b] + energy_per_epoch[j, b, p] * (epochs - 1.0)
            time = profile_time[j, b] + time_per_epoch[j, b, p] * (epochs - 1.0)
        else:
            energy = energy_per_epoch[j, b, p] * epochs
            time = time_per_epoch[j, b, p] * epochs
        if not ran:
            energy, time = 0.0, 0.0
        mp = max_power[j]
        cost = eta * energy + (1.0 - eta) * mp * time
        # step
        attempt = attempt_[i] + 1
        recurrence_cost = recurrence_cost_[i] + cost if ran else recurrence_cost_[i]
        fallback = (not reached) and attempt >= max_retries
        bound = num_fallback[j] if fallback and not idle[i] else 1
        k = 0
        if bound > 1:
            k, cursor = lemire(words, position, i, cursor, bound)
            if k < 0:
                stalled[i] = True
                continue
        position[i] = cursor  # the job's draws are made: from here on it changes
        fe = fallback_energy[j, k] if fallback else 0.0
        ft = fallback_time[j, k] if fallback else 0.0
        fallback_cost = eta * fe + (1.0 - eta) * mp * ft
        if fallback:
            recurrence_cost = recurrence_cost + fallback_cost
        done = reached or fallback
        previous_min = min_cost_[i]
        min_cost = recurrence_cost if done and previous_min > recurrence_cost else previous_min
        dc = default_cost[j]
        normalized = cost / dc
        config = b * num_p + p
        tries_[i, config] += 1.0 if ran else 0.0
        cost_[i, config] += normalized if ran else 0.0
        reached_[i, config] += 1.0 if reached else 0.0
        tries = tries_[i, config]
        tries_feature[i, config] = tries / num_recurrences[j]
        at_least_one = tries if tries > 1.0 else 1.0
        mean_cost_feature[i, config] = cost_[i, config] / at_least_one
        reach_rate_feature[i, config] = reached_[i, config] / at_least_one
        newly_profiled = profiled and not profiled_[i, b]
        if profiled:
            profiled_[i, b] = True
        epochs_[i, config] += epochs if ran else 0.0
        reached_epochs[i, b] += epochs if reached else 0.0
        if newly_profiled:
            refresh_batch(features, i, j, b, num_p, tries_, cost_, reached_, epochs_, reached_epochs, profiled_,
                          num_recurrences, max_epochs, config_epoch_cost, config_epoch_ratio)
        elif ran:
            update_started(features, i, j, b, p, num_p, tries_, cost_, reached_, epochs_, reached_epochs,
                           num_recurrences, max_epochs, config_epoch_cost, config_epoch_ratio)
        if observe and write_rows and (newly_profiled or ran):
            first = b * (num_p + 1) * f_count
            for c in range(first, first + (num_p + 1) * f_count):
                obs[i, c] = features[i, c]
        last_run[i, 0] = 1.0 if ran else 0.0
        last_run[i, 1] = 1.0 if reached else 0.0
        last_run[i, 2] = normalized
        last_run[i, 3] = 1.0 if profiled else 0.0
        recurrence = recurrence_[i]
        recurrence_[i] = recurrence + (1 if done else 0)
        attempt_[i] = 0 if done else attempt
        recurrence_cost_[i] = 0.0 if done else recurrence_cost
        min_cost_[i] = min_cost
        step_cost = cost + fallback_cost if fallback else cost
        # the outcome, rows in the order of FLOAT_FIELDS, INT_FIELDS, BOOL_FIELDS
        floats[0, i], floats[1, i], floats[2, i], floats[3, i] = energy, time, cost, threshold
        floats[4, i], floats[5, i], floats[6, i], floats[7, i] = fe, ft, fallback_cost, step_cost
        floats[8, i], floats[9, i] = -step_cost / dc, min_cost
        ints[0, i], ints[1, i], ints[2, i], ints[3, i] = b, p, batch_sizes[j, b], power_limits[j, p]
        ints[4, i] = np.int64(epochs) if ran else 0
        ints[5, i] = batch_sizes[j, b0_index[j]] if fallback else 0
        ints[6, i] = power_limits[j, b0_limit[j]] if fallback else 0
        ints[7, i], ints[8, i] = recurrence + 1, attempt
        bools[0, i], bools[1, i], bools[2, i], bools[3, i] = profiled, ran, reached, fallback
        bools[4, i], bools[5, i] = done, recurrence + (1 if done else 0) >= num_recurrences[j]
        if observe:  # observe_configs, job i, but for its configs features
            row = obs[i]
            next_threshold = beta * min_cost
            active = next_threshold != np.inf
            obs[i, kf] = recurrence_[i] / num_recurrences[j]
            obs[i, kf + 1] = attempt_[i] / max_retries
            obs[i, kf + 2] = 1.0 if active else 0.0
            obs[i, kf + 3] = (next_threshold if active else 0.0) / dc
            for c in range(4):
                obs[i, kf + 4 + c] = last_run[i, c]
            obs[i, kf + 8] = eta
            obs[i, kf + 9] = inverse_beta
            obs[i, kf + 10] = 1.0 / num_recurrences[j]
            mask, playable_j = row[kf + num_globals :], playable[j]
            for c in range(len(playable_j)):
                mask[c] = playable_j[c]
