"""What the aws platform costs per hour besides its model nodes, and what it costs idle and now.

Always on (``plan``'s fixed lines): the EKS control plane; the NAT gateway and its Elastic IP of a VPC that ``up``
creates (aws/network.py: one for the VPC); the system node group (:mod:`inferctl.sizing.system_nodes`); the network
load balancer in front of the model gateway (render/gateway.py: one per platform, whatever the models); the system
nodes' gp3 root volumes (aws/eks.py ``disk_size``). Each model node adds its EC2 instance and its data volume (the
pool's EC2NodeClass, render/karpenter.py). Per-GB and per-NLCU charges depend on traffic and are named, not priced.
Prices: :mod:`inferctl.catalog.aws_prices` (us-east-1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inferctl.catalog import aws_prices as usd
from inferctl.catalog.instances import get_instance
from inferctl.catalog.prices import PriceBook
from inferctl.config.ami_aliases import ami_family
from inferctl.config.models import PlatformConfig
from inferctl.sizing.memory import BOTTLEROCKET_OS_GIB, DATA_VOLUME_IOPS, gpu_data_volume_throughput_mibs
from inferctl.sizing.system_nodes import SystemNodeChoice

IDLE_ITEMS = ("EKS control plane", "NAT gateway", "system nodes", "load balancer", "storage")


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


def cost_line(item: str, detail: str, usd_per_hour: float) -> CostLine:
    return CostLine(item, detail, usd_per_hour, usd_per_hour)


def load_balancer_count(config: PlatformConfig) -> int:
    """Network load balancers ``up`` makes on aws: one, the model gateway's Service (render/gateway.py); model
    Services are ClusterIP whatever their number."""
    if not config.traits.load_balancer_by_default or config.endpoint_service_type != "LoadBalancer":
        return 0
    return 1


def always_on_lines(config: PlatformConfig, prices: PriceBook, nodes: SystemNodeChoice) -> list[CostLine]:
    """The lines that cost the same whatever the models do: the idle platform's floor."""
    price = prices.price(nodes.instance)
    per_node = price.on_demand_usd_per_hour if price else 0.0
    how = "auto" if nodes.auto else "named"
    disk = config.aws.system_nodes.disk_gib
    lines = [cost_line("EKS control plane", "standard support", usd.EKS_CONTROL_PLANE_USD_PER_HOUR)]
    if config.aws.vpc_id is None:
        lines.append(
            cost_line("NAT gateway", "one, with its Elastic IP (+ $0.045/GB processed)", usd.nat_gateway_usd_per_hour())
        )
    lines.append(
        cost_line("system nodes", f"{nodes.count} x {nodes.instance.name} on-demand ({how})", nodes.count * per_node)
    )
    balancers = load_balancer_count(config)
    if balancers:
        lines.append(
            cost_line("load balancer", f"{balancers} x NLB (+ $0.006 per NLCU-hour)", balancers * usd.NLB_USD_PER_HOUR)
        )
    lines.append(
        cost_line(
            "storage", f"{nodes.count} x {disk} GiB gp3 system node volume", nodes.count * usd.gp3_usd_per_hour(disk)
        )
    )
    return lines


def node_volume(config: PlatformConfig, instance_type: str) -> tuple[int, float]:
    """GiB and $/h of the EBS volumes of one model node of ``instance_type``: its pool's data volume (the GPU pool's
    with the extra IOPS and throughput it buys), plus Bottlerocket's OS volume."""
    instance = get_instance(instance_type)
    gpu = instance.family in set(config.pools.gpu.instance_families)
    pool = config.pools.gpu if gpu else config.pools.cpu
    if gpu:
        cost = usd.gp3_usd_per_hour(
            pool.data_volume_gib,
            iops=DATA_VOLUME_IOPS,
            throughput_mibs=gpu_data_volume_throughput_mibs(config.pools.gpu),
        )
    else:
        cost = usd.gp3_usd_per_hour(pool.data_volume_gib)
    gib = pool.data_volume_gib
    if ami_family(pool.ami_alias) == "bottlerocket":
        gib += BOTTLEROCKET_OS_GIB
        cost += usd.gp3_usd_per_hour(BOTTLEROCKET_OS_GIB)
    return gib, cost


def replica_range(config: PlatformConfig) -> dict[str, tuple[int, int]]:
    """Per model: replicas when idle (autoscaling's minimum) and at most (its maximum); fixed replicas both."""
    out = {}
    for model in config.models:
        scaling = model.autoscaling
        out[model.name] = (scaling.min_replicas, scaling.max_replicas) if scaling else (model.replicas, model.replicas)
    return out


def summary_line(lines: list[CostLine]) -> str:
    """``control plane 0.100 + NAT 0.050 + ...``: the idle cost's parts in one line."""
    short = {"EKS control plane": "control plane", "NAT gateway": "NAT"}
    return " + ".join(f"{short.get(line.item, line.item)} {line.on_demand_usd_per_hour:.3f}" for line in lines)


def idle_lines(plan_fixed: list[CostLine], model_lines_at_min: Mapping[str, CostLine]) -> list[CostLine]:
    """The idle platform: the always-on lines and any model kept warm (min_replicas above 0)."""
    return [*plan_fixed, *(line for line in model_lines_at_min.values() if line.on_demand_usd_per_hour)]
