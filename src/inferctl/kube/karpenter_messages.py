"""Karpenter v1.14.1's scheduling messages, parsed into what went wrong (pure, no I/O).

The formats (facts read at tag v1.14.1 of kubernetes-sigs/karpenter; no code copied):

- ``pkg/controllers/provisioning/scheduling/events.go``: a pod that cannot be placed gets a Warning
  ``FailedScheduling`` event from component ``karpenter`` reading ``Failed to schedule pod, <err>``.
- ``scheduler.go`` (addToNewNodeClaim): ``<err>`` joins one error per NodePool with ``; `` (go.uber.org/multierr).
  NodePool limits are structured errors, ``serrors.Wrap(..., "NodePool", klog.KRef("", name))``, which
  awslabs/operatorpkg's ``serrors.Error.Error()`` prints as ``<message> (NodePool=<name>)``:
  ``all available instance types exceed limits for nodepool (NodePool=gpu)`` and
  ``node limits have been exhausted for nodepool (NodePool=gpu)``. The other errors do not name their NodePool.
- ``nodeclaim.go`` (``InstanceTypeFilterError.Error``): the "no instance type ..." family,
  ``no instance type <which criteria failed>, requirements=<reqs>, resources=<json>``; ``CanAdd`` adds
  ``incompatible requirements, <err>``; ``pkg/scheduling/taints.go`` adds
  ``did not tolerate taint (taint=<key>[=<value>]:<effect>)``.
- ``scheduler.go`` (add): ``nodepool requirements filtered out all available instance types`` when every
  NodePool's requirements left no instance type; each such NodePool also gets a Warning event
  ``NoCompatibleInstanceTypes`` (events.go) on the NodePool itself.
- ``provisioner.go``: with no ready NodePool ``NewScheduler`` returns ``ErrNodePoolsNotFound`` and ``Schedule``
  logs ``no dynamic nodepools found`` and publishes *no* event, so that case is read from the NodePools' state
  (:mod:`inferctl.kube.karpenter_state`), never from a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferctl.kube_names import KARPENTER_NODEPOOL

FAILED_TO_SCHEDULE_PREFIX = "Failed to schedule pod, "
NO_COMPATIBLE_INSTANCE_TYPES = "NoCompatibleInstanceTypes"
ALL_POOLS_FILTERED = "nodepool requirements filtered out all available instance types"

_POOL_LIMIT = re.compile(
    r"(all available instance types exceed limits for nodepool|node limits have been exhausted for nodepool)"
    r" \(NodePool=([^),\s]+)\)"
)
_NO_INSTANCE_TYPE = re.compile(r"^(no instance type [^=]*?), requirements=(.*), resources=(.*)$")
# nodeclaim.go's criteria phrases -> the criterion that excludes every type on its own, which decides the fix.
# When several do, the pod's requirements come first: they are what inferctl rendered.
_CRITERIA = {
    "no instance type met the scheduling requirements or had enough resources or had a required offering": (
        "requirements"
    ),
    "no instance type met the scheduling requirements or had enough resources": "requirements",
    "no instance type met the scheduling requirements or had a required offering": "requirements",
    "no instance type had enough resources or had a required offering": "resources",
    "no instance type met all requirements": "requirements",
    "no instance type has enough resources": "resources",
    "no instance type has the required offering": "offering",
    "no instance type which met the scheduling requirements and had enough resources, had a required offering": (
        "offering"
    ),
    "no instance type which had enough resources and the required offering met the scheduling requirements": (
        "requirements"
    ),
    "no instance type which met the scheduling requirements and the required offering had the required resources": (
        "resources"
    ),
    "no instance type met the requirements/resources/offering tuple": "other",
}
_TAINT = re.compile(r"did not tolerate taint \(taint=([^)]+)\)")


@dataclass(frozen=True)
class SchedulingFailure:
    """One NodePool's reason, as Karpenter printed it, sorted into a kind the fixes can act on.

    ``kind``: ``limits`` (``pool`` is named), ``resources`` (no type is big enough), ``requirements`` (the pod's
    node requirements exclude every type), ``offering`` (no capacity type / zone offering is available),
    ``incompatible`` (labels or keys do not match the pool), ``taint``, ``all-filtered`` or ``other``.
    """

    kind: str
    text: str
    pool: str | None = None
    requirements: str = ""
    resources: str = ""


def split_failed_scheduling(message: str) -> list[str] | None:
    """The per-NodePool errors of a Karpenter ``FailedScheduling`` message, or None if it is not one."""
    if not message.startswith(FAILED_TO_SCHEDULE_PREFIX):
        return None
    body = message[len(FAILED_TO_SCHEDULE_PREFIX) :]
    parts: list[str] = []
    for part in (p.strip() for p in body.split("; ")):
        # "incompatible requirements, <err>" may wrap several key errors, joined with "; " as well.
        if part.startswith("key ") and parts and parts[-1].startswith("incompatible requirements"):
            parts[-1] += "; " + part
        elif part:
            parts.append(part)
    return parts


def classify(part: str) -> SchedulingFailure:
    """Sort one error of a ``FailedScheduling`` message into a :class:`SchedulingFailure`."""
    limit = _POOL_LIMIT.search(part)
    if limit:
        return SchedulingFailure("limits", part, pool=limit.group(2))
    found = _NO_INSTANCE_TYPE.match(part)
    if found:
        criteria, requirements, resources = found.groups()
        kind = _CRITERIA.get(criteria, "other")
        return SchedulingFailure(kind, part, requirements=requirements, resources=resources)
    if part.startswith("incompatible requirements") or "does not have known values" in part:
        return SchedulingFailure("incompatible", part)
    if _TAINT.search(part):
        return SchedulingFailure("taint", part)
    if part.startswith(ALL_POOLS_FILTERED):
        return SchedulingFailure("all-filtered", part)
    return SchedulingFailure("other", part)


def failures(message: str) -> list[SchedulingFailure] | None:
    parts = split_failed_scheduling(message)
    return None if parts is None else [classify(part) for part in parts]


def other_pool_only(failure: SchedulingFailure, pool: str) -> bool:
    """An error that only says the pod belongs to another NodePool (its ``karpenter.sh/nodepool`` selector)."""
    if failure.kind != "incompatible":
        return False
    return KARPENTER_NODEPOOL in failure.text and f"In [{pool}]" in failure.text


__all__ = [
    "ALL_POOLS_FILTERED",
    "FAILED_TO_SCHEDULE_PREFIX",
    "NO_COMPATIBLE_INSTANCE_TYPES",
    "SchedulingFailure",
    "classify",
    "failures",
    "other_pool_only",
    "split_failed_scheduling",
]
