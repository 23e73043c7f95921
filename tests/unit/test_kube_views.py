"""The pure views: node rows, totals and NodePool rows from realistic objects and a price function."""

from __future__ import annotations

from datetime import UTC, datetime

from inferctl.kube.views import capacity_type, nodepool_rows, nodes_view
from tests.support.kube import BASE_TIME, make_node, make_nodepool, make_pod

NOW = datetime(2026, 7, 20, 12, 0, 0, tzinfo=UTC)
PRICES = {("m5.xlarge", "on-demand"): 0.192, ("g5.xlarge", "spot"): 0.4}


def price(instance: str, capacity: str) -> float | None:
    return PRICES.get((instance, capacity))


def test_finished_pods_hold_nothing_and_unknown_types_are_unpriced() -> None:
    nodes = [
        make_node("a", "m5.xlarge", nodegroup="system", created=BASE_TIME.isoformat()),
        make_node("b", "x9.mystery", nodegroup="system", capacity_type="spot"),
    ]
    pods = [
        make_pod("run", "default", {}, node="a", phase="Running", requests={"cpu": "250m", "memory": "512Mi"}),
        make_pod("done", "default", {}, node="a", phase="Succeeded", requests={"cpu": "2", "memory": "4Gi"}),
        make_pod("pending", "default", {}, requests={"cpu": "8"}),  # not bound to a node yet
    ]
    view = nodes_view(nodes, pods, price=price, now=NOW)
    a, b = view.nodes
    assert (a.name, a.pods, a.cpu_requested, a.memory_requested_gib, a.age) == ("a", 1, 0.25, 0.5, "2h")
    assert (b.capacity_type, b.usd_per_hour) == ("spot", None)
    assert view.totals.usd_per_hour == 0.192 and view.totals.unpriced == 1
    assert view.totals.usd_per_month == round(0.192 * 730, 2)
    # The JSON of --output json keeps its keys (a contract for scripts).
    as_json = view.to_dict()
    assert list(as_json) == ["nodes", "totals"]
    assert list(as_json["nodes"][0]) == [
        "name", "instance_type", "capacity_type", "zone", "group", "age", "ready", "pods", "cpu_requested",
        "cpu_allocatable", "memory_requested_gib", "memory_allocatable_gib", "gpu_requested", "gpu_allocatable",
        "usd_per_hour",
    ]  # fmt: skip
    assert list(as_json["totals"]) == [
        "nodes", "cpu_requested", "cpu_allocatable", "memory_requested_gib", "memory_allocatable_gib",
        "gpu_requested", "gpu_allocatable", "usd_per_hour", "usd_per_month", "unpriced",
    ]  # fmt: skip


def test_capacity_type_from_karpenter_or_eks_labels() -> None:
    assert capacity_type(make_node("k", "g5.xlarge", nodepool="g5", capacity_type="spot")) == "spot"
    assert capacity_type(make_node("e", "m5.xlarge", nodegroup="ng", capacity_type="spot")) == "spot"
    assert capacity_type(make_node("o", "m5.xlarge", nodegroup="ng")) == "on-demand"
    assert capacity_type(make_node("u", "m5.xlarge")) == "unknown"


def test_nodepool_rows_like_kubectl_get_nodepool() -> None:
    pools = [make_nodepool("x86-cpu-karpenter", nodes=0, ready=False), make_nodepool("g5-gpu-karpenter", nodes=2)]
    rows = nodepool_rows(pools, now=NOW)
    assert rows == [
        {"name": "g5-gpu-karpenter", "nodeclass": "g5-gpu-karpenter", "nodes": 2, "ready": "True", "age": "26h"},
        {"name": "x86-cpu-karpenter", "nodeclass": "x86-cpu-karpenter", "nodes": 0, "ready": "False", "age": "26h"},
    ]
