"""Does one model fit one instance type at one tensor-parallel size? Pure; :mod:`inferctl.sizing.instance_choice`
ranks.

A candidate passes four stages in order, and a miss records the stage it failed at (misses that got further are
"nearer" when sizing explains a refusal):

1. GPU memory: weights per GPU + runtime overhead fit under ``gpu_memory_utilization`` x GPU memory.
2. KV cache: it holds ``max_model_len`` tokens for ``min_concurrency`` requests (``max_model_len`` unset: the
   longest context that keeps the concurrency, capped at the model's limit, and at least 2,048 tokens).
3. Host: the pod's CPU and memory requests (with the Run:ai streamer's buffers when the model is served from the S3
   cache) fit the node's Karpenter-allocatable resources after daemonset headroom.
4. Disk: the checkpoint, the image and a margin fit the GPU pool's data volume.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferctl.catalog.instances import InstanceType
from inferctl.catalog.prices import Price
from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import EngineSettings
from inferctl.sizing import memory
from inferctl.sizing.memory import GIB, MIB, RuntimeOverhead
from inferctl.sizing.placement import PodResources

# Requests of the daemonsets on every node (aws-node, kube-proxy, eks-pod-identity-agent, an exporter or two), kept
# free so the model pod still schedules on the node Karpenter sized for it.
DAEMONSET_CPU_MILLICORES = 500
DAEMONSET_MEMORY_MIB = 1024
# Karpenter's allocatable ephemeral storage: the data volume less kubelet's 10% nodefs eviction threshold and 1 GiB
# kube-reserved.
EVICTION_FRACTION = 0.10
KUBE_RESERVED_EPHEMERAL_BYTES = GIB
# The shortest context sizing picks by itself; below it a placement is refused as useless.
MIN_AUTO_CONTEXT = 2048
# vLLM's fp8 weight kernels (Marlin weight-only on Ampere, native on Ada/Hopper and newer).
FP8_MIN_COMPUTE_CAPABILITY = 8.0
# need_bytes_per_gpu of a miss for a GPU that cannot run the weight format at all (the farthest miss).
UNSUPPORTED = 2**62

STAGES = ("gpu memory", "kv cache", "host", "disk")
GPU_MEMORY, KV_CACHE, HOST, DISK = range(4)


@dataclass(frozen=True)
class Demand:
    """What one model asks of any candidate."""

    profile: ModelProfile
    engine: EngineSettings
    min_concurrency: int
    data_volume_gib: int
    weight_bytes: int
    weight_label: str  # "bfloat16", "fp8", "int4 awq", ...
    context_limit: int  # the model's limit, or engine.max_model_len when set
    streams: bool = False  # loaded by the Run:ai streamer from the S3 cache: its buffers count in the pod's memory
    streamer_total_bytes: int | None = None  # cache.streamer_memory_limit_gib, when set

    @classmethod
    def of(
        cls,
        profile: ModelProfile,
        engine: EngineSettings,
        min_concurrency: int,
        data_volume_gib: int,
        *,
        streams: bool = False,
        streamer_total_bytes: int | None = None,
    ) -> Demand:
        return cls(
            profile=profile,
            engine=engine,
            min_concurrency=min_concurrency,
            data_volume_gib=data_volume_gib,
            weight_bytes=memory.weight_bytes(profile, engine),
            weight_label=memory.weight_format(profile, engine).label,
            context_limit=engine.max_model_len or profile.max_position_embeddings,
            streams=streams,
            streamer_total_bytes=streamer_total_bytes,
        )

    def streamer_worker_bytes(self, tp: int) -> int:
        """Each worker's streamer buffer at ``tp`` (what the cache would be given; counted only when ``streams``)."""
        return memory.streamer_worker_bytes(self.profile, tp, self.streamer_total_bytes)


@dataclass(frozen=True)
class Fit:
    instance: InstanceType
    tp: int
    price: Price
    max_model_len: int
    kv_bytes_per_gpu: int
    kv_tokens: int
    concurrency: float
    weights_per_gpu: int
    overhead: RuntimeOverhead
    resources: PodResources

    @property
    def rank(self) -> tuple[float, float, float, str, int]:
        """Cheapest on-demand first, then cheapest spot, then the most concurrent requests."""
        return (
            self.price.on_demand_usd_per_hour,
            self.price.spot_usd_per_hour,
            -self.concurrency,
            self.instance.name,
            self.tp,
        )


@dataclass(frozen=True)
class Miss:
    instance: InstanceType
    tp: int
    stage: int
    reason: str
    usable_bytes_per_gpu: int = 0
    need_bytes_per_gpu: int = 0  # weights + overhead (stage GPU memory)
    kv_bytes_per_gpu: int = 0  # what the KV cache got (stage KV cache)
    longest_context: int = 0  # at min_concurrency (stage KV cache)
    concurrency: float = 0.0  # at the requested context (stage KV cache)
    need_disk_gib: int = 0

    @property
    def nearness(self) -> tuple[int, float]:
        """Orders misses: later stage first, then the smallest shortfall."""
        if self.stage == GPU_MEMORY:
            return (self.stage, (self.usable_bytes_per_gpu - self.need_bytes_per_gpu) * self.tp)
        return (self.stage, float(self.kv_bytes_per_gpu))


