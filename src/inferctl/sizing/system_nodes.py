"""The system node group sized from what runs on it: ``aws.system_nodes.instance_types: auto`` picks the cheapest
instance type of which ``desired_size`` nodes (two, across two zones, by default) hold every system pod
(:mod:`inferctl.sizing.system_pods`) with :data:`HEADROOM` to spare and the pods' anti-affinity respected.

**What a node offers pods.** The group runs Amazon Linux 2023 (``aws/eks.py`` ``system_ami_type``), whose nodeadm
sets the kubelet's reservations (awslabs/amazon-eks-ami v20260724, ``nodeadm/internal/kubelet/config.go``):
``kubeReserved.cpu`` 6% of the first core, 1% of the second, 0.5% of the third and fourth and 0.25% of the rest
(``getCPUMillicoresToReserve``); ``kubeReserved.memory`` 11 MiB x maxPods + 255 MiB (``getMemoryMebibytesToReserve``);
``evictionHard`` ``memory.available: 100Mi``; maxPods = ENIs x (IPv4 addresses per ENI - 1) + 2
(``eni_max_pods.go`` ``calculateStandardMaxPods``), the catalog's ``max_pods``. The memory the kernel reports is
less than the instance's nominal memory: Karpenter subtracts 7.5% for it (``settings.vmMemoryOverheadPercent:
0.075`` in its 1.14.1 chart values), and so do we. Allocatable is the smaller of that formula and the catalog's own
allocatable column (Karpenter's computation, which for some types is lower still).

**Headroom.** After every system pod is placed, each node keeps 20% of its allocatable CPU and memory free: room
for a rolling update's surge pod (the largest system pod, Karpenter's 500m / 1Gi, fits in it on the types ``auto``
picks), for the HTTP add-on's interceptor to add replicas under load (KEDA scales it from 3), and for the
allowances being estimates.

**Placement** imitates the scheduler's outcome, erring on the full side: DaemonSets on every node; a Deployment
with required hostname anti-affinity one pod per node (more replicas than nodes do not schedule); preferred
anti-affinity spreads over distinct nodes first; the rest go, largest first, to the least-loaded node that holds
them. A pod counts its budget (request, or allowance where it requests nothing), so what fits here also fits the
scheduler, which counts requests only.

**Which types ``auto`` considers**: current-generation (5 and later) general-purpose, compute- and
memory-optimised families (m, c, r) priced in the packaged catalog, no bare metal. Not burstable types (t3, t4g):
in unlimited mode, their default, CPU above the baseline is billed per vCPU-hour, so their hourly price is not what
they cost; nor ``-flex`` types, whose full CPU is not always there. Name any type to use it. Graviton (arm64) types
only when every image on the system nodes is published for arm64; the choice says which way it went and why.
``auto`` ranks by the snapshot's us-east-1 on-demand prices, so the same config always makes the same node group
(``--live-prices`` prices that choice, it does not change it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from inferctl.catalog.instances import InstanceType, all_instances, get_instance
from inferctl.config.models import PlatformConfig
from inferctl.errors import PlanError
from inferctl.sizing.system_pods import ZERO, Resources, SystemPod, arm64_blockers, system_pods, total_budget

HEADROOM = 0.20
VM_MEMORY_OVERHEAD = 0.075  # Karpenter 1.14.1 settings.vmMemoryOverheadPercent
EVICTION_HARD_MEMORY_MIB = 100  # nodeadm evictionHard memory.available
AUTO = "auto"
AUTO_CATEGORIES = ("c", "m", "r")
AUTO_MIN_GENERATION = 5
# nodeadm's CPU reservation: (up to this many millicores, basis points of them reserved).
_CPU_RESERVATION_STEPS = ((1000, 600), (2000, 100), (4000, 50), (None, 25))


def kube_reserved_cpu_m(vcpu: int) -> int:
    """nodeadm's ``getCPUMillicoresToReserve`` for ``vcpu`` cores (integer arithmetic, as in the Go source)."""
    total, start, reserved = vcpu * 1000, 0, 0
    for end, basis_points in _CPU_RESERVATION_STEPS:
        top = total if end is None else min(total, end)
        if total > start:
            reserved += (top - start) * basis_points // 10000
        start = end if end is not None else total
    return reserved


def kube_reserved_memory_mib(max_pods: int) -> int:
    return 11 * max_pods + 255


def allocatable(instance: InstanceType) -> Resources:
    """What pods may request on one AL2023 node of ``instance`` (the module docstring's formula)."""
    cpu = instance.vcpu * 1000 - kube_reserved_cpu_m(instance.vcpu)
    capacity = int(instance.memory_mib * (1 - VM_MEMORY_OVERHEAD))
    memory = capacity - kube_reserved_memory_mib(instance.max_pods) - EVICTION_HARD_MEMORY_MIB
    if instance.allocatable_cpu_millicores:
        cpu = min(cpu, instance.allocatable_cpu_millicores)
    if instance.allocatable_memory_mib:
        memory = min(memory, instance.allocatable_memory_mib)
    return Resources(cpu, memory)


