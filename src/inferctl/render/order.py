"""The order objects are applied in (and deleted in, reversed).

Dependencies first: the namespace, then what pods mount (secrets, config maps, claims), then the node pools
that give them somewhere to run, then policy, exposure and the workloads, and last the monitors whose CRD may be
absent. Deleting in reverse removes the Deployments (and so the GPU pods) before the NodePools, which lets
Karpenter drain and terminate its nodes, and the Services (the gateway's NLB) before the namespace goes. The
gateway's Role and RoleBinding follow its ServiceAccount, before anything that runs as it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

APPLY_ORDER: tuple[str, ...] = (
    "CustomResourceDefinition",
    "Namespace",
    "PriorityClass",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolumeClaim",
    "EC2NodeClass",
    "NodePool",
    "DaemonSet",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "Job",  # the model cache's mirror: before the Deployment that streams what it uploads
    "Deployment",
    "StatefulSet",
    "InterceptorRoute",  # routes to a Service that exists; KEDA then scales a Deployment that exists
    "ScaledObject",
    "PodMonitor",
    "ServiceMonitor",
)

T = TypeVar("T")


def kind_of(obj: Any) -> str:
    """The kind of a manifest dict or of a typed object with a ``kind`` attribute (lightkube resources)."""
    if isinstance(obj, Mapping):
        return str(obj.get("kind", ""))
    return str(getattr(obj, "kind", ""))


def kind_rank(kind: str) -> int:
    """Position of ``kind`` in :data:`APPLY_ORDER`; unknown kinds go after every known one."""
    try:
        return APPLY_ORDER.index(kind)
    except ValueError:
        return len(APPLY_ORDER)


def sort_for_apply(objects: Iterable[T]) -> list[T]:
    """``objects`` in apply order. Stable: objects of one kind keep their given order."""
    return sorted(objects, key=lambda obj: kind_rank(kind_of(obj)))


def sort_for_delete(objects: Iterable[T]) -> list[T]:
    """``objects`` in delete order: the exact reverse of :func:`sort_for_apply`."""
    return list(reversed(sort_for_apply(objects)))