def evaluate(
    demand: Demand, instance: InstanceType, tp: int, price: Price, *, max_model_len: int | None = None
) -> Fit | Miss:
    """Fit ``demand`` on ``instance`` with tensor parallelism ``tp`` (``max_model_len`` overrides the engine's)."""
    profile, engine = demand.profile, demand.engine
    usable = int(instance.gpu_memory_mib * MIB * engine.gpu_memory_utilization)
    capability = instance.gpu_compute_capability or 0.0
    if demand.weight_label == "fp8" and capability < FP8_MIN_COMPUTE_CAPABILITY:
        reason = (
            f"fp8 weights need compute capability {FP8_MIN_COMPUTE_CAPABILITY} or newer; "
            f"{instance.gpu_label} has {capability}"
        )
        return Miss(instance, tp, GPU_MEMORY, reason, usable, UNSUPPORTED)
    weights_per_gpu = -(-demand.weight_bytes // tp)
    overhead = memory.runtime_overhead(profile, engine, tp)
    kv_bytes = usable - weights_per_gpu - overhead.total
    if kv_bytes <= 0:
        reason = (
            f"{memory.gib(weights_per_gpu):.1f} GiB weights + {memory.gib(overhead.total):.1f} GiB runtime per GPU "
            f"exceed {memory.gib(usable):.1f} GiB usable"
        )
        return Miss(instance, tp, GPU_MEMORY, reason, usable, weights_per_gpu + overhead.total)

    fixed_len = max_model_len or engine.max_model_len
    concurrency = demand.min_concurrency
    longest = memory.longest_context(profile, engine, kv_bytes, concurrency, tp, demand.context_limit)
    context = fixed_len or longest
    at_context = memory.max_concurrency(profile, engine, kv_bytes, max(context, 1), tp)
    wanted = fixed_len or min(MIN_AUTO_CONTEXT, demand.context_limit)
    short = at_context < concurrency if fixed_len else longest < wanted
    if short:
        reason = (
            f"the KV cache ({memory.gib(kv_bytes):.1f} GiB per GPU) holds {concurrency} x {longest:,} tokens, "
            f"not {concurrency} x {wanted:,}"
        )
        return Miss(instance, tp, KV_CACHE, reason, usable, 0, kv_bytes, longest, at_context)

    streamer = demand.streamer_worker_bytes(tp) if demand.streams else 0
    resources, host_problem = pod_resources(profile, instance, tp, streamer_worker_bytes=streamer)
    if host_problem:
        return Miss(instance, tp, HOST, host_problem, usable, 0, kv_bytes, longest, at_context)

    need_disk = memory.ceil_gib(memory.node_disk_bytes(profile))
    node_disk = allocatable_disk_bytes(demand.data_volume_gib)
    if need_disk * GIB > node_disk:
        reason = (
            f"needs {need_disk} GiB of node disk; the {demand.data_volume_gib} GiB data volume "
            f"allows {memory.gib(node_disk):.0f}"
        )
        return Miss(instance, tp, DISK, reason, usable, 0, kv_bytes, longest, at_context, need_disk)

    return Fit(
        instance=instance,
        tp=tp,
        price=price,
        max_model_len=context,
        kv_bytes_per_gpu=kv_bytes,
        kv_tokens=memory.kv_cache_tokens(profile, engine, kv_bytes, tp),
        concurrency=at_context,
        weights_per_gpu=weights_per_gpu,
        overhead=overhead,
        resources=resources,
    )


def allocatable_disk_bytes(data_volume_gib: int) -> float:
    """What the kubelet lets pods use of a node's data volume before it evicts for disk pressure."""
    return data_volume_gib * GIB * (1 - EVICTION_FRACTION) - KUBE_RESERVED_EPHEMERAL_BYTES


def pod_resources(
    profile: ModelProfile, instance: InstanceType, tp: int, *, streamer_worker_bytes: int = 0
) -> tuple[PodResources, str | None]:
    """The pod's requests, and why they do not fit ``instance`` (None when they do)."""
    shm = memory.shm_bytes(tp)
    host = memory.host_memory_bytes(profile, tp, streamer_worker_bytes=streamer_worker_bytes)
    memory_gib = memory.ceil_gib(host + shm)
    cpus = memory.CPU_BASE + tp
    resources = PodResources(
        gpus=tp,
        cpu=str(cpus),
        memory=f"{memory_gib}Gi",
        ephemeral_storage=f"{memory.ceil_gib(memory.ephemeral_bytes(profile))}Gi",
        shm=f"{shm // GIB}Gi",
    )
    free_cpu = instance.allocatable_cpu_millicores - DAEMONSET_CPU_MILLICORES
    free_memory = (instance.allocatable_memory_mib - DAEMONSET_MEMORY_MIB) * MIB
    if memory_gib * GIB > free_memory or cpus * 1000 > free_cpu:
        return resources, (
            f"the pod needs {cpus} CPUs and {memory_gib} GiB of memory; {instance.name} has "
            f"{free_cpu / 1000:.1f} CPUs and {memory.gib(free_memory):.1f} GiB allocatable after daemonsets"
        )
    return resources, None
