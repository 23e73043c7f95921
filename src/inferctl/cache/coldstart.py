"""The estimated cold start of a model pod on a new GPU node, phase by phase, with and without the S3 cache.

inferctl's one model of a cold start: ``plan`` shows it, and the scale-from-zero wake timeout is built from it
(:func:`inferctl.sizing.autoscaling.estimated_wake_s`, on the path the model's pods take: :func:`model_cold_start`).
A documented model, not a measurement of a GPU: no GPU and no AWS can be reached where it was written. Every figure
says what it is (``basis``): **cited** (a published measurement, named), **derived** (arithmetic on cited figures
and catalog facts), **guess** (no source; the reason is given) or **measured here** (on this project's CPU machine;
none of the GPU phases is). A phase no source bounds from above says so (``high_s`` None) and names the stand-in the
wake timeout takes in its place (``stand_in_s``, with its own basis). Sizes are the checkpoint's bytes (what is
downloaded, read from disk or streamed: ``Placement.checkpoint_gib``), not the weights' size in GPU memory, which is
about half of it for a model quantized to fp8 at load. Sources:

* NODE (cited): Karpenter NodeClaim -> node Ready measured 41 s (r6g.12xlarge) and 55 s (c6i.metal) in
  aws-samples/sample-multi-tenancy-openclaw-on-eks docs/cold-start-analysis.md (2026-03-03); node startup
  65 s -> 45 s on ~1,000 EKS nodes in KubeFM "Faster EKS Node and Pod Startup" (2026-02-17). GPU AMIs also load
  the NVIDIA driver, so the range is a floor for GPU nodes.
* IMAGE: the vllm/vllm-openai image is 10-12 GB (DESIGN.md, from the workshop's public issue trackers).
  Sequential (Bottlerocket's default): at best the node's burst bandwidth or the data volume's gp3 throughput
  (derived), at worst the 30 MB/s of a measured first pull (cited: 1.13 GB in 38 s, the aws-samples analysis).
  SOCI parallel pull (``pools.gpu.image_pull``, render/bottlerocket.py): at best the same bounds with the faster
  volume this mode buys (derived); at worst the sequential worst made 14% faster (cited: awslabs/soci-snapshotter
  commit f1fcd05, "parallel-pull (14-50% faster than Docker)" for images without a SOCI index, tested with 20 GB+
  images; read as 14-50% less time). containerd's chunked pull: no published figure, so its worst is the
  sequential worst.
* WEIGHTS, no cache: the hub download is at best network-bound (the hub publishes no throughput figure: no upper
  bound), then vLLM's default safetensors loader reads them from disk: 47.99 s for Llama-3-8B (15 GB) from gp3 on
  g5.12xlarge (cited: run-ai/runai-model-streamer docs/src/benchmarks.md, Appendix A).
* WEIGHTS, cache: the Run:ai streamer from same-region S3: 4.88 s for the same 15 GB at concurrency 32 on
  g5.12xlarge, 40 Gbit/s (cited: benchmarks.md, Appendix C), scaled by size, and never faster than the NIC: burst
  bandwidth from the EC2 instance-type pages (g5/g6 up to xlarge-4xlarge "up to 10/25 Gigabit"), baseline from
  the catalog for the slow bound (derived).
* ENGINE START (imports, profiling, KV cache, CUDA graph capture; CUDA graphs are captured on every start, with
  or without a compile cache, cache/compile_cache.py): at best 18.3 s (cited: vLLM with the streamer from S3 ready
  in 23.18 s, of which 4.88 s loading, benchmarks.md Appendix D; vLLM 0.5.5), at worst "Init engine and imports"
  94 s + "Graph capture" 54 s (cited: Tensorfuse, "Reducing GPU cold start", 2025-09-01, Llama-3.1-8B-Instruct on
  L40S), and 34 s + 7 s when their pod started with its cache directory kept (cited; they kept all of
  /root/.cache, more than vLLM's compile cache, so this bound is optimistic for it). An eager engine
  (``engine.enforce_eager``) compiles nothing and captures no CUDA graphs (vllm-project/vllm v0.32.0
  vllm/config/vllm.py, ``VllmConfig.__post_init__``: compilation mode NONE, cudagraph mode NONE): no torch.compile
  phase; its engine start keeps the same bounds (the high one then also covers graph capture it does not do).
* TORCH.COMPILE: without a compile cache 10 s Dynamo + 42 s graph compilation (cited: Tensorfuse, same run), a
  floor on g5.xlarge, whose 4 vCPUs compile slower than their host (compilation is CPU work); with it, at worst
  10 s + 13 s (cited: the same run, warm), at best the 13 s of loading alone, because vLLM 0.32's ahead-of-time
  artifact skips Dynamo when it loads (derived from compilation/decorators.py; not measured on a GPU).
  Measured here on CPU (benchmarks/compile_cache.py): the ratio of warm to cold ready time; a CPU engine compiles
  differently (docs/concepts/cache.md), so it informs, it does not bound, the GPU figures.
* COMPILE CACHE FETCH (guess): the cache's size on a GPU is unknown here (6 MB on CPU for the starter model,
  measured here; a GPU cache also holds Triton kernels): taken as at most 1 GB, at the NIC's burst .. baseline.
* DISK: what lands on the node's data volume (image layers, hub downloads) is written at most at the gp3
  throughput inferctl buys for it (sizing/memory.py); the streamer writes nothing to disk.
* PULL MODE: the GPU pool's (``pools.gpu.image_pull``, where its AMI has it) on Karpenter pools, whose EC2NodeClass
  inferctl renders; elsewhere inferctl does not configure the nodes, so sequential, containerd's default.

Stand-ins, where no source bounds a phase from above (the wake timeout needs a number; ``plan`` shows both):

* hub download (guess): the checkpoint at the instance's baseline bandwidth (the catalog) or the data volume's
  throughput, whichever is slower, as if the hub kept pace with the NIC. The hub publishes no throughput; a slower
  hub is what the wake timeout's margin is for, and ``autoscaling.wake_timeout`` when it is slower still.
* torch.compile from scratch (cited): Tensorfuse's cold 52 s, a floor on a small instance (see above): the same
  margin covers a slower compile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from inferctl.cache.location import compile_cache_wanted, uses_cache
from inferctl.catalog.instances import get_instance
from inferctl.config.ami_aliases import SEQUENTIAL_PULL, effective_image_pull
from inferctl.sizing.memory import DATA_VOLUME_THROUGHPUT_MIBS, PARALLEL_PULL_THROUGHPUT_MIBS

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig
    from inferctl.sizing.placement import Placement

ColdStartPath = Literal["with_cache", "without_cache"]
PATHS: tuple[ColdStartPath, ...] = ("without_cache", "with_cache")

CITED, DERIVED, GUESS = "cited", "derived", "guess"

NODE_S = (41.0, 65.0)
IMAGE_GB = (10.0, 12.0)
SLOW_PULL_MBPS = 1130 / 38  # MB/s, the measured first pull
SOCI_LEAST_GAIN = 0.14  # soci-snapshotter f1fcd05: parallel pull 14-50% faster than a sequential pull
DISK_LOAD_S_PER_GB = 47.99 / 15.0  # default loader from gp3
STREAM_S_PER_GB_AT_40G = 4.88 / 15.0  # Run:ai streamer from S3, concurrency 32, 40 Gbit/s
ENGINE_S = 23.18 - 4.88
# Tensorfuse, Llama-3.1-8B-Instruct on L40S: (init engine and imports + graph capture), cold and warm.
ENGINE_SLOW_S = {False: 94.0 + 54.0, True: 34.0 + 7.0}
COMPILE_COLD_S = 10.0 + 42.0  # Dynamo + graph compilation, no cache
COMPILE_WARM_S = (13.0, 10.0 + 13.0)  # graph loading alone (AOT skips Dynamo) .. Dynamo + graph loading
COMPILE_CACHE_GB = 1.0  # a guess: see the module docstring
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
class StandIn:
    """What the wake timeout takes for a phase no source bounds from above."""

    seconds: float
    basis: str  # cited, derived or guess
    source: str


@dataclass(frozen=True)
class PhaseEstimate:
    phase: str
    low_s: float
    high_s: float | None  # None: no source bounds it from above, and stand_in says what the wake timeout takes
    source: str
    basis: str  # cited, derived, guess, or a mix ("derived .. cited": the low bound's .. the high bound's)
    stand_in: StandIn | None = None

    def __post_init__(self) -> None:
        if (self.high_s is None) != (self.stand_in is not None):
            raise ValueError(f"{self.phase}: a stand-in exactly where no source bounds the phase from above")

    @property
    def wake_s(self) -> float:
        """The phase's high bound, or its stand-in where it has none: what the wake timeout adds up."""
        if self.high_s is not None:
            return self.high_s
        assert self.stand_in is not None  # __post_init__
        return self.stand_in.seconds

    def to_dict(self) -> dict[str, object]:
        high = None if self.high_s is None else round(self.high_s, 1)
        out: dict[str, object] = {
            "phase": self.phase,
            "low_s": round(self.low_s, 1),
            "high_s": high,
            "basis": self.basis,
            "source": self.source,
        }
        if self.stand_in is not None:
            out["stand_in_s"] = round(self.stand_in.seconds, 1)
            out["stand_in_basis"] = self.stand_in.basis
            out["stand_in_source"] = self.stand_in.source
        return out