@dataclass
class NodeLoad:
    """One node's share: the budgets and requests of the pods placed on it."""

    budget: Resources = ZERO
    requests: Resources = ZERO
    pods: list[str] = field(default_factory=list)

    def add(self, pod: SystemPod) -> None:
        self.budget = self.budget + pod.budget
        self.requests = self.requests + pod.requests
        self.pods.append(pod.name)


@dataclass(frozen=True)
class SystemFit:
    """``count`` nodes of ``instance`` with every system pod placed on them (or not: ``unplaced``)."""

    instance: InstanceType
    count: int
    allocatable: Resources
    nodes: tuple[NodeLoad, ...]
    unplaced: tuple[str, ...]

    @property
    def schedules(self) -> bool:
        """Every pod has a node: requests within allocatable, pods within maxPods, anti-affinity kept."""
        return not self.unplaced and all(len(n.pods) <= self.instance.max_pods for n in self.nodes)

    @property
    def within_headroom(self) -> bool:
        limit = self.usable
        return self.schedules and all(
            n.budget.cpu_m <= limit.cpu_m and n.budget.memory_mib <= limit.memory_mib for n in self.nodes
        )

    @property
    def usable(self) -> Resources:
        """Allocatable less the headroom: what the system pods may take of one node."""
        return Resources(
            int(self.allocatable.cpu_m * (1 - HEADROOM)), int(self.allocatable.memory_mib * (1 - HEADROOM))
        )

    @property
    def busiest(self) -> tuple[float, float]:
        """The highest share of allocatable CPU and of memory any node's pods take."""
        cpu = max(n.budget.cpu_m for n in self.nodes) / self.allocatable.cpu_m
        memory = max(n.budget.memory_mib for n in self.nodes) / self.allocatable.memory_mib
        return cpu, memory


def _load(node: NodeLoad, alloc: Resources, extra: Resources) -> float:
    """The node's fuller share (CPU or memory) once ``extra`` is added."""
    return max(
        (node.budget.cpu_m + extra.cpu_m) / max(alloc.cpu_m, 1),
        (node.budget.memory_mib + extra.memory_mib) / max(alloc.memory_mib, 1),
    )


def _holds(node: NodeLoad, alloc: Resources, pod: SystemPod) -> bool:
    after = node.budget + pod.budget
    return after.cpu_m <= alloc.cpu_m and after.memory_mib <= alloc.memory_mib


def place(pods: Sequence[SystemPod], instance: InstanceType, count: int) -> SystemFit:
    """Place ``pods`` on ``count`` nodes of ``instance`` (the module docstring's rules)."""
    alloc = allocatable(instance)
    nodes = [NodeLoad() for _ in range(count)]
    unplaced: list[str] = []
    for pod in (p for p in pods if p.kind == "DaemonSet"):
        for node in nodes:
            if _holds(node, alloc, pod):
                node.add(pod)
            else:
                unplaced.append(pod.name)
    order = {"required": 0, "preferred": 1, "none": 2}
    deployments = sorted(
        (p for p in pods if p.kind == "Deployment"),
        key=lambda p: (order[p.spread], -(p.budget.cpu_m / alloc.cpu_m + p.budget.memory_mib / alloc.memory_mib)),
    )
    for pod in deployments:
        holding: set[int] = set()
        for _ in range(pod.replicas):
            candidates = [i for i, node in enumerate(nodes) if _holds(node, alloc, pod)]
            if pod.spread != "none":
                apart = [i for i in candidates if i not in holding]
                candidates = apart if apart or pod.spread == "required" else candidates
            if not candidates:
                unplaced.append(pod.name)
                continue
            best = min(candidates, key=lambda i: (_load(nodes[i], alloc, pod.budget), i))
            nodes[best].add(pod)
            holding.add(best)
    return SystemFit(instance, count, alloc, tuple(nodes), tuple(unplaced))


def _generation(family: str) -> int:
    found = re.match(r"^[a-z]+(\d+)", family)
    return int(found.group(1)) if found else 0


@cache
def _auto_candidates() -> tuple[InstanceType, ...]:
    """The catalog's types ``auto`` may pick (module docstring), cheapest first."""
    chosen = [
        inst
        for inst in all_instances()
        if not inst.has_gpu
        and inst.category in AUTO_CATEGORIES
        and _generation(inst.family) >= AUTO_MIN_GENERATION
        and "flex" not in inst.family
        and not inst.name.endswith(".metal")
        and "metal-" not in inst.name
        and inst.on_demand_usd_per_hour is not None
        and inst.max_pods > 0
    ]
    return tuple(sorted(chosen, key=lambda inst: (inst.on_demand_usd_per_hour or 0.0, inst.name)))


