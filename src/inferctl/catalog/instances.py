"""EC2 instance types and their us-east-1 on-demand prices, from the packaged snapshot ``data/instances.csv``.

Source of the snapshot: Karpenter's generated instance-type and price table (2026-07-20, us-east-1 on-demand),
regenerated with ``scripts/build_catalog.py``. The file is read once, on first use.

Spot prices here are *estimates*: on-demand times ``1 - discount`` with the per-family discount in
:data:`SPOT_DISCOUNT`. ``inferctl plan --live-prices`` replaces them with AWS's current prices
(:mod:`inferctl.catalog.prices`).
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from inferctl.errors import NotFoundError

SNAPSHOT_DATE = "2026-07-20"
SNAPSHOT_REGION = "us-east-1"
SNAPSHOT_SOURCE = f"Karpenter's generated EC2 price table, {SNAPSHOT_DATE}, {SNAPSHOT_REGION} on-demand"

# Fraction saved by spot versus on-demand. An assumption, not a quote: the savings bands AWS's Spot Instance Advisor
# usually shows for us-east-1 are ~60-70% for general-purpose and older GPU families and smaller for the newest,
# scarcest accelerators. We take the conservative end of each band so the estimate rarely flatters spot.
DEFAULT_SPOT_DISCOUNT = 0.60
SPOT_DISCOUNT: dict[str, float] = {
    "g6e": 0.50,
    "g7": 0.45,
    "g7e": 0.45,
    "p4d": 0.50,
    "p4de": 0.50,
    "p5": 0.40,
    "p5e": 0.40,
    "p5en": 0.40,
    "p6-b200": 0.35,
    "p6-b300": 0.35,
}
SPOT_ASSUMPTION = (
    f"spot is an estimate: on-demand minus {DEFAULT_SPOT_DISCOUNT:.0%} "
    "(35-50% for g6e, g7, p4d, p5, p6); use --live-prices for current prices"
)

MIB = 2**20
GIB = 2**30

# CUDA compute capability of the catalog's NVIDIA GPUs (NVIDIA's published table). Sizing uses it for kernels that
# need a minimum: fp8 weights need 8.0 (Ampere) or newer.
GPU_COMPUTE_CAPABILITY: dict[str, float] = {
    "v100": 7.0,
    "t4": 7.5,
    "t4g": 7.5,
    "a100": 8.0,
    "a10g": 8.6,
    "l4": 8.9,
    "l40s": 8.9,
    "h100": 9.0,
    "h200": 9.0,
    "b200": 10.0,
    "b300": 10.3,
    "rtx-pro-4500": 12.0,
    "rtx-pro-server-6000": 12.0,
}


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type. GPU memory is per GPU; ``allocatable_*`` is what Karpenter lets pods request."""

    name: str
    family: str
    category: str
    arch: str  # amd64 | arm64
    vcpu: int
    memory_mib: int
    gpu_count: int
    gpu_name: str | None
    gpu_manufacturer: str | None
    gpu_memory_mib: int
    local_nvme_gib: int
    network_bandwidth_mbps: int
    allocatable_cpu_millicores: int
    allocatable_memory_mib: int
    max_pods: int
    on_demand_usd_per_hour: float | None  # us-east-1; None where the table has no price

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def gpu_memory_gib(self) -> float:
        """Memory of one GPU in GiB."""
        return self.gpu_memory_mib / 1024

    @property
    def total_gpu_memory_gib(self) -> float:
        return self.gpu_count * self.gpu_memory_gib

    @property
    def gpu_label(self) -> str:
        """Display name of the GPU, e.g. ``A10G`` (``-`` without one)."""
        return self.gpu_name.upper() if self.gpu_name else "-"

    @property
    def gpu_compute_capability(self) -> float | None:
        return GPU_COMPUTE_CAPABILITY.get(self.gpu_name or "")

    @property
    def serves_vllm_cuda(self) -> bool:
        """Whether the ``vllm/vllm-openai`` CUDA image can use this instance's GPUs (NVIDIA on x86_64)."""
        return self.gpu_count > 0 and self.gpu_manufacturer == "nvidia" and self.arch == "amd64"


def _int(value: str) -> int:
    return int(float(value)) if value else 0


def _parse(text: str) -> dict[str, InstanceType]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    out: dict[str, InstanceType] = {}
    for row in csv.DictReader(lines):
        price = row["on_demand_usd_per_hour"]
        out[row["instance_type"]] = InstanceType(
            name=row["instance_type"],
            family=row["family"],
            category=row["category"],
            arch=row["arch"],
            vcpu=_int(row["vcpu"]),
            memory_mib=_int(row["memory_mib"]),
            gpu_count=_int(row["gpu_count"]),
            gpu_name=row["gpu_name"] or None,
            gpu_manufacturer=row["gpu_manufacturer"] or None,
            gpu_memory_mib=_int(row["gpu_memory_mib"]),
            local_nvme_gib=_int(row["local_nvme_gib"]),
            network_bandwidth_mbps=_int(row["network_bandwidth_mbps"]),
            allocatable_cpu_millicores=_int(row["allocatable_cpu_millicores"]),
            allocatable_memory_mib=_int(row["allocatable_memory_mib"]),
            max_pods=_int(row["max_pods"]),
            on_demand_usd_per_hour=float(price) if price else None,
        )
    return out


@cache
def _catalog() -> dict[str, InstanceType]:
    text = resources.files("inferctl.catalog").joinpath("data/instances.csv").read_text(encoding="utf-8")
    return _parse(text)


def all_instances() -> list[InstanceType]:
    """Every instance type in the snapshot, by family then size."""
    return list(_catalog().values())


def get_instance(name: str) -> InstanceType:
    """The instance type called ``name``; NotFoundError (with the closest names) when the snapshot lacks it."""
    catalog = _catalog()
    try:
        return catalog[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(catalog), n=2)
        hint = f"did you mean {' or '.join(close)}?" if close else "check the name (e.g. g5.xlarge)"
        raise NotFoundError(f"unknown EC2 instance type {name!r} in the {SNAPSHOT_DATE} catalog; {hint}") from None


def instances_in_families(families: list[str] | tuple[str, ...]) -> list[InstanceType]:
    """Instance types of the given families (exact family names, e.g. ``g5`` does not include ``g5g``)."""
    wanted = set(families)
    return [inst for inst in _catalog().values() if inst.family in wanted]


def gpu_families() -> list[str]:
    """Families whose GPUs the vLLM CUDA image can use, cheapest smallest instance first."""
    cheapest: dict[str, float] = {}
    for inst in _catalog().values():
        if inst.serves_vllm_cuda and inst.on_demand_usd_per_hour is not None:
            price = inst.on_demand_usd_per_hour
            cheapest[inst.family] = min(price, cheapest.get(inst.family, price))
    return sorted(cheapest, key=lambda family: cheapest[family])


def spot_discount(family: str) -> float:
    return SPOT_DISCOUNT.get(family, DEFAULT_SPOT_DISCOUNT)


def spot_estimate_usd_per_hour(instance: InstanceType) -> float:
    """Estimated spot price: on-demand minus the family's assumed discount (see :data:`SPOT_DISCOUNT`)."""
    if instance.on_demand_usd_per_hour is None:
        raise NotFoundError(f"the {SNAPSHOT_DATE} catalog has no price for {instance.name}; choose another type")
    return round(instance.on_demand_usd_per_hour * (1 - spot_discount(instance.family)), 5)
