"""What a target's ``plan()`` says ``up`` would do, as data: one type per target kind, each with :meth:`to_dict`
(the JSON shown before ``up`` asks for confirmation). Its keys, their order and their values are a contract,
pinned in tests/unit/test_target_plans.py. Where :meth:`to_dict` starts from ``asdict``, the order of the fields
is the order of the keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LocalPlan:
    """What ``up`` would start: the model gateway (the platform's one endpoint, on ``host:port``) and one vLLM server
    per replica of each model behind it, with their exact command lines (ports the OS picks read "(a free port)")."""

    target: str
    platform: str
    host: str
    port: int | str  # "(a free port)" when the config leaves it to the OS
    api_key_required: bool
    gateway_command: list[str]
    servers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlannedPlacement:
    """A model's instance type and engine limits as sizing chose them."""

    model: str
    instance_type: str
    gpus: int
    max_model_len: int
    on_demand_usd_per_hour: float


@dataclass(frozen=True)
class PlannedObject:
    """A Kubernetes object ``up`` would apply (``namespace`` None: cluster-scoped)."""

    kind: str
    name: str
    namespace: str | None


@dataclass(frozen=True)
class KubernetesPlan:
    """The placements and the objects ``up`` would apply, and the warnings about Karpenter's disruption."""

    target: str
    platform: str
    context: str
    namespace: str
    placements: list[PlannedPlacement]
    objects: list[PlannedObject]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        # Each warning as an object of its own (a key given again keeps its place).
        return {**asdict(self), "warnings": [{"warning": text} for text in self.warnings]}


@dataclass(frozen=True)
class PlannedResource:
    """An AWS resource of the Pulumi program: its type token and name."""

    type: str
    name: str


@dataclass(frozen=True)
class AwsPlan:
    """The Pulumi program's offline plan (``infrastructure``: its summary, components, notes, endpoint access and
    outputs, without the resource list), the workload's placements and objects, and every resource by type and
    name."""

    infrastructure: dict[str, Any]
    workload: KubernetesPlan
    resources: list[PlannedResource]

    @property
    def placements(self) -> list[PlannedPlacement]:
        return self.workload.placements

    @property
    def objects(self) -> list[PlannedObject]:
        return self.workload.objects

    def to_dict(self) -> dict[str, Any]:
        workload = self.workload.to_dict()
        return {
            **self.infrastructure,
            "placements": workload["placements"],
            "objects": workload["objects"],
            "resources": [asdict(r) for r in self.resources],
        }


TargetPlan = LocalPlan | KubernetesPlan | AwsPlan
