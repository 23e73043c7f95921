"""The whole platform's plan: a placement per model, the fixed cost of the cluster, and the hourly total.

Fixed cost (target aws only; on ``kubernetes`` the cluster is yours and costs what it costs): what is always on,
whatever the models do (:mod:`inferctl.sizing.platform_cost`): the EKS control plane, the new VPC's NAT gateway, the
system managed node group (``aws.system_nodes``: ``auto`` or the first named type, which EKS launches first for
on-demand groups; :mod:`inferctl.sizing.system_nodes`), the load balancers and the system nodes' volumes. Each model
line adds its nodes' data volumes on aws. ``idle``: every model at its minimum; ``at max replicas``: at its maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferctl.catalog.aws_prices import PRICES_REGION
from inferctl.catalog.instances import SNAPSHOT_REGION, get_instance, instances_in_families
from inferctl.catalog.prices import PriceBook, fetch_price_book
from inferctl.catalog.profile import ModelProfile
from inferctl.catalog.sources import load_profile
from inferctl.config.models import EngineSettings, PlatformConfig
from inferctl.errors import PlanError
from inferctl.sizing import memory
from inferctl.sizing.instance_choice import place_model
from inferctl.sizing.model_cache import check_cached_model
from inferctl.sizing.placement import Placement
from inferctl.sizing.platform_cost import CostLine, always_on_lines, node_volume, replica_range
from inferctl.sizing.system_nodes import SystemNodeChoice, choose_system_nodes, system_instance_types
from inferctl.sizing.system_pods import as_rows

__all__ = ["CostLine", "PlatformPlan", "fixed_costs", "plan_platform", "pool_limits_problem", "profile_summary"]

LIMIT_UNITS = {"gpus": "GPUs", "cpu": "vCPUs", "memory_gib": "GiB of memory"}


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
    # aws: each model node's EBS volumes (GiB, $/h), the replica range (idle, most) and the system node group.
    node_volumes: dict[str, tuple[int, float]] = field(default_factory=dict)
    replica_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    system_nodes: SystemNodeChoice | None = None

    def model_lines_at(self, replicas: Mapping[str, int]) -> list[CostLine]:
        """A line per model at ``replicas`` nodes: the instances and, on aws, their data volumes."""
        lines = []
        for name, placement in self.placements.items():
            count = replicas.get(name, 1)
            gib, volume = self.node_volumes.get(name, (0, 0.0))
            lines.append(
                CostLine(
                    item=f"model {name}",
                    detail=f"{count} x {placement.instance_type}" + (f" + {gib} GiB gp3 each" if gib else ""),
                    on_demand_usd_per_hour=count * (placement.on_demand_usd_per_hour + volume),
                    spot_usd_per_hour=count * (placement.spot_usd_per_hour + volume),
                )
            )
        return lines

    @property
    def model_lines(self) -> list[CostLine]:
        return self.model_lines_at(self.replicas)

    def cost_at(self, end: int) -> tuple[list[CostLine], float, float]:
        """The lines and the on-demand and spot totals with every model at the low (``end=0``: idle) or high
        (``end=1``) end of its replica range."""
        replicas = {name: span[end] for name, span in self.replica_ranges.items()} or self.replicas
        lines = [*self.fixed, *self.model_lines_at(replicas)]
        on_demand = round(sum(line.on_demand_usd_per_hour for line in lines), 4)
        return lines, on_demand, round(sum(line.spot_usd_per_hour for line in lines), 4)

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
            **self._idle_dict(),
        }

    def _idle_dict(self) -> dict[str, Any]:
        if self.system_nodes is None:
            return {}
        idle, idle_on_demand, idle_spot = self.cost_at(0)
        _, peak_on_demand, peak_spot = self.cost_at(1)
        nodes = self.system_nodes
        return {
            "idle": {
                "lines": [line.to_dict() for line in idle if line.on_demand_usd_per_hour],
                "on_demand_usd_per_hour": idle_on_demand,
                "spot_usd_per_hour": idle_spot,
            },
            "at_max_replicas": {"on_demand_usd_per_hour": peak_on_demand, "spot_usd_per_hour": peak_spot},
            "system_nodes": system_nodes_dict(nodes),
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
            names.update(system_instance_types(config)[:1] if config.traits.owns_infrastructure else [])
            prices = fetch_price_book(names, region)
        else:
            prices = PriceBook.snapshot(region)
    loaded: dict[str, ModelProfile] = {}
    placements: dict[str, Placement] = {}
    cache_notes: list[str] = []
    for index, model in enumerate(config.models):
        profile = (profiles or {}).get(model.name) or load_profile(model.source, revision=model.revision)
        loaded[model.name] = profile
        cache_notes += check_cached_model(config, model, profile, index)
        placements[model.name] = place_model(config, model, profile=profile, prices=prices)
    if config.traits.owns_infrastructure:
        problem = pool_limits_problem(config, placements)
        if problem:
            raise PlanError(problem)
    notes = [note for profile in loaded.values() for note in profile.notes]
    notes += sorted({note for placement in placements.values() for note in placement.notes})
    notes += cache_notes
    aws = config.traits.owns_infrastructure
    system = choose_system_nodes(config) if aws else None
    if not aws:
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
        fixed=always_on_lines(config, prices, system) if system else [],
        prices=prices.describe(),
        notes=notes + list(system.warnings if system else []),
        node_volumes={name: node_volume(config, p.instance_type) for name, p in placements.items()} if aws else {},
        replica_ranges=replica_range(config),
        system_nodes=system,
    )


def system_nodes_dict(nodes: SystemNodeChoice) -> dict[str, Any]:
    """The system node group as ``plan --output json`` shows it: the choice, why, and each node's share."""
    alloc = nodes.fit.allocatable
    return {
        "instance_type": nodes.instance.name,
        "count": nodes.count,
        "auto": nodes.auto,
        "reason": nodes.reason,
        "architecture": nodes.arch_note,
        "alternatives": list(nodes.alternatives),
        "allocatable_per_node": {"cpu_m": alloc.cpu_m, "memory_mib": alloc.memory_mib, "pods": nodes.instance.max_pods},
        "nodes": [
            {"cpu_m": n.budget.cpu_m, "memory_mib": n.budget.memory_mib, "pods": len(n.pods)} for n in nodes.fit.nodes
        ],
        "pods": as_rows(list(nodes.pods)),
    }


def _unpriced_note(config: PlatformConfig) -> str:
    """What the AWS program creates and AWS bills that the $/h above does not count (charges by traffic or by what
    is stored): named, so the total is not read as the whole bill. The hourly parts are priced in us-east-1; the
    note says when the region is another."""
    items = []
    if config.aws.vpc_id is None:
        items.append("the NAT gateway's $0.045 per GB processed")
    if config.endpoint.exposure.service_type != "ClusterIP":  # auto is an NLB on aws
        items.append("the load balancers' NLCU charges")
    if config.aws.control_plane_logs:
        items.append("CloudWatch control-plane logs")
    if config.cache.enabled or any(model.cache for model in config.models):
        items.append("the S3 storage of the model cache")
    items.append("data transfer")
    listed = f"{', '.join(items[:-1])} and {items[-1]}"
    region = config.pricing_region or "your region"
    where = (
        "" if region == PRICES_REGION else f"; control plane, NAT, load balancer and volumes at {PRICES_REGION} rates"
    )
    return f"$/h leaves out {listed}; see AWS's pricing pages for {region}{where}"


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
    """What the aws platform costs whatever its models do (:func:`inferctl.sizing.platform_cost.always_on_lines`)."""
    return always_on_lines(config, prices, choose_system_nodes(config))


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
