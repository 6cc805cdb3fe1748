"""Where the episodes of `zeus-gym benchmark` and `zeus-gym cluster` run: local worker processes
(`local`, the default) or the tasks of a Ray cluster (`ray`, the `ray` extra).

Either way the driver (the process the command runs in) is the only writer of the output folder,
so a run's results do not depend on the backend: the Ray backend plays the same functions on the
same cases and returns rows; the driver appends them exactly as it does the local workers' rows.
"""

from __future__ import annotations

BACKENDS = ("local", "ray")
RAY_EXTRA = 'pip install "zeus-gym[ray]"'


def check_backend(backend: str, ray_address: str | None, workers: int | None = None) -> None:
    """Refuse an unknown backend, and options that the chosen backend would ignore; with `ray`,
    check that Ray can be imported (a one-line error naming the extra otherwise)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown --backend {backend!r}: use {' or '.join(BACKENDS)}")
    if backend == "local":
        if ray_address is not None:
            raise ValueError("--ray-address needs --backend ray")
        return
    if workers is not None:
        raise ValueError("--workers is for --backend local: with --backend ray every CPU of the Ray cluster works")
    from zeus_gym.backends.ray_runtime import import_ray

    import_ray()
