"""What the running aws platform costs this hour (``status``): the nodes that run, priced, with their volumes,
plus the config's fixed parts (control plane, NAT, load balancers). The always-on and per-node prices come from
:mod:`inferctl.sizing.platform_cost`; this module reads the cluster's nodes, so it sits beside the AWS target."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from inferctl.catalog import aws_prices as usd
from inferctl.config.models import PlatformConfig
from inferctl.errors import NotFoundError
from inferctl.kube.views import NodesView
from inferctl.sizing.platform_cost import CostLine, cost_line, load_balancer_count, node_volume


@dataclass(frozen=True)
class CostNow:
    """``status``: what the running platform costs this hour, from the nodes that run and the config's fixed parts."""

    lines: list[CostLine]
    unpriced_nodes: int

    @property
    def usd_per_hour(self) -> float:
        return round(sum(line.on_demand_usd_per_hour for line in self.lines), 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd_per_hour": self.usd_per_hour,
            "usd_per_month_at_this_rate": round(self.usd_per_hour * usd.HOURS_PER_MONTH, 2),
            "lines": [
                {"item": line.item, "detail": line.detail, "usd_per_hour": round(line.on_demand_usd_per_hour, 4)}
                for line in self.lines
            ],
            "unpriced_nodes": self.unpriced_nodes,
        }


def cost_now(config: PlatformConfig, view: NodesView) -> CostNow:
    """Control plane, NAT and load balancers from the config (what ``up`` made); every node that runs at its price
    (spot or on-demand, as the view priced it) with its volume: the system nodes' root volume, a Karpenter node's
    pool data volume."""
    system_group = f"{config.cluster_name}-system"[:63]
    lines = [cost_line("EKS control plane", "standard support", usd.EKS_CONTROL_PLANE_USD_PER_HOUR)]
    if config.aws.vpc_id is None:
        lines.append(cost_line("NAT gateway", "one, with its Elastic IP", usd.nat_gateway_usd_per_hour()))
    balancers = load_balancer_count(config)
    if balancers:
        lines.append(cost_line("load balancer", f"{balancers} x NLB", balancers * usd.NLB_USD_PER_HOUR))
    groups: dict[str, list[float]] = {}
    counts: dict[str, dict[str, int]] = {}
    volumes = 0.0
    unpriced = 0
    for row in view.nodes:
        group = row.group or "other"
        if row.usd_per_hour is None:
            unpriced += 1
        groups.setdefault(group, []).append(row.usd_per_hour or 0.0)
        label = f"{row.instance_type or '?'} {row.capacity_type}"
        counts.setdefault(group, {})[label] = counts.get(group, {}).get(label, 0) + 1
        if group == system_group:
            volumes += usd.gp3_usd_per_hour(config.aws.system_nodes.disk_gib)
        elif row.instance_type:
            # A type the catalog does not know: its volume stays unpriced, like its instance.
            with contextlib.suppress(NotFoundError):
                volumes += node_volume(config, row.instance_type)[1]
    for group, hourly in sorted(groups.items(), key=lambda item: (item[0] != system_group, item[0])):
        detail = ", ".join(f"{n} x {label}" for label, n in sorted(counts[group].items()))
        name = "system nodes" if group == system_group else f"nodes of {group}"
        lines.append(cost_line(name, detail, sum(hourly)))
    if view.nodes:
        lines.append(cost_line("storage", f"EBS volumes of {len(view.nodes)} node(s)", volumes))
    return CostNow(lines, unpriced)
