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

from inferctl.config.models import AutoscalingSettings, ModelDeployment, duration_seconds
from inferctl.sizing.placement import Placement

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
# On aws the client reaches the interceptor through an NLB, whose TCP idle timeout is 350 s by default (AWS ELB
# API reference, ListenerAttribute tcp.idle_timeout.seconds). A held request sends no bytes, so the interceptor must
# answer (504) before the NLB silently drops the connection.
NLB_IDLE_TIMEOUT_S = 350
NLB_WAKE_CAP_S = NLB_IDLE_TIMEOUT_S - 20


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
    download = math.ceil(placement.weight_gib * 1024 / DOWNLOAD_MIB_PER_S)
    return ColdStart(node_s=NODE_READY_S, image_s=IMAGE_PULL_S, download_s=download, engine_s=ENGINE_START_S)


def wake_timeout_s(settings: AutoscalingSettings, placement: Placement, *, behind_nlb: bool) -> int:
    """Seconds the interceptor holds a request for a model at zero: the configured ``wake_timeout``, else the
    cold-start estimate with a margin, rounded up to a whole minute; behind an NLB at most :data:`NLB_WAKE_CAP_S`."""
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
