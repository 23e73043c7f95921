"""Pure helpers over Kubernetes objects as plain dicts: names, quantities, times, conditions, events.

Everything in ``inferctl.kube`` that decides (readiness, diagnosis, views) works on the JSON shape the API server
returns, so it is testable without a client. The apply and delete order is :mod:`inferctl.render.order`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from inferctl.kube_names import CREATED_BY
from inferctl.render.meta import SYSTEM_NAMESPACES, Object

# Namespaces inferctl never deletes, whatever their annotations say.
PROTECTED_NAMESPACES = SYSTEM_NAMESPACES
# On a namespace inferctl created (value: the platform's name); teardown deletes no other namespace.


def identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): what makes an object the same object."""
    return (str(obj.get("apiVersion")), str(obj.get("kind")), namespace_of(obj) or "", name_of(obj))


def name_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str | None:
    ns = obj.get("metadata", {}).get("namespace")
    return str(ns) if ns else None


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def created_by(obj: Mapping[str, Any]) -> str | None:
    """The platform that created this namespace (its ``inferctl.io/created-by`` annotation), if inferctl did."""
    value = (obj.get("metadata", {}).get("annotations") or {}).get(CREATED_BY)
    return str(value) if value else None


def describe(obj: Mapping[str, Any]) -> str:
    """``Deployment inferctl/demo`` (kind, namespace, name) for messages."""
    ns = namespace_of(obj)
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{name_of(obj)}"


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition of type ``kind``, or None."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    cond = condition(obj, kind)
    return cond is not None and cond.get("status") == "True"


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp from the API (``2026-07-20T10:00:00Z``, micro-times too) as an aware datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_age(seconds: float) -> str:
    """kubectl's short age: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 120 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def event_time(event: Mapping[str, Any]) -> datetime:
    """When an event last happened (``lastTimestamp``, ``eventTime``, or creation), for ordering."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        parsed = parse_time(event.get(key))
        if parsed is not None:
            return parsed
    return parse_time(event.get("metadata", {}).get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def sort_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Events oldest first."""
    return sorted((dict(e) for e in events), key=event_time)


def event_source(event: Mapping[str, Any]) -> str:
    """The component that emitted an event (``karpenter``, ``default-scheduler``, ``kubelet``...)."""
    return str(event.get("reportingComponent") or event.get("source", {}).get("component") or "")


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def parse_quantity(value: str | float | None) -> float:
    """A Kubernetes quantity (``3920m``, ``14162Mi``, ``1``) in base units (cores, bytes, devices)."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(value.strip())
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def pod_requests(pod: Mapping[str, Any]) -> dict[str, float]:
    """What a pod asks the scheduler for, as kubectl describe node counts it.

    Per resource: the larger of the sum over containers and the largest init container (init containers run
    one at a time, before the others).
    """
    spec = pod.get("spec", {})
    total: dict[str, float] = {}
    for container in spec.get("containers") or []:
        for res, qty in (container.get("resources", {}).get("requests") or {}).items():
            total[res] = total.get(res, 0.0) + parse_quantity(qty)
    for container in spec.get("initContainers") or []:
        for res, qty in (container.get("resources", {}).get("requests") or {}).items():
            total[res] = max(total.get(res, 0.0), parse_quantity(qty))
    return total


def container_statuses(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Init container statuses, then container statuses."""
    status = pod.get("status", {})
    return [dict(c) for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])]


def first_container_name(pod: Mapping[str, Any]) -> str | None:
    containers: Sequence[Mapping[str, Any]] = pod.get("spec", {}).get("containers") or []
    return str(containers[0]["name"]) if containers else None


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    return condition_true(pod, "Ready")


__all__ = [
    "CREATED_BY",
    "PROTECTED_NAMESPACES",
    "Object",
    "condition",
    "condition_true",
    "container_statuses",
    "created_by",
    "describe",
    "event_source",
    "event_time",
    "first_container_name",
    "format_age",
    "identity",
    "labels_of",
    "name_of",
    "namespace_of",
    "parse_quantity",
    "parse_time",
    "pod_is_ready",
    "pod_requests",
    "sort_events",
]