@dataclass(frozen=True)
class ColdStart:
    """One path's phases, from a new node to a ready engine, and their sums."""

    path: ColdStartPath
    phases: tuple[PhaseEstimate, ...]

    @property
    def low_s(self) -> float:
        return total(list(self.phases))[0]

    @property
    def high_s(self) -> float | None:
        """None when some phase has no upper bound."""
        return total(list(self.phases))[1]

    @property
    def wake_basis_s(self) -> float:
        """Every phase's high bound, or its stand-in: the sum the wake timeout is built from."""
        return sum(p.wake_s for p in self.phases)

    def to_dict(self) -> dict[str, object]:
        high = self.high_s
        return {
            "phases": [p.to_dict() for p in self.phases],
            "total_low_s": round(self.low_s, 1),
            "total_high_s": None if high is None else round(high, 1),
            "wake_basis_s": round(self.wake_basis_s, 1),
        }


def _seconds(gigabytes: float, mbits: float) -> float:
    return gigabytes * 8000 / mbits


def _to_disk_s(gigabytes: float, mbits: float, disk_mibs: int = DATA_VOLUME_THROUGHPUT_MIBS) -> float:
    """Network-bound, or data-volume-bound when the disk is slower."""
    disk_mbits = disk_mibs * 2**20 * 8 / 1e6
    return _seconds(gigabytes, min(mbits, disk_mbits))


