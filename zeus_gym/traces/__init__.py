"""Zeus NSDI'23 traces: the pinned upstream registry, locating or fetching them, loading them."""

from zeus_gym.traces.errors import TraceHashError, TracesNotFoundError, TraceValidationError
from zeus_gym.traces.load import TraceSet, load_trace_set
from zeus_gym.traces.locate import (
    ENV_VAR,
    URL_ENV_VAR,
    default_cache_dir,
    fetch_traces,
    resolve_trace_dir,
)

__all__ = [
    "ENV_VAR",
    "URL_ENV_VAR",
    "TraceHashError",
    "TraceSet",
    "TraceValidationError",
    "TracesNotFoundError",
    "default_cache_dir",
    "fetch_traces",
    "load_trace_set",
    "resolve_trace_dir",
]
