"""Job specifications: the six workloads of the Zeus paper's artifact, and user-defined jobs."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSpec:
    """A recurring training job: which trace rows it uses and its default batch size b0."""

    dataset: str
    network: str
    optimizer: str
    target_metric: float
    max_epochs: int
    b0: int
    # Named workloads cap b0 at the largest batch size the GPU can hold, as the paper's artifact does.
    cap_b0: bool = False

    def __post_init__(self) -> None:
        for name in ("dataset", "network", "optimizer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"JobSpec.{name} must be a non-empty string, got {value!r}")
        if not isinstance(self.target_metric, (int, float)) or not math.isfinite(self.target_metric):
            raise ValueError(f"JobSpec.target_metric must be a finite number, got {self.target_metric!r}")
        for name in ("max_epochs", "b0"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"JobSpec.{name} must be a positive integer, got {value!r}")

    def describe(self) -> str:
        """A short human-readable name, e.g. ``librispeech/deepspeech2/adamw@40.0``."""
        return f"{self.dataset}/{self.network}/{self.optimizer}@{self.target_metric}"


WORKLOADS: dict[str, JobSpec] = {
    "cifar100": JobSpec("cifar100", "shufflenetv2", "adadelta", 0.6, 100, 1024, cap_b0=True),
    "imagenet": JobSpec("imagenet", "resnet50", "adadelta", 0.65, 100, 256, cap_b0=True),
    "squad": JobSpec("squad", "bert_base_uncased", "adamw", 84.0, 6, 32, cap_b0=True),
    "librispeech": JobSpec("librispeech", "deepspeech2", "adamw", 40.0, 16, 256, cap_b0=True),
    "movielens-1m": JobSpec("movielens-1m", "ncf", "adam", 0.41, 100, 1024, cap_b0=True),
    "sentiment140": JobSpec("sentiment140", "bert_base_uncased", "adamw", 0.84, 10, 128, cap_b0=True),
}


def resolve_workload(workload: str | JobSpec | dict) -> JobSpec:
    """Turn a workload name, a `JobSpec` or a dict of `JobSpec` fields into a `JobSpec`."""
    if isinstance(workload, JobSpec):
        return workload
    if isinstance(workload, dict):
        try:
            return JobSpec(**workload)
        except TypeError as error:
            raise ValueError(
                f"workload dict must have the JobSpec fields dataset, network, optimizer, "
                f"target_metric, max_epochs, b0: {error}"
            ) from None
    if isinstance(workload, str) and workload in WORKLOADS:
        return WORKLOADS[workload]
    raise ValueError(
        f"unknown workload {workload!r}: use one of {', '.join(WORKLOADS)}, "
        "or a JobSpec(dataset, network, optimizer, target_metric, max_epochs, b0)"
    )