def _disk_mibs(image_pull: str) -> int:
    """The GPU nodes' data-volume throughput for their pull mode (render/karpenter.py buys it)."""
    return DATA_VOLUME_THROUGHPUT_MIBS if image_pull == SEQUENTIAL_PULL else PARALLEL_PULL_THROUGHPUT_MIBS


def _image(burst: float, image_pull: str) -> PhaseEstimate:
    sequential_high = IMAGE_GB[1] * 1000 / SLOW_PULL_MBPS
    if image_pull == SEQUENTIAL_PULL:
        low = _to_disk_s(IMAGE_GB[0], burst)
        return PhaseEstimate(
            "image pulled (sequential)",
            low,
            sequential_high,
            "10-12 GB at the NIC's or data volume's speed .. at a measured 30 MB/s first pull (aws-samples)",
            f"{DERIVED} .. {CITED}",
        )
    low = _to_disk_s(IMAGE_GB[0], burst, _disk_mibs(image_pull))
    if image_pull == "soci-parallel":
        return PhaseEstimate(
            "image pulled (SOCI parallel pull and unpack)",
            low,
            sequential_high * (1 - SOCI_LEAST_GAIN),
            "10 GB at the NIC or the 1,000 MiB/s data volume .. the measured 30 MB/s pull made 14% faster, the "
            "least gain soci-snapshotter reports for parallel pull (commit f1fcd05)",
            f"{DERIVED} .. {CITED}",
        )
    return PhaseEstimate(
        "image pulled (containerd chunked)",
        low,
        sequential_high,
        "10 GB at the NIC or the 1,000 MiB/s data volume .. the measured 30 MB/s pull (no published figure for "
        "containerd's chunked pull)",
        f"{DERIVED} .. {CITED}",
    )


