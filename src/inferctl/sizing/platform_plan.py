"""The whole platform's plan: a placement per model, the fixed cost of the cluster, and the hourly total.

Fixed cost (target aws only; on ``kubernetes`` the cluster is yours and costs what it costs): the EKS control plane
($0.10 per hour, standard support) and the system managed node group (``aws.system_nodes.desired_size`` x the first
of ``instance_types``, which EKS launches first for on-demand groups), always on-demand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferctl.catalog.instances import SNAPSHOT_REGION, get_instance, instances_in_families
from inferctl.catalog.prices import PriceBook, fetch_price_book
from inferctl.catalog.profile import ModelProfile
from inferctl.catalog.sources import load_profile
from inferctl.config.models import EngineSettings, PlatformConfig
from inferctl.errors import PlanError
from inferctl.sizing import memory
from inferctl.sizing.instance_choice import place_model
from inferctl.sizing.placement import Placement

EKS_CONTROL_PLANE_USD_PER_HOUR = 0.10
LIMIT_UNITS = {"gpus": "GPUs", "cpu": "vCPUs", "memory_gib": "GiB of memory"}


@dataclass(frozen=True)
class CostLine:
    item: str
    detail: str
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float  # what the line costs when the GPU nodes run on spot (fixed lines: the same)

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "detail": self.detail,
            "on_demand_usd_per_hour": round(self.on_demand_usd_per_hour, 4),
            "spot_usd_per_hour": round(self.spot_usd_per_hour, 4),
        }


@dataclass(frozen=True)
class PlatformPlan:
    """Placements by model name, with profiles, replicas and the platform's cost per hour."""

    platform: str
    target: str
    region: str
    placements: dict[str, Placement]
    profiles: dict[str, ModelProfile]
    replicas: dict[str, int]
    fixed: list[CostLine]
    prices: str  # where the prices come from
    notes: list[str] = field(default_factory=list)

    @property
    def model_lines(self) -> list[CostLine]:
        lines = []
        for name, placement in self.placements.items():
            count = self.replicas.get(name, 1)
            lines.append(
                CostLine(
                    item=f"model {name}",
                    detail=f"{count} x {placement.instance_type}",
                    on_demand_usd_per_hour=count * placement.on_demand_usd_per_hour,
                    spot_usd_per_hour=count * placement.spot_usd_per_hour,
                )
            )
        return lines

    @property
    def total_on_demand_usd_per_hour(self) -> float:
        return round(sum(line.on_demand_usd_per_hour for line in [*self.fixed, *self.model_lines]), 4)

    @property
    def total_spot_usd_per_hour(self) -> float:
        return round(sum(line.spot_usd_per_hour for line in [*self.fixed, *self.model_lines]), 4)

    def to_dict(self) -> dict[str, Any]:
        models = []
        for name, placement in self.placements.items():
            profile = self.profiles[name]
            models.append(
                {
                    "name": name,
                    "source": profile.source,
                    "replicas": self.replicas.get(name, 1),
                    "profile": profile.to_dict(),
                    "placement": placement.to_dict(),
                }
            )
        return {
            "platform": self.platform,
            "target": self.target,
            "region": self.region,
            "prices": self.prices,
            "models": models,
            "fixed": [line.to_dict() for line in self.fixed],
            "cost_lines": [line.to_dict() for line in [*self.fixed, *self.model_lines]],
            "total": {
                "on_demand_usd_per_hour": self.total_on_demand_usd_per_hour,
                "spot_usd_per_hour": self.total_spot_usd_per_hour,
                "on_demand_usd_per_month": round(self.total_on_demand_usd_per_hour * 730, 2),
                "spot_usd_per_month": round(self.total_spot_usd_per_hour * 730, 2),
            },
            "notes": list(self.notes),
        }


def plan_platform(
    config: PlatformConfig,
    *,
    live_prices: bool = False,
    prices: PriceBook | None = None,
    profiles: Mapping[str, ModelProfile] | None = None,
) -> PlatformPlan:
    """Place every model of ``config`` and price the platform. ``profiles`` (by model name) skip loading."""
    region = config.pricing_region or SNAPSHOT_REGION
    if prices is None:
        if live_prices:
            names = {inst.name for inst in instances_in_families(config.pools.gpu.instance_families)}
            names.update(config.aws.system_nodes.instance_types[:1] if config.traits.owns_infrastructure else [])
            prices = fetch_price_book(names, region)
        else:
            prices = PriceBook.snapshot(region)
    loaded: dict[str, ModelProfile] = {}
    placements: dict[str, Placement] = {}
    for model in config.models:
        profile = (profiles or {}).get(model.name) or load_profile(model.source, revision=model.revision)
        loaded[model.name] = profile
        placements[model.name] = place_model(config, model, profile=profile, prices=prices)
    if config.traits.owns_infrastructure:
        problem = pool_limits_problem(config, placements)
        if problem:
            raise PlanError(problem)
    notes = [note for profile in loaded.values() for note in profile.notes]
    notes += sorted({note for placement in placements.values() for note in placement.notes})
    if not config.traits.owns_infrastructure:
        notes.append("target is not aws: prices assume the GPU nodes are EC2 instances of pools.gpu families")
    else:
        notes.append(_unpriced_note(config))
    return PlatformPlan(
        platform=config.name,
        target=config.target,
        region=region,
        placements=placements,
        profiles=loaded,
        replicas={model.name: model.replicas for model in config.models},
        fixed=fixed_costs(config, prices) if config.traits.owns_infrastructure else [],
        prices=prices.describe(),
        notes=notes,
    )


