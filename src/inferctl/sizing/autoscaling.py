"""Autoscaling numbers from a placement: the per-replica target, the cold-start estimate, the wake timeout, costs.

Pure arithmetic over :class:`~inferctl.sizing.placement.Placement` and the model's config; no I/O.

* **Per-replica target**: the concurrent requests one replica's KV cache holds at the configured lengths
  (``kv_cache_tokens // max_model_len``, what sizing already reports as ``max_concurrency``), capped by
  ``max_num_seqs`` when set. Past it vLLM queues or preempts, so that is when another replica should start.
* **Cold start**: a GPU node launched by Karpenter, the vLLM image pulled, the weights downloaded and loaded,
  the engine warmed up. Each part is an estimate with its reason beside the constant; the sum is meant to be
  pessimistic, because the wake timeout built from it should rarely cut a real start short.
* **Wake timeout**: how long the HTTP add-on's interceptor holds a request while the model wakes from zero
  (``InterceptorRoute.spec.timeouts.readiness``); past it the interceptor answers 504 Gateway Timeout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferctl.config.models import AutoscalingSettings, ModelDeployment, PlatformConfig, duration_seconds
from inferctl.sizing.placement import Placement

if TYPE_CHECKING:
    from inferctl.sizing.platform_plan import PlatformPlan

# Karpenter: EC2 launch, boot, kubelet join, NVIDIA device plugin advertising the GPU. ~1-2 min for GPU
# instances; take the slow end.
NODE_READY_S = 120
# vllm/vllm-openai is a 10-12 GB image (DESIGN.md, "known pains"); ~100 MB/s effective pull + unpack on a fresh node.
IMAGE_PULL_S = 120
# Weights from the hub to the node's disk: ~150 MB/s sustained is a realistic single-stream rate.
DOWNLOAD_MIB_PER_S = 150
# Loading weights to the GPU, CUDA graph capture and torch.compile warm-up (vLLM's own start log), per start.
ENGINE_START_S = 90
# The wake timeout is this much longer than the estimate: a slow pull or download should still be served.
WAKE_MARGIN = 1.5
# On aws the client reaches the interceptor through an NLB, whose TCP idle timeout is 350 s by default and at most
# 6000 s (AWS ELB API reference, ListenerAttribute ``tcp.idle_timeout.seconds``). A held request sends no bytes, so
# the entry Service raises the listener's idle timeout past the wake timeout (see render.autoscaling), and the wake
# timeout stays under the NLB's maximum: the client gets the interceptor's 504, never a silently dropped connection.
NLB_IDLE_TIMEOUT_MAX_S = 6000
NLB_IDLE_MARGIN_S = 60
NLB_WAKE_CAP_S = NLB_IDLE_TIMEOUT_MAX_S - NLB_IDLE_MARGIN_S


def per_replica_target(model: ModelDeployment, placement: Placement) -> int:
    """Running + waiting requests per replica before KEDA adds one: what the KV cache holds, at least 1."""
    settings = model.autoscaling
    if settings is not None and settings.target_concurrency is not None:
        return settings.target_concurrency
    fits = placement.kv_cache_tokens // max(placement.max_model_len, 1)
    if model.engine.max_num_seqs is not None:
        fits = min(fits, model.engine.max_num_seqs)
    return max(1, fits)


@dataclass(frozen=True)
class ColdStart:
    """How long a model takes from zero replicas (and no GPU node) to serving, part by part."""

    node_s: int
    image_s: int
    download_s: int
    engine_s: int

    @property
    def total_s(self) -> int:
        return self.node_s + self.image_s + self.download_s + self.engine_s


def cold_start_estimate(placement: Placement) -> ColdStart:
    # The download is the checkpoint as stored, which for a model quantized at load (fp8) is about twice its weights.
    download = math.ceil((placement.checkpoint_gib or placement.weight_gib) * 1024 / DOWNLOAD_MIB_PER_S)
    return ColdStart(node_s=NODE_READY_S, image_s=IMAGE_PULL_S, download_s=download, engine_s=ENGINE_START_S)


def wake_timeout_s(settings: AutoscalingSettings, placement: Placement, *, behind_nlb: bool) -> int:
    """Seconds the interceptor holds a request for a model at zero: the configured ``wake_timeout``, else the
    cold-start estimate with a margin, rounded up to a whole minute; behind an NLB at most :data:`NLB_WAKE_CAP_S`
    (the NLB's longest idle timeout less a margin)."""
    if settings.wake_timeout is not None:
        wanted = duration_seconds(settings.wake_timeout)
    else:
        wanted = math.ceil(cold_start_estimate(placement).total_s * WAKE_MARGIN / 60) * 60
    return min(wanted, NLB_WAKE_CAP_S) if behind_nlb else wanted


@dataclass(frozen=True)
class ReplicaCosts:
    """$/h of one model's GPU replicas when idle and at max replicas (the GPU node; spot or on-demand)."""

    idle_usd_per_hour: float
    max_usd_per_hour: float
    min_replicas: int
    max_replicas: int


def replica_costs(model: ModelDeployment, placement: Placement, *, spot: bool) -> ReplicaCosts:
    """One replica per GPU node (sizing places each replica on its own instance type)."""
    per_replica = placement.spot_usd_per_hour if spot else placement.on_demand_usd_per_hour
    settings = model.autoscaling
    low, high = (settings.min_replicas, settings.max_replicas) if settings else (model.replicas, model.replicas)
    return ReplicaCosts(
        idle_usd_per_hour=round(per_replica * low, 4),
        max_usd_per_hour=round(per_replica * high, 4),
        min_replicas=low,
        max_replicas=high,
    )


def autoscaling_summary(config: PlatformConfig, plan: PlatformPlan) -> dict[str, Any] | None:
    """What ``plan`` adds for autoscaled models: per model the target, wake timeout and replica range, and the
    platform's $/h when idle (every model at its minimum, scaled-to-zero GPU nodes gone) and at max replicas.
    None when no model autoscales."""
    if not any(m.autoscaling is not None for m in config.models):
        return None
    behind_nlb = config.traits.load_balancer_by_default and config.endpoint.exposure.service_type != "ClusterIP"
    models: list[dict[str, Any]] = []
    _, idle_on_demand, idle_spot = plan.cost_at(0)
    _, max_on_demand, max_spot = plan.cost_at(1)
    for model in config.models:
        placement = plan.placements[model.name]
        if model.autoscaling is None:
            continue
        entry: dict[str, Any] = {
            "name": model.name,
            "min_replicas": model.autoscaling.min_replicas,
            "max_replicas": model.autoscaling.max_replicas,
            "target_concurrency_per_replica": per_replica_target(model, placement),
            "kv_cache_target": model.autoscaling.kv_cache_target,
        }
        if model.autoscaling.scales_to_zero:
            estimate = cold_start_estimate(placement)
            entry["scale_to_zero_after_s"] = duration_seconds(model.autoscaling.scale_to_zero_after)
            entry["cold_start_estimate_s"] = estimate.total_s
            entry["wake_timeout_s"] = wake_timeout_s(model.autoscaling, placement, behind_nlb=behind_nlb)
        models.append(entry)
    return {
        "models": models,
        "idle_usd_per_hour": {"on_demand": idle_on_demand, "spot": idle_spot},
        "max_usd_per_hour": {"on_demand": max_on_demand, "spot": max_spot},
        "gpu_pool_consolidate_after": config.pools.gpu.consolidate_after,
    }
