"""The benchmark grid: agents x workloads x GPUs x seeds x etas x betas, parsed from the command line."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, NamedTuple

from zeus_gym.core.params import check_knobs
from zeus_gym.workloads import WORKLOADS

DEFAULT_AGENTS = "zeus,frugal,default,oracle,grid,random"


class Case(NamedTuple):
    """One episode of the grid; also the key of its row in the results."""

    agent: str
    workload: str
    gpu: str
    seed: int
    eta: float
    beta: float

    def describe(self) -> str:
        """A short name for messages."""
        return f"{self.agent} on {self.workload}/{self.gpu} (seed {self.seed}, eta {self.eta}, beta {self.beta})"


@dataclass(frozen=True)
class Grid:
    """What a benchmark runs; with the version and trace hashes it is the folder's configuration."""

    agents: tuple[str, ...]
    workloads: tuple[str, ...]
    gpus: tuple[str, ...]
    seeds: tuple[int, ...]
    etas: tuple[float, ...]
    betas: tuple[float, ...]
    recurrences: int | None = None  # None: each job's default, 2 |B| |P|
    max_retries: int = 20

    def __post_init__(self) -> None:
        for name in ("agents", "workloads", "gpus", "seeds", "etas", "betas"):
            if not getattr(self, name):
                raise ValueError(f"the benchmark needs at least one value of {name}")
        # Named as the command line spells them; check_knobs then checks what is left.
        for eta in self.etas:
            if not 0.0 <= eta <= 1.0:
                raise ValueError(f"--etas: {eta!r} is not in [0, 1]")
        for beta in self.betas:
            if not beta > 0:
                raise ValueError(f"--betas: {beta!r} is not > 0 (inf: no early stopping)")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 1:
            raise ValueError(f"--max-retries must be >= 1, got {self.max_retries!r}")
        for eta, beta in itertools.product(self.etas, self.betas):
            check_knobs(eta, beta, self.max_retries)
        if self.recurrences is not None and self.recurrences < 1:
            raise ValueError(f"--recurrences must be positive, got {self.recurrences}")

    def cases(self) -> list[Case]:
        """Every case, grouped by job (so a worker's cached envs serve consecutive cases)."""
        return [
            Case(agent, workload, gpu, seed, eta, beta)
            for eta, beta, workload, gpu, agent, seed in itertools.product(
                self.etas, self.betas, self.workloads, self.gpus, self.agents, self.seeds
            )
        ]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (inf, which strict JSON lacks, as the string "inf")."""
        fields = asdict(self)
        for name in ("etas", "betas"):
            fields[name] = [value if math.isfinite(value) else repr(value) for value in fields[name]]
        return {name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()}

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> Grid:
        """The inverse of `to_json` (ValueError if `fields` is not what it wrote)."""
        try:
            lists = {name: tuple(float(v) if name in ("etas", "betas") else v for v in fields[name])
                     for name in ("agents", "workloads", "gpus", "seeds", "etas", "betas")}
            return cls(**lists, recurrences=fields["recurrences"], max_retries=fields["max_retries"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a benchmark grid (missing or malformed {error})") from None


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def _split(text: str, name: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"--{name} needs at least one value")
    return items


def parse_names(text: str, everything: Iterable[str], name: str) -> tuple[str, ...]:
    """A comma-separated list of names from `everything`, or "all" (in `everything`'s order)."""
    known = list(everything)
    if text.strip() == "all":
        return tuple(known)
    items = _split(text, name)
    for item in items:
        if item not in known:
            raise ValueError(f"unknown {name[:-1]} {item!r} in --{name}: use {', '.join(known)} or all")
    return _unique(items)


def parse_agents(text: str) -> tuple[str, ...]:
    """Agent specs as `zeus-gym run --agent` takes them; "all" means the default list."""
    return _unique(_split(DEFAULT_AGENTS if text.strip() == "all" else text, "agents"))


# More seeds than this is a typo (1-100000 for 1-10), not an experiment: each is an episode per
# agent, workload, GPU and knob pair. Seeds must fit numpy's 32-bit seeding of the legacy agents.
MAX_SEEDS = 10_000
MAX_SEED = 2**32 - 1


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds such as "1-5", "1,3,7" or "1-3,10"."""
    seeds: list[int] = []
    for item in _split(text, "seeds"):
        low, dash, high = item.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ValueError(f"--seeds: {item!r} is neither a seed nor a range a-b") from None
        if first < 0 or last < first:
            raise ValueError(f"--seeds: {item!r} must be a non-negative seed or a range a-b with a <= b")
        if last > MAX_SEED:
            raise ValueError(f"--seeds: {item!r} goes past the largest seed, {MAX_SEED}")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise ValueError(f"--seeds: {text!r} gives {len(seeds) + last - first + 1:,} seeds, more than {MAX_SEEDS:,} "
                             "(an episode each per agent, workload, GPU, eta and beta); give fewer")
        seeds.extend(range(first, last + 1))
    return _unique(seeds)


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    """Comma-separated numbers ("inf" allowed)."""
    try:
        return _unique(float(item) for item in _split(text, name))
    except ValueError:
        raise ValueError(f"--{name}: {text!r} is not a comma-separated list of numbers") from None


def parse_grid(agents: str, workloads: str, gpus: str, seeds: str, etas: str, betas: str,
               known_gpus: Iterable[str], recurrences: int | None = None, max_retries: int = 20) -> Grid:
    """The grid of the command line's options."""
    return Grid(
        agents=parse_agents(agents),
        workloads=parse_names(workloads, WORKLOADS, "workloads"),
        gpus=parse_names(gpus, known_gpus, "gpus"),
        seeds=parse_seeds(seeds),
        etas=parse_floats(etas, "etas"),
        betas=parse_floats(betas, "betas"),
        recurrences=recurrences,
        max_retries=max_retries,
    )
