"""Preloaded by the benchmark's fork server, and imported by nothing else: the fork server gets
`PR_SET_PDEATHSIG`, so it dies with the run that started it (see `zeus_gym.benchmark.lifeline`)."""

from zeus_gym.benchmark.lifeline import die_with_parent, imported_by_forkserver

if imported_by_forkserver():
    die_with_parent()