def _unpriced_note(config: PlatformConfig) -> str:
    """What the AWS program creates and AWS bills that the $/h above does not count: named, so the total is not
    read as the whole bill. No figures: they vary by region and traffic and no price source for them is packaged."""
    items = []
    if config.aws.vpc_id is None:
        items.append("the NAT gateway of the new VPC (hourly + per GB)")
    if config.endpoint.exposure.service_type != "ClusterIP":  # auto is an NLB on aws
        items.append("the network load balancer of each model endpoint (hourly + NLCU)")
    items.append("the nodes' EBS volumes")
    if config.aws.control_plane_logs:
        items.append("CloudWatch control-plane logs")
    if config.cache.enabled or any(model.cache for model in config.models):
        items.append("the S3 storage of the model cache")
    items.append("data transfer")
    listed = f"{', '.join(items[:-1])} and {items[-1]}"
    return f"$/h leaves out {listed}; see AWS's pricing pages for {config.pricing_region or 'your region'}"


def _most_replicas(config: PlatformConfig, name: str) -> int:
    """The replicas the pool must have room for: the fixed count, or autoscaling's maximum."""
    model = config.model(name)
    return model.autoscaling.max_replicas if model.autoscaling is not None else model.replicas


def pool_limits_problem(config: PlatformConfig, placements: Mapping[str, Placement]) -> str | None:
    """Why the GPU NodePool's limits stop Karpenter before every replica has its node (None when they do not).

    Karpenter compares ``spec.limits`` with the summed capacity of the pool's nodes (not the pods' requests) and
    launches nothing past them, so a plan over the limits leaves replicas Pending on a cluster that costs money.
    """
    limits = config.pools.gpu.limits
    nodes = [(name, _most_replicas(config, name), get_instance(p.instance_type)) for name, p in placements.items()]
    capacity = {
        "gpus": sum(count * inst.gpu_count for _, count, inst in nodes),
        "cpu": sum(count * inst.vcpu for _, count, inst in nodes),
        "memory_gib": math.ceil(sum(count * inst.memory_mib for _, count, inst in nodes) / 1024),
    }
    allowed = {"gpus": limits.gpus, "cpu": limits.cpu, "memory_gib": limits.memory_gib}
    for key, need in capacity.items():
        limit = allowed[key]
        if limit is not None and need > limit:
            listed = ", ".join(f"{count} x {inst.name} for {name}" for name, count, inst in nodes if count)
            return (
                f"the plan's GPU nodes ({listed}) have {need:,} {LIMIT_UNITS[key]} but pools.gpu.limits.{key} is "
                f"{limit:,}, so Karpenter would leave replicas Pending; raise pools.gpu.limits.{key} to {need} "
                "or lower models[].replicas"
            )
    return None


def fixed_costs(config: PlatformConfig, prices: PriceBook) -> list[CostLine]:
    """The EKS control plane and the system node group: always on, always on-demand."""
    nodes = config.aws.system_nodes
    instance = get_instance(nodes.instance_types[0])
    price = prices.price(instance)
    per_node = price.on_demand_usd_per_hour if price else 0.0
    return [
        CostLine(
            "EKS control plane", "standard support", EKS_CONTROL_PLANE_USD_PER_HOUR, EKS_CONTROL_PLANE_USD_PER_HOUR
        ),
        CostLine(
            "system nodes",
            f"{nodes.desired_size} x {instance.name} on-demand",
            nodes.desired_size * per_node,
            nodes.desired_size * per_node,
        ),
    ]


def profile_summary(profile: ModelProfile, engine: EngineSettings) -> dict[str, Any]:
    """The profile facts ``inferctl plan`` prints above a model's table (weights at ``engine``'s settings)."""
    return {
        "parameters": profile.num_parameters,
        "parameters_source": profile.parameters_source,
        "architecture": profile.architecture,
        "weight_gib": round(memory.gib(memory.weight_bytes(profile, engine)), 2),
        "weight_format": memory.weight_format(profile, engine).label,
        "kv_bytes_per_token": memory.kv_bytes_per_token(profile, engine),
        "context_limit": profile.max_position_embeddings,
        "sliding_window": profile.sliding_window,
        "experts": f"{profile.experts_per_token} of {profile.num_experts}" if profile.is_moe else None,
        "origin": profile.origin,
    }
