"""The estimated cold start of a model pod on a new GPU node, phase by phase, with and without the S3 cache.

A documented model, not a measurement: every figure names its source, and a phase we cannot bound from a source
says so (``high_s`` None). Sources:

* NODE: Karpenter NodeClaim -> node Ready measured 41 s (r6g.12xlarge) and 55 s (c6i.metal) in
  aws-samples/sample-multi-tenancy-openclaw-on-eks docs/cold-start-analysis.md (2026-03-03); node startup
  65 s -> 45 s on ~1,000 EKS nodes in KubeFM "Faster EKS Node and Pod Startup" (2026-02-17). GPU AMIs also load
  the NVIDIA driver, so the range is a floor for GPU nodes.
* IMAGE: the vllm/vllm-openai image is 10-12 GB (DESIGN.md, from the workshop's public issue trackers); pulled
  at best at the node's baseline network bandwidth (packaged catalog, Karpenter's instance table) and at worst
  at the 30 MB/s of a measured first pull (1.13 GB in 38 s, the aws-samples analysis above).
* WEIGHTS, no cache: the hub download is at best network-bound (the hub publishes no throughput figure: no upper
  bound), then vLLM's default safetensors loader reads them from disk: 47.99 s for Llama-3-8B (15 GB) from gp3 on
  g5.12xlarge (run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix A).
* WEIGHTS, cache: the Run:ai streamer from same-region S3: 4.88 s for the same 15 GB at concurrency 32 on
  g5.12xlarge, 40 Gbit/s (benchmarks.md, Appendix C), scaled by size, and never faster than the NIC: burst
  bandwidth from the EC2 instance-type pages (g5/g6 up to xlarge-4xlarge "up to 10/25 Gigabit"), baseline from
  the catalog for the slow bound.
* ENGINE: vLLM with the streamer from S3 was ready for requests in 23.18 s (benchmarks.md, Appendix D), of which
  4.88 s loading: ~18 s imports, profiling, KV cache and CUDA graphs (vLLM 0.5.5; newer releases add
  torch.compile on a fresh node, unbounded here).
* DISK: what lands on the node's data volume (image layers, hub downloads) is written at most at the gp3
  throughput inferctl buys for it (sizing/memory.py); the streamer writes nothing to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferctl.sizing.placement import Placement

NODE_S = (41.0, 65.0)
IMAGE_GB = (10.0, 12.0)
SLOW_PULL_MBPS = 1130 / 38  # MB/s, the measured first pull
DISK_LOAD_S_PER_GB = 47.99 / 15.0  # default loader from gp3
STREAM_S_PER_GB_AT_40G = 4.88 / 15.0  # Run:ai streamer from S3, concurrency 32, 40 Gbit/s
ENGINE_S = 23.18 - 4.88
# "Up to" burst bandwidth (Mbit/s) of the small GPU sizes, from the EC2 G5 and G6 instance-type pages; bigger sizes
# have a fixed bandwidth, which the catalog already holds.
BURST_MBITS = {
    "g5.xlarge": 10_000,
    "g5.2xlarge": 10_000,
    "g5.4xlarge": 25_000,
    "g6.xlarge": 10_000,
    "g6.2xlarge": 10_000,
    "g6.4xlarge": 25_000,
}


@dataclass(frozen=True)
class PhaseEstimate:
    phase: str
    low_s: float
    high_s: float | None  # None: no source bounds it from above
    source: str

    def to_dict(self) -> dict[str, object]:
        high = None if self.high_s is None else round(self.high_s, 1)
        return {"phase": self.phase, "low_s": round(self.low_s, 1), "high_s": high, "source": self.source}


def _seconds(gigabytes: float, mbits: float) -> float:
    return gigabytes * 8000 / mbits


def _to_disk_s(gigabytes: float, mbits: float) -> float:
    """Network-bound, or data-volume-bound when the disk is slower."""
    from inferctl.sizing.memory import DATA_VOLUME_THROUGHPUT_MIBS

    disk_mbits = DATA_VOLUME_THROUGHPUT_MIBS * 2**20 * 8 / 1e6
    return _seconds(gigabytes, min(mbits, disk_mbits))


def estimate_cold_start(
    instance_type: str, baseline_mbits: int, weight_gb: float, *, cache: bool
) -> list[PhaseEstimate]:
    """Phases from a new node to a ready engine for ``weight_gb`` of weights on ``instance_type``."""
    burst = max(BURST_MBITS.get(instance_type, baseline_mbits), baseline_mbits)
    phases = [
        PhaseEstimate("node launched and Ready", *NODE_S, "Karpenter measurements (aws-samples, KubeFM)"),
        PhaseEstimate(
            "image pulled",
            _to_disk_s(IMAGE_GB[0], burst),
            IMAGE_GB[1] * 1000 / SLOW_PULL_MBPS,
            "10-12 GB at the NIC's or data volume's speed .. at a measured 30 MB/s first pull",
        ),
    ]
    if cache:
        fast = max(weight_gb * STREAM_S_PER_GB_AT_40G, _seconds(weight_gb, burst))
        phases.append(
            PhaseEstimate(
                "weights streamed from S3",
                fast,
                max(fast, _seconds(weight_gb, baseline_mbits)),
                "Run:ai streamer benchmark (4.88 s / 15 GB), capped by burst .. baseline bandwidth",
            )
        )
    else:
        phases.append(
            PhaseEstimate(
                "weights downloaded from the hub",
                _to_disk_s(weight_gb, burst),
                None,
                "network-bound at best; the hub's throughput is unpublished (see the mirror Job's log)",
            )
        )
        load = weight_gb * DISK_LOAD_S_PER_GB
        phases.append(PhaseEstimate("weights loaded from disk", load, load, "default loader from gp3: 47.99 s / 15 GB"))
    phases.append(PhaseEstimate("engine ready", ENGINE_S, None, "vLLM ready 23.18 s - 4.88 s load (benchmarks.md)"))
    return phases


def total(phases: list[PhaseEstimate]) -> tuple[float, float | None]:
    low = sum(p.low_s for p in phases)
    highs = [p.high_s for p in phases]
    return low, (None if any(h is None for h in highs) else sum(h for h in highs if h is not None))


def cold_start_report(placements: dict[str, Placement]) -> dict[str, dict[str, object]]:
    """Per model: the phases and totals without and with the S3 cache, for ``plan``."""
    from inferctl.catalog import get_instance

    report: dict[str, dict[str, object]] = {}
    for name, placement in placements.items():
        baseline = get_instance(placement.instance_type).network_bandwidth_mbps
        weight_gb = placement.weight_gib * 2**30 / 1e9
        entry: dict[str, object] = {"instance_type": placement.instance_type, "weight_gb": round(weight_gb, 1)}
        for key, cache in (("without_cache", False), ("with_cache", True)):
            phases = estimate_cold_start(placement.instance_type, baseline, weight_gb, cache=cache)
            low, high = total(phases)
            entry[key] = {
                "phases": [p.to_dict() for p in phases],
                "total_low_s": round(low, 1),
                "total_high_s": None if high is None else round(high, 1),
            }
        report[name] = entry
    return report