@dataclass(frozen=True)
class SystemNodeChoice:
    """The system node group: ``count`` x ``instance``, how its pods fit, and why this type."""

    instance: InstanceType
    count: int
    fit: SystemFit
    auto: bool
    pods: tuple[SystemPod, ...]
    reason: str
    arch_note: str
    alternatives: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def instance_types(self) -> list[str]:
        return [self.instance.name]


def _describe_need(pods: Sequence[SystemPod], count: int) -> str:
    need = total_budget(list(pods), count)
    return f"{need.cpu_m / 1000:.2f} vCPU and {need.memory_mib / 1024:.1f} GiB"


def choose_system_nodes(config: PlatformConfig) -> SystemNodeChoice:
    """``aws.system_nodes``: the ``auto`` pick, or the named type (its first, which EKS launches for an on-demand
    group) with how the pods fit it. PlanError when the pods do not schedule on the named type."""
    settings = config.aws.system_nodes
    pods = tuple(system_pods(config))
    count = settings.desired_size
    blockers = arm64_blockers(list(pods))
    if settings.instance_types == AUTO:
        return _auto(pods, count, blockers)
    names = list(settings.instance_types)
    instance = get_instance(names[0])
    fit = place(pods, instance, count)
    need = _describe_need(pods, count)
    if not fit.schedules:
        missing = ", ".join(sorted(set(fit.unplaced))) or "pods over the node's maxPods"
        raise PlanError(
            f"aws.system_nodes: {count} x {instance.name} cannot hold the system pods ({need} in all; "
            f"{missing} would stay Pending); set aws.system_nodes.instance_types to auto or a larger type"
        )
    warnings = []
    if not fit.within_headroom:
        cpu, memory = fit.busiest
        warnings.append(
            f"aws.system_nodes: the system pods take up to {cpu:.0%} of a {instance.name}'s CPU and {memory:.0%} "
            f"of its memory, over the {1 - HEADROOM:.0%} inferctl leaves room for; consider instance_types: auto"
        )
    if instance.arch == "arm64" and blockers:
        warnings.append(
            f"aws.system_nodes: {instance.name} is arm64 but {', '.join(blockers)} is not known to be published "
            "for arm64; its pods may not start there"
        )
    return SystemNodeChoice(
        instance=instance,
        count=count,
        fit=fit,
        auto=False,
        pods=pods,
        reason=f"named in aws.system_nodes.instance_types; the system pods take {need}",
        arch_note=f"{instance.arch}, as named",
        warnings=tuple(warnings),
    )


def _auto(pods: tuple[SystemPod, ...], count: int, blockers: list[str]) -> SystemNodeChoice:
    fitting = [fit for inst in _auto_candidates() if (fit := place(pods, inst, count)).within_headroom]
    if not fitting:
        raise PlanError(
            f"aws.system_nodes: no {count} nodes of one catalog type hold the system pods "
            f"({_describe_need(pods, count)}) with {HEADROOM:.0%} headroom; raise aws.system_nodes.desired_size"
        )
    x86 = [fit for fit in fitting if fit.instance.arch == "amd64"]
    arm = [fit for fit in fitting if fit.instance.arch == "arm64"]
    usable = fitting if not blockers else x86
    chosen = usable[0]
    if not blockers:
        arch_note = (
            f"{chosen.instance.arch}: every image on the system nodes is published for arm64, so Graviton types "
            "were considered"
        )
    elif arm and arm[0].instance.on_demand_usd_per_hour and chosen.instance.on_demand_usd_per_hour:
        cheaper = arm[0].instance
        arch_note = (
            f"x86: Graviton {cheaper.name} (${cheaper.on_demand_usd_per_hour:.4g}/h) would fit, but "
            f"{', '.join(blockers)} is not known to be published for arm64"
        )
    else:
        arch_note = f"x86: {', '.join(blockers)} is not known to be published for arm64"
    price = chosen.instance.on_demand_usd_per_hour or 0.0
    return SystemNodeChoice(
        instance=chosen.instance,
        count=count,
        fit=chosen,
        auto=True,
        pods=pods,
        reason=(
            f"the cheapest of {len(usable)} types of which {count} nodes hold the system pods' "
            f"{_describe_need(pods, count)} with {HEADROOM:.0%} headroom, ${price:.4g}/h each"
        ),
        arch_note=arch_note,
        alternatives=tuple(fit.instance.name for fit in usable[1:4]),
    )


def system_instance_types(config: PlatformConfig) -> list[str]:
    """The node group's instance types: ``auto`` resolved, or the named list as given."""
    settings = config.aws.system_nodes
    if settings.instance_types == AUTO:
        return choose_system_nodes(config).instance_types
    return list(settings.instance_types)