def _engine(burst: float, baseline: float, *, cache: bool, compile_cache: bool, compiled: bool) -> list[PhaseEstimate]:
    warm = cache and compile_cache and compiled
    phases = []
    if warm:
        phases.append(
            PhaseEstimate(
                "compile cache fetched from S3",
                _seconds(COMPILE_CACHE_GB, burst) / 10,
                _seconds(COMPILE_CACHE_GB, baseline),
                "at most ~1 GB (a guess: 6 MB on CPU here, a GPU cache adds Triton kernels) at the NIC's burst .. "
                "baseline; the low end assumes ~100 MB",
                GUESS,
            )
        )
    phases.append(
        PhaseEstimate(
            "engine start (imports, profiling, KV cache, CUDA graphs)",
            ENGINE_S,
            ENGINE_SLOW_S[warm],
            "vLLM ready 23.18 s - 4.88 s load (run:ai benchmarks.md App. D, vLLM 0.5.5) .. Tensorfuse's init + "
            + ("graph capture with all of /root/.cache kept (34 + 7 s)" if warm else "graph capture (94 + 54 s)"),
            CITED,
        )
    )
    if not compiled:
        return phases  # an eager engine compiles nothing (see ENGINE START)
    if warm:
        phases.append(
            PhaseEstimate(
                "torch.compile, from the compile cache",
                COMPILE_WARM_S[0],
                COMPILE_WARM_S[1],
                "graph loading alone (vLLM 0.32 loads its AOT artifact without Dynamo) .. Tensorfuse warm: "
                "Dynamo 10 s + graph compilation 13 s",
                f"{DERIVED} .. {CITED}",
            )
        )
    else:
        phases.append(
            PhaseEstimate(
                "torch.compile, from scratch",
                COMPILE_COLD_S,
                None,
                "Tensorfuse cold: Dynamo 10 s + graph compilation 42 s (L40S host); more on fewer vCPUs",
                CITED,
                StandIn(
                    COMPILE_COLD_S,
                    CITED,
                    "Tensorfuse's cold compile itself, a floor on fewer vCPUs: the wake timeout's margin covers more",
                ),
            )
        )
    return phases


def estimate_cold_start(
    instance_type: str,
    baseline_mbits: int,
    checkpoint_gb: float,
    *,
    cache: bool,
    image_pull: str = SEQUENTIAL_PULL,
    compile_cache: bool = False,
    compiled: bool = True,
) -> list[PhaseEstimate]:
    """Phases from a new node to a ready engine for a checkpoint of ``checkpoint_gb`` on ``instance_type``;
    ``image_pull`` is the nodes' effective pull mode, ``compile_cache`` whether a cached model's pods fetch vLLM's
    compile cache, ``compiled`` False for an eager engine (``engine.enforce_eager``)."""
    burst = max(BURST_MBITS.get(instance_type, baseline_mbits), baseline_mbits)
    phases = [
        PhaseEstimate("node launched and Ready", *NODE_S, "Karpenter measurements (aws-samples, KubeFM)", CITED),
        _image(burst, image_pull),
    ]
    if cache:
        fast = max(checkpoint_gb * STREAM_S_PER_GB_AT_40G, _seconds(checkpoint_gb, burst))
        phases.append(
            PhaseEstimate(
                "weights streamed from S3",
                fast,
                max(fast, _seconds(checkpoint_gb, baseline_mbits)),
                "Run:ai streamer benchmark (4.88 s / 15 GB), capped by burst .. baseline bandwidth",
                DERIVED,
            )
        )
    else:
        disk = _disk_mibs(image_pull)
        phases.append(
            PhaseEstimate(
                "weights downloaded from the hub",
                _to_disk_s(checkpoint_gb, burst, disk),
                None,
                "network-bound at best; the hub's throughput is unpublished (see the mirror Job's log)",
                DERIVED,
                StandIn(
                    _to_disk_s(checkpoint_gb, baseline_mbits, disk),
                    GUESS,
                    "at the instance's baseline bandwidth (catalog) or the data volume, as if the hub kept pace",
                ),
            )
        )
        load = checkpoint_gb * DISK_LOAD_S_PER_GB
        phases.append(
            PhaseEstimate("weights loaded from disk", load, load, "default loader from gp3: 47.99 s / 15 GB", CITED)
        )
    phases += _engine(burst, baseline_mbits, cache=cache, compile_cache=compile_cache, compiled=compiled)
    return phases


