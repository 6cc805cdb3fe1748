"""The pinned upstream Zeus NSDI'23 trace files: where they live, what their bytes hash to."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, NamedTuple

UPSTREAM_REPO = "ml-energy/zeus"
UPSTREAM_COMMIT = "43297f658bb9ba05e8b41e2d0cc85c91fff242c7"
UPSTREAM_FOLDER = "examples/research_reproducibility/zeus_nsdi23/trace"
BASE_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/{UPSTREAM_FOLDER}/"

TRAIN_FILE = "summary_train.csv"
POWER_PREFIX = "summary_power_"
POWER_SUFFIX = ".csv"
DEFAULT_GPUS: tuple[str, ...] = ("a40", "p100", "rtx6000", "v100")


class PinnedFile(NamedTuple):
    """Size in bytes and SHA-256 (hex) of one pinned upstream file."""

    size: int
    sha256: str


def power_file(gpu: str) -> str:
    """File name of the power trace for one GPU."""
    return f"{POWER_PREFIX}{gpu}{POWER_SUFFIX}"


REGISTRY: Mapping[str, PinnedFile] = MappingProxyType(
    {
        TRAIN_FILE: PinnedFile(
            186977, "076b35615349ee624403006e5ad67fd9ebda92af690c7750f8bb0c2ab92c0cf4"
        ),
        power_file("a40"): PinnedFile(
            29641, "f4ec111fc9b06b353182faab9160ecb1236a486b2741ed93383b80497332031e"
        ),
        power_file("p100"): PinnedFile(
            18163, "158e9a6784b6e2d26710529b132cf173b227dc8688f4931c19a637bce2b7503b"
        ),
        power_file("rtx6000"): PinnedFile(
            27704, "edccecc7f8b7a6102962b03f0f37767dd9cd2f03469ebccadc9805e82901bdc4"
        ),
        power_file("v100"): PinnedFile(
            32534, "f0b066dd1a451bd78f730e001ac3a7c411979bc7f0846f12c1a9fb604aa90628"
        ),
    }
)

# Alibaba GPU cluster job groups mapped to the six workloads. Only its git blob id is known (the
# SHA-1 of b"blob <size>\0" + content), so it is not part of the default download.
ALIBABA_FILE = "alibaba_groups.csv.xz"
ALIBABA_GIT_BLOB = "c30bfb7215fb474872a629139537efe063d4f74f"


def file_url(name: str, base_url: str = BASE_URL) -> str:
    """Download URL of one trace file under a base URL (upstream or a mirror)."""
    return base_url.rstrip("/") + "/" + name
