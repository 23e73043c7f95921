"""Read views of a cluster as data: NodePools as ``kubectl get nodepool`` shows them, and an eks-node-viewer-like
node list with requests against allocatable and what each node costs. Pure: objects and a price function in,
JSON-able dicts out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from inferctl.kube.objects import (
    condition,
    format_age,
    labels_of,
    name_of,
    parse_quantity,
    parse_time,
    pod_requests,
)
from inferctl.kube_names import (
    EKS_NODEGROUP,
    GPU_RESOURCE,
    KARPENTER_CAPACITY_TYPE,
    KARPENTER_NODEPOOL,
    NODE_INSTANCE_TYPE,
    NODE_INSTANCE_TYPE_BETA,
    NODE_ZONE,
)

HOURS_PER_MONTH = 730  # AWS's convention for monthly prices
GIB = 2.0**30

# (instance type, capacity type) -> USD per hour, or None when the catalog does not know the type.
PriceLookup = Callable[[str, str], float | None]


@dataclass(frozen=True)
class NodeRow:
    """One node: what it is, what is requested of it against what it offers, and its price."""

    name: str
    instance_type: str | None
    capacity_type: str
    zone: str | None
    group: str | None
    age: str
    ready: str
    pods: int
    cpu_requested: float
    cpu_allocatable: float
    memory_requested_gib: float
    memory_allocatable_gib: float
    gpu_requested: int
    gpu_allocatable: int
    usd_per_hour: float | None


@dataclass(frozen=True)
class FleetTotals:
    """The fleet: sums of the rows; ``usd_per_hour`` of the priced nodes (``unpriced`` counts the others)."""

    nodes: int
    cpu_requested: float
    cpu_allocatable: float
    memory_requested_gib: float
    memory_allocatable_gib: float
    gpu_requested: int
    gpu_allocatable: int
    usd_per_hour: float
    usd_per_month: float
    unpriced: int


@dataclass(frozen=True)
class NodesView:
    """``inferctl nodes``: the rows and their totals; ``context`` is the kubeconfig context they were read from.
    :meth:`to_dict` is the JSON of ``--output json`` (its keys are a contract)."""

    nodes: list[NodeRow]
    totals: FleetTotals
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {} if self.context is None else {"context": self.context}
        return {**head, "nodes": [asdict(row) for row in self.nodes], "totals": asdict(self.totals)}


def capacity_type(node: Mapping[str, Any]) -> str:
    """``spot`` / ``on-demand`` from Karpenter's or an EKS managed node group's label; ``unknown`` otherwise."""
    labels = labels_of(node)
    if KARPENTER_CAPACITY_TYPE in labels:
        return labels[KARPENTER_CAPACITY_TYPE]
    eks = labels.get("eks.amazonaws.com/capacityType")
    if eks:
        return eks.lower().replace("_", "-")
    return "unknown"


def node_group(node: Mapping[str, Any]) -> str | None:
    """The Karpenter NodePool or EKS node group a node belongs to."""
    labels = labels_of(node)
    return labels.get(KARPENTER_NODEPOOL) or labels.get(EKS_NODEGROUP)


def _ready(obj: Mapping[str, Any]) -> str:
    cond = condition(obj, "Ready")
    return str(cond.get("status")) if cond else "Unknown"


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    created = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return format_age((now - created).total_seconds()) if created else "-"


def nodepool_rows(nodepools: Iterable[Mapping[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    """``kubectl get nodepool``: name, node class, nodes, ready, age."""
    rows = []
    for pool in sorted(nodepools, key=name_of):
        ref = pool.get("spec", {}).get("template", {}).get("spec", {}).get("nodeClassRef", {}) or {}
        nodes = pool.get("status", {}).get("nodes")
        rows.append(
            {
                "name": name_of(pool),
                "nodeclass": ref.get("name"),
                "nodes": int(nodes) if nodes is not None else 0,
                "ready": _ready(pool),
                "age": _age(pool, now),
            }
        )
    return rows


def _round(value: float, digits: int = 2) -> float:
    return round(value + 0.0, digits)


def nodes_view(
    nodes: Sequence[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    *,
    price: PriceLookup,
    now: datetime,
) -> NodesView:
    """Per node: instance type, capacity type, zone, age, CPU/memory/GPU requested vs allocatable, $/h; and totals.

    Requests count running and pending pods bound to the node (finished pods hold nothing), as
    ``kubectl describe node`` does.
    """
    requested: dict[str, dict[str, float]] = {}
    pod_count: dict[str, int] = {}
    for pod in pods:
        node_name = pod.get("spec", {}).get("nodeName")
        if not node_name or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        bucket = requested.setdefault(node_name, {})
        for res, qty in pod_requests(pod).items():
            bucket[res] = bucket.get(res, 0.0) + qty
        pod_count[node_name] = pod_count.get(node_name, 0) + 1
    rows = []
    for node in sorted(nodes, key=lambda n: (node_group(n) or "", name_of(n))):
        name = name_of(node)
        labels = labels_of(node)
        allocatable = node.get("status", {}).get("allocatable") or {}
        used = requested.get(name, {})
        instance = labels.get(NODE_INSTANCE_TYPE) or labels.get(NODE_INSTANCE_TYPE_BETA)
        capacity = capacity_type(node)
        hourly = price(instance, capacity) if instance else None
        rows.append(
            NodeRow(
                name=name,
                instance_type=instance,
                capacity_type=capacity,
                zone=labels.get(NODE_ZONE),
                group=node_group(node),
                age=_age(node, now),
                ready=_ready(node),
                pods=pod_count.get(name, 0),
                cpu_requested=_round(used.get("cpu", 0.0), 3),
                cpu_allocatable=_round(parse_quantity(allocatable.get("cpu")), 3),
                memory_requested_gib=_round(used.get("memory", 0.0) / GIB),
                memory_allocatable_gib=_round(parse_quantity(allocatable.get("memory")) / GIB),
                gpu_requested=int(used.get(GPU_RESOURCE, 0.0)),
                gpu_allocatable=int(parse_quantity(allocatable.get(GPU_RESOURCE))),
                usd_per_hour=hourly,
            )
        )
    return NodesView(nodes=rows, totals=totals(rows))


def totals(rows: Sequence[NodeRow]) -> FleetTotals:
    """Fleet totals; ``usd_per_hour`` sums the nodes with a known price (``unpriced`` counts the others)."""
    priced = [r.usd_per_hour for r in rows if r.usd_per_hour is not None]
    hourly = round(sum(priced), 4)
    return FleetTotals(
        nodes=len(rows),
        cpu_requested=_round(sum(r.cpu_requested for r in rows), 3),
        cpu_allocatable=_round(sum(r.cpu_allocatable for r in rows), 3),
        memory_requested_gib=_round(sum(r.memory_requested_gib for r in rows)),
        memory_allocatable_gib=_round(sum(r.memory_allocatable_gib for r in rows)),
        gpu_requested=sum(r.gpu_requested for r in rows),
        gpu_allocatable=sum(r.gpu_allocatable for r in rows),
        usd_per_hour=hourly,
        usd_per_month=round(hourly * HOURS_PER_MONTH, 2),
        unpriced=len(rows) - len(priced),
    )


__all__ = [
    "HOURS_PER_MONTH",
    "FleetTotals",
    "NodeRow",
    "NodesView",
    "PriceLookup",
    "capacity_type",
    "node_group",
    "nodepool_rows",
    "nodes_view",
    "totals",
]