def total(phases: list[PhaseEstimate]) -> tuple[float, float | None]:
    low = sum(p.low_s for p in phases)
    highs = [p.high_s for p in phases]
    return low, (None if any(h is None for h in highs) else sum(h for h in highs if h is not None))


def checkpoint_gb(placement: Placement) -> float:
    """Gigabytes (10^9) a cold start moves: the checkpoint as stored, whatever the weights take in GPU memory."""
    return placement.download_gib * 2**30 / 1e9


def nodes_image_pull(config: PlatformConfig) -> str:
    """How a new GPU node pulls the image: the pool's effective mode on Karpenter pools (inferctl renders their
    EC2NodeClass), else sequential (containerd's default; inferctl does not configure those nodes)."""
    pool = config.pools.gpu
    return effective_image_pull(pool.ami_alias, pool.image_pull) if config.uses_karpenter else SEQUENTIAL_PULL


def _cold_start(config: PlatformConfig, model: ModelDeployment, placement: Placement, path: ColdStartPath) -> ColdStart:
    phases = estimate_cold_start(
        placement.instance_type,
        get_instance(placement.instance_type).network_bandwidth_mbps,
        checkpoint_gb(placement),
        cache=path == "with_cache",
        image_pull=nodes_image_pull(config),
        # The cache path as it runs for this model once cached: with vLLM's compile cache unless it has none.
        compile_cache=compile_cache_wanted(config, model),
        compiled=not model.engine.enforce_eager,
    )
    return ColdStart(path, tuple(phases))


def model_path(config: PlatformConfig, model: ModelDeployment) -> ColdStartPath:
    """The path ``model``'s pods take: weights streamed from the S3 cache, or downloaded from the hub."""
    return "with_cache" if uses_cache(config, model) else "without_cache"


def model_cold_start(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> ColdStart:
    """``model``'s cold start on a new node, on the path its pods take (the S3 cache or the hub, the GPU nodes'
    pull mode, vLLM's compile cache where it has one)."""
    return _cold_start(config, model, placement, model_path(config, model))


def cold_start_report(config: PlatformConfig, placements: Mapping[str, Placement]) -> dict[str, dict[str, object]]:
    """Per model: the phases and totals without the S3 cache (hub) and with it (weights streamed, and vLLM's
    compile cache where the model uses one), and the path its pods take (``path``: the one its wake timeout is
    built from), for ``plan``; the GPU nodes' pull mode applies to both."""
    report: dict[str, dict[str, object]] = {}
    for name, placement in placements.items():
        model = config.model(name)
        entry: dict[str, object] = {
            "instance_type": placement.instance_type,
            "checkpoint_gb": round(checkpoint_gb(placement), 1),
            "image_pull": nodes_image_pull(config),
            "compile_cache": compile_cache_wanted(config, model),
            "path": model_path(config, model),
        }
        for path in PATHS:
            entry[path] = _cold_start(config, model, placement, path).to_dict()
        report[name] = entry
    return report
