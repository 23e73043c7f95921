"""Autoscaling numbers from a placement: the per-replica target, the cold-start estimate, costs.

Pure arithmetic over :class:`~inferctl.sizing.placement.Placement` and the model's config; no I/O.

* **Per-replica target**: how many requests one replica holds at once before KEDA adds another: its KV cache
  over the tokens a request really holds (``autoscaling.request_tokens``: prompt + output, measured with
  ``inferctl bench``), never more than vLLM schedules at once (``max_num_seqs``). Not the whole context per
  request: most requests are far shorter than ``max_model_len``, and sizing the target for the worst case adds
  a GPU node at the 4th request on a g5.xlarge. The worst case is the KV-cache trigger's job: when long requests
  do fill the cache, KV-cache usage crosses ``kv_cache_target`` first and a replica starts anyway.
* **Wake timeout**: how long the HTTP add-on's interceptor holds a request while the model wakes from zero, one
  link of the request's chain of timeouts (:mod:`inferctl.sizing.request_timeouts`); ``autoscaling.wake_timeout``
  when set. Otherwise it is built from the cold-start estimate ``plan`` shows (:mod:`inferctl.cache.coldstart`,
  inferctl's one model of a cold start), on the path the model's pods take: the S3 cache or the hub, the GPU
  nodes' pull mode, vLLM's compile cache. What the numbers are: the estimate's high bound adds up each phase's
  worst case, cited (published measurements, each named there) or derived from them and the catalog, plus one
  guess (the compile cache's size); a phase no source bounds from above (the hub download, a compile from scratch)
  takes a stand-in named there (a guess: the hub at the instance's baseline bandwidth; cited: the compile figure,
  a floor on small instances). Times ``WAKE_MARGIN``, a choice with no source, for what the sum cannot know (a
  hub, registry or compile slower than the figures), rounded up to a whole minute. Not a measurement of a GPU
  start: none was possible where it was written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from inferctl.cache.coldstart import ColdStart, model_cold_start
from inferctl.config.models import DEFAULT_REQUEST_TOKENS, ModelDeployment, PlatformConfig, duration_seconds
from inferctl.sizing.placement import Placement

if TYPE_CHECKING:
    from inferctl.sizing.platform_plan import PlatformPlan

# The wake timeout over the cold start's high bound (stand-ins included): a choice, not a measurement, for a hub,
# registry or compile slower than the figures the bound adds up.
WAKE_MARGIN = 1.5
# vLLM 0.32's max_num_seqs when the engine leaves it unset, for the OpenAI server (vllm/engine/arg_utils.py,
# EngineArgs.get_batch_defaults): 1024 on GPUs of at least 70 GiB that are not A100s, 256 on the others.
VLLM_MAX_NUM_SEQS_LARGE_GPU = 1024
VLLM_MAX_NUM_SEQS = 256
VLLM_LARGE_GPU_GIB = 70

TargetBasis = Literal["target_concurrency", "request_tokens", "max_num_seqs"]


@dataclass(frozen=True)
class ReplicaTarget:
    """Running + waiting requests per replica before KEDA adds one, and what decided it."""

    concurrency: int
    basis: TargetBasis  # the config's target_concurrency, the KV cache over request_tokens, or vLLM's batch cap
    request_tokens: int  # tokens per request the KV-cache arithmetic assumes (at most max_model_len)

    def describe(self) -> str:
        if self.basis == "target_concurrency":
            return f"{self.concurrency} requests (autoscaling.target_concurrency)"
        if self.basis == "max_num_seqs":
            return f"{self.concurrency} requests (vLLM's max_num_seqs)"
        return f"{self.concurrency} requests of {self.request_tokens:,} tokens"


def vllm_max_num_seqs(model: ModelDeployment, placement: Placement) -> int:
    """The most requests vLLM schedules at once on ``placement``: the engine's setting, else vLLM's default."""
    if model.engine.max_num_seqs is not None:
        return model.engine.max_num_seqs
    large = placement.gpu_memory_gib >= VLLM_LARGE_GPU_GIB and "a100" not in placement.gpu_name.lower()
    return VLLM_MAX_NUM_SEQS_LARGE_GPU if large else VLLM_MAX_NUM_SEQS


def replica_target(model: ModelDeployment, placement: Placement) -> ReplicaTarget:
    """How many requests of ``autoscaling.request_tokens`` one replica's KV cache holds (at least 1), at most
    vLLM's ``max_num_seqs``; ``autoscaling.target_concurrency`` when set."""
    settings = model.autoscaling
    request_tokens = settings.request_tokens if settings is not None else DEFAULT_REQUEST_TOKENS
    request_tokens = min(request_tokens, max(placement.max_model_len, 1))  # none holds more than its context
    if settings is not None and settings.target_concurrency is not None:
        return ReplicaTarget(settings.target_concurrency, "target_concurrency", request_tokens)
    fits = max(1, placement.kv_cache_tokens // request_tokens)
    cap = vllm_max_num_seqs(model, placement)
    if cap < fits:
        return ReplicaTarget(cap, "max_num_seqs", request_tokens)
    return ReplicaTarget(fits, "request_tokens", request_tokens)


def per_replica_target(model: ModelDeployment, placement: Placement) -> int:
    """Running + waiting requests per replica before KEDA adds one (:func:`replica_target`)."""
    return replica_target(model, placement).concurrency


def estimated_wake_s(cold_start: ColdStart) -> int:
    """The wake timeout a cold start asks for: its high bound (stand-ins where a phase has none) times
    ``WAKE_MARGIN``, rounded up to a whole minute."""
    return math.ceil(cold_start.wake_basis_s * WAKE_MARGIN / 60) * 60


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
    """What ``plan`` adds for autoscaled models: per model the target (with the tokens per request it assumes),
    the wake timeout and replica range, and the platform's $/h when idle (every model at its minimum,
    scaled-to-zero GPU nodes gone) and at max replicas. None when no model autoscales."""
    from inferctl.sizing.request_timeouts import request_timeouts  # it builds on this module's wake estimate

    if not any(m.autoscaling is not None for m in config.models):
        return None
    models: list[dict[str, Any]] = []
    _, idle_on_demand, idle_spot = plan.cost_at(0)
    _, max_on_demand, max_spot = plan.cost_at(1)
    for model in config.models:
        placement = plan.placements[model.name]
        if model.autoscaling is None:
            continue
        target = replica_target(model, placement)
        entry: dict[str, Any] = {
            "name": model.name,
            "min_replicas": model.autoscaling.min_replicas,
            "max_replicas": model.autoscaling.max_replicas,
            "target_concurrency_per_replica": target.concurrency,
            "target_basis": target.basis,
            "request_tokens": target.request_tokens,
            "kv_cache_target": model.autoscaling.kv_cache_target,
        }
        timeouts = request_timeouts(config, model, placement)
        if model.autoscaling.scales_to_zero:
            cold_start = model_cold_start(config, model, placement)  # the same figures as plan's cold-start table
            high = cold_start.high_s
            entry["scale_to_zero_after_s"] = duration_seconds(model.autoscaling.scale_to_zero_after)
            entry["cold_start"] = {
                "path": cold_start.path,
                "low_s": round(cold_start.low_s, 1),
                "high_s": None if high is None else round(high, 1),
                "wake_basis_s": round(cold_start.wake_basis_s, 1),
            }
            entry["wake_timeout_s"] = timeouts.readiness_s
            entry["wake_timeout_from"] = timeouts.wake_from
        entry["timeouts"] = timeouts.to_dict()  # every hop's silence budget, innermost first
        models.append(entry)
    return {
        "models": models,
        "idle_usd_per_hour": {"on_demand": idle_on_demand, "spot": idle_spot},
        "max_usd_per_hour": {"on_demand": max_on_demand, "spot": max_spot},
        "gpu_pool_consolidate_after": config.pools.gpu.consolidate_after,
    }
