"""What still holds AWS resources on the cluster after the Kubernetes teardown: the proof ``down --platform``
needs before ``pulumi destroy`` removes the controllers that would clean those resources up.

A Service of type LoadBalancer (any namespace) owns an NLB through the AWS Load Balancer Controller; a Karpenter
NodeClaim owns an EC2 instance; a PersistentVolume of the EBS CSI driver with reclaim policy Delete owns an EBS
volume only that driver deletes (``model_cache: pvc``); a Deployment labelled for this platform is a model (or
the model gateway) still running.
"""

from __future__ import annotations

from typing import Any

from inferctl.aws.storage_names import EBS_CSI_DRIVER
from inferctl.kube.teardown import deleted_with_claim
from inferctl.kube_names import KARPENTER_API
from inferctl.render import LABEL_PLATFORM


def _where(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def remaining_on_cluster(client: Any, platform: str) -> list[str]:
    """One line per object that still holds (or runs) something billable; empty when the teardown is complete."""
    found: list[str] = []
    for service in client.list("v1", "Service", all_namespaces=True):
        if service.get("spec", {}).get("type") == "LoadBalancer":
            found.append(f"Service {_where(service)} (type LoadBalancer: its NLB)")
    for claim in client.list(KARPENTER_API, "NodeClaim", missing_ok=True):
        node = claim.get("status", {}).get("nodeName") or "no node yet"
        found.append(f"NodeClaim {_where(claim)} ({node}: an EC2 instance)")
    for volume in client.list("v1", "PersistentVolume"):
        if (volume.get("spec", {}).get("csi") or {}).get("driver") == EBS_CSI_DRIVER and deleted_with_claim(volume):
            found.append(f"PersistentVolume {_where(volume)} (an EBS volume the EBS CSI driver must delete first)")
    for deployment in client.list("apps/v1", "Deployment", all_namespaces=True, labels={LABEL_PLATFORM: platform}):
        found.append(f"Deployment {_where(deployment)} (of platform {platform}: a model or its gateway)")
    return found
