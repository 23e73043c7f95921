"""Why a pod's generic ephemeral volume is not bound: pure rules over its PersistentVolumeClaim and the claim's events.

The mirror Job downloads into a generic ephemeral volume (render/model_cache.py). When the volume cannot be made,
its pod stays Pending exactly as if no node had room, so the wait must read the claim, not only the pod. The
signals, copied as data from upstream (no code):

* The claim of volume ``v`` in pod ``p`` is named ``p-v`` (kubernetes, ``staging/src/k8s.io/component-helpers/
  storage/ephemeral/ephemeral.go`` ``VolumeClaimName``, kubernetes/kubernetes at abd6065).
* kube-controller-manager's PV controller (``persistentvolume-controller``; reasons in ``pkg/controller/volume/
  events/event.go``, kubernetes/kubernetes at 2e09081; texts in ``pkg/controller/volume/persistentvolume/
  pv_controller.go``, read as vendored by openshift/microshift at cf5f6c9 because kubernetes/kubernetes is too
  large to fetch here):

  - a class that does not exist binds immediately (``IsDelayBindingMode`` is false for a missing class,
    ``component-helpers/storage/volume/helpers.go``) and ``provisionClaim`` fails on the class lister: Warning
    ``ProvisioningFailed`` with the API's NotFound text, ``storageclass.storage.k8s.io "<name>" not found``, on
    every resync;
  - no class at all (none named, no default class in the cluster): Normal ``FailedBinding``, "no persistent
    volumes available for this claim and no storage class is set";
  - a class whose provisioner is external (CSI): Normal ``ExternalProvisioning`` ("waiting for a volume to be
    created ... by [the] external provisioner ..."; the wording changed across releases, so only the reason is
    read) after annotating the claim with ``volume.kubernetes.io/storage-provisioner`` (and its beta twin);
  - ``WaitForFirstConsumer`` / ``WaitForPodScheduled``: the class binds on the pod's node, which the scheduler has
    not chosen yet: a scheduling wait, not a volume problem.

* The CSI external-provisioner (kubernetes-csi/external-provisioner at 0688604, v6.3.0+56; its vendored
  ``sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller/controller.go``): Normal ``Provisioning``
  "External provisioner is provisioning volume for claim ..." before each attempt, Warning ``ProvisioningFailed``
  with the driver's own error (a gRPC status text), or "Volume provisioning failed with infeasible error. Retries
  will be delayed. ..." for InvalidArgument; the provisioner retries both.

A missing class or no class at all never clears by itself in practice: the wait stops after a minute. A failing or
silent provisioner may recover, so those stop the wait only after five minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inferctl.kube.diagnose import Diagnosis
from inferctl.kube.objects import event_source, name_of, sort_events

CLASS_NOT_FOUND = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found')
NO_CLASS = "no storage class is set"
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")
# The reasons that say where provisioning stands (PV controller and external provisioner), newest wins.
_PROVISIONING = {
    "ProvisioningFailed",
    "FailedBinding",
    "ExternalProvisioning",
    "Provisioning",
    "ProvisioningSucceeded",
    "WaitForFirstConsumer",
    "WaitForPodScheduled",
}
_FROM_PROVISIONER = {"Provisioning", "ProvisioningSucceeded"}
STORAGE_CLASS_FIX = (
    "set kubernetes.storage_class to a StorageClass the cluster has ('kubectl get storageclass' lists them) "
    "and run again"
)
# Seconds a diagnosis must hold before it stops the wait.
SETTLE_S = {
    "volume-class-missing": 60.0,
    "volume-no-class": 60.0,
    "volume-provisioning-failed": 300.0,
    "volume-provisioner-silent": 300.0,
}


@dataclass(frozen=True)
class ClaimWait:
    """An unbound volume: what the wait shows, and the diagnosis that stops it once held for ``SETTLE_S``."""

    progress: str
    diagnosis: Diagnosis | None = None


def ephemeral_claim_names(pod: Mapping[str, Any]) -> list[str]:
    """The PersistentVolumeClaims of the pod's generic ephemeral volumes."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return [f"{name_of(pod)}-{volume['name']}" for volume in volumes if "ephemeral" in volume]


def provisioner_of(claim: Mapping[str, Any]) -> str | None:
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    return next((str(annotations[key]) for key in PROVISIONER_ANNOTATIONS if annotations.get(key)), None)


def _evidence(claim: str, event: Mapping[str, Any]) -> str:
    return f"PersistentVolumeClaim {claim}: {event_source(event)}: {event.get('reason')}: {event.get('message')}"


def diagnose_claim(
    claim: Mapping[str, Any] | None, events: Iterable[Mapping[str, Any]], *, what: str
) -> ClaimWait | None:
    """Why ``claim`` (a volume of ``what``, e.g. "the mirror Job llama-mirror") is not bound; None when it is bound,
    not created yet, or waiting for its pod's node."""
    if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
        return None
    name = name_of(claim)
    ordered = [e for e in sort_events(events) if e.get("reason") in _PROVISIONING]
    if not ordered:
        return None
    last = ordered[-1]
    reason, message = str(last.get("reason")), str(last.get("message") or "")
    evidence = (_evidence(name, last),)
    provisioner = provisioner_of(claim) or "the class's provisioner"
    missing = CLASS_NOT_FOUND.search(message) if reason == "ProvisioningFailed" else None
    if missing:
        return ClaimWait(
            f"volume {name}: StorageClass {missing.group(1)} not found",
            Diagnosis(
                "volume-class-missing",
                f"{what} cannot get its volume: StorageClass {missing.group(1)!r} does not exist in the cluster; "
                + STORAGE_CLASS_FIX,
                evidence,
            ),
        )
    if reason == "FailedBinding" and NO_CLASS in message:
        return ClaimWait(
            f"volume {name}: no StorageClass",
            Diagnosis(
                "volume-no-class",
                f"{what} cannot get its volume: kubernetes.storage_class is unset and the cluster has no default "
                "StorageClass; " + STORAGE_CLASS_FIX,
                evidence,
            ),
        )
    if reason == "ProvisioningFailed":
        return ClaimWait(
            f"volume {name}: {provisioner} failed: {message.splitlines()[0][:100] if message else reason}",
            Diagnosis(
                "volume-provisioning-failed",
                f"{what} cannot get its volume: {provisioner} fails to create it; fix the provisioner (on aws: the "
                "EBS CSI driver add-on and its role) or " + STORAGE_CLASS_FIX,
                tuple(_evidence(name, e) for e in ordered if e.get("reason") == "ProvisioningFailed")[-3:],
            ),
        )
    if reason == "ExternalProvisioning":
        heard = any(e.get("reason") in _FROM_PROVISIONER for e in ordered)
        return ClaimWait(
            f"volume {name}: waiting for {provisioner}",
            None
            if heard
            else Diagnosis(
                "volume-provisioner-silent",
                f"{what} cannot get its volume: no provisioner acts on it ({provisioner} is not running in the "
                "cluster, or not registered); install it (on aws: the EBS CSI driver add-on) or " + STORAGE_CLASS_FIX,
                evidence,
            ),
        )
    if reason == "Provisioning":
        return ClaimWait(f"volume {name}: {provisioner} is creating it")
    return None  # bound a moment ago, or waiting for its pod's node (WaitForFirstConsumer, WaitForPodScheduled)


__all__ = ["SETTLE_S", "ClaimWait", "diagnose_claim", "ephemeral_claim_names", "provisioner_of"]
