"""Deleting what inferctl applied, in reverse kind order, and waiting until nothing billable is left.

The waits are the point: a Service of type LoadBalancer keeps its finalizer until the cloud load balancer is
gone, pods take their grace period, a PersistentVolumeClaim's volume (reclaim policy Delete) is deleted by its
provisioner after the claim (on EKS the EBS CSI driver, which must still run then), a Job's pods and their generic
ephemeral volumes (the mirror Job's download: claims named ``<pod>-<volume>``, deleted with the pod) go too, and
with ``platform`` the
NodePools' NodeClaims and nodes must drain and terminate (the workshop's ``terraform destroy`` was blocked by
exactly these). Every step treats "already gone" as success, so running it again is safe. A namespace is deleted
only if this platform created it and nobody else's pods run there.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferctl.errors import OperationError, UserError
from inferctl.kube.objects import (
    PROTECTED_NAMESPACES,
    Object,
    created_by,
    describe,
    identity,
    labels_of,
    name_of,
    namespace_of,
)
from inferctl.kube.wait import ClusterWait
from inferctl.kube_names import JOB_NAME_LABEL, KARPENTER_API, KARPENTER_NODEPOOL, LABEL_PLATFORM
from inferctl.render.order import sort_for_delete
from inferctl.render.secrets import secret_owner

# What the live line shows first when several things are still going (the slow, billable ones).
_PRIORITY = {
    "waiting for pods to stop": 0,
    "waiting for the load balancer to be deleted": 1,
    "waiting for Karpenter nodes to terminate": 2,
    "waiting for volumes to be deleted": 3,
}


def deleted_with_claim(volume: Object) -> bool:
    """A PersistentVolume its provisioner deletes once its claim is gone (reclaim policy Delete: the Kubernetes
    API's PersistentVolumeSpec ``persistentVolumeReclaimPolicy``, the default of dynamically provisioned volumes);
    a Retain volume stays by design."""
    return bool(volume.get("spec", {}).get("persistentVolumeReclaimPolicy") == "Delete")


class Teardown(ClusterWait):
    def run(
        self, objects: Sequence[Object], *, platform_objects: Sequence[Object] = (), platform: bool = False
    ) -> None:
        """Delete ``objects`` in reverse apply order, waiting for each stage to be really gone.

        ``platform_objects`` (the Karpenter pools and their helpers) are removed only with ``platform``, after
        the workload's pods are gone, and the wait covers their NodeClaims and nodes. Namespaces go last, and
        only those :func:`_owned_namespaces` allows.
        """
        platform_ids = {identity(o) for o in platform_objects}
        ordered = sort_for_delete(objects)
        workload = [o for o in ordered if o.get("kind") != "Namespace" and identity(o) not in platform_ids]
        workload = [o for o in workload if o.get("kind") != "Secret" or self._owned_secret(o)]
        self._delete(workload)
        self._wait_gone(workload)
        if platform:
            pools = sort_for_delete(platform_objects)
            self._delete(pools)
            self._wait_gone(pools, pool_names=[name_of(o) for o in pools if o.get("kind") == "NodePool"])
        namespaces = self._owned_namespaces([o for o in ordered if o.get("kind") == "Namespace"])
        self._delete(namespaces)
        self._wait_gone(namespaces)

    def _owned_secret(self, secret: Object) -> bool:
        """Only a Secret inferctl created (render.secrets' ownership label) is deleted; a user's stays."""
        live = self.client.get("v1", "Secret", name_of(secret), namespace_of(secret))
        if live is None:
            return False
        if secret_owner(live) != labels_of(secret).get(LABEL_PLATFORM):
            self.reporter.info(f"{describe(secret)} was not created by inferctl: keeping it")
            return False
        return True

    def _owned_namespaces(self, namespaces: Sequence[Object]) -> list[Object]:
        """The namespaces safe to delete: created by this platform (``inferctl.io/created-by``), not a system
        one, and with no pods left of anyone else (deleting a namespace deletes everything in it)."""
        owned: list[Object] = []
        for namespace in namespaces:
            name = name_of(namespace)
            if name in PROTECTED_NAMESPACES:
                continue
            try:
                live = self.client.get("v1", "Namespace", name)
            except UserError:
                self.reporter.info(f"Namespace {name}: cannot read it, keeping it")
                continue
            if live is None:
                owned.append(namespace)  # already gone: reported as such
                continue
            if created_by(live) != labels_of(namespace).get(LABEL_PLATFORM):
                self.reporter.info(f"Namespace {name} was not created by inferctl: keeping it")
                continue
            pods = self.client.list("v1", "Pod", namespace=name)
            if pods:
                names = ", ".join(name_of(p) for p in pods[:3])
                self.reporter.warn(f"Namespace {name}: keeping it, {len(pods)} other pod(s) run there ({names})")
                continue
            owned.append(namespace)
        return owned

    def _delete(self, objects: Sequence[Object]) -> None:
        for obj in objects:
            self.reporter.phase("deleting", describe(obj))
            if not self.client.delete(str(obj["apiVersion"]), str(obj["kind"]), name_of(obj), namespace_of(obj)):
                self.reporter.info(f"{describe(obj)}: already gone")
            if obj.get("kind") == "Job":  # the API orphans a Job's pods by default: they would outlive down
                for pod in self.client.list(
                    "v1", "Pod", namespace=namespace_of(obj), labels={JOB_NAME_LABEL: name_of(obj)}
                ):
                    self.client.delete("v1", "Pod", name_of(pod), namespace_of(obj))

    def _wait_gone(self, objects: Sequence[Object], *, pool_names: Sequence[str] = ()) -> None:
        """Poll until the objects, their pods, and the pools' NodeClaims and nodes are all gone."""
        start = self.poller.clock()
        while True:
            left = self._remaining(objects, pool_names)
            if not left:
                return
            phase, detail = min(left, key=lambda item: _PRIORITY.get(item[0], len(_PRIORITY)))
            more = f" (+{len(left) - 1} more)" if len(left) > 1 else ""
            self.reporter.phase(phase, detail + more)
            if self.poller.clock() - start > self.timeout_s:
                still = "; ".join(d for _, d in left[:5])
                raise OperationError(
                    f"teardown did not finish within kubernetes.delete_timeout_s={self.timeout_s:g}s "
                    f"(still present: {still}); run down again (it is safe) or check the controllers",
                )
            self.poller.pause()

    def _remaining(self, objects: Sequence[Object], pool_names: Sequence[str]) -> list[tuple[str, str]]:
        left: list[tuple[str, str]] = []
        bound = [(namespace_of(o), name_of(o)) for o in objects if o.get("kind") == "PersistentVolumeClaim"]
        # A Job's pods are named <job>-<suffix>, so their ephemeral volumes' claims <job>-<suffix>-<volume>.
        job_claims = [(namespace_of(o), f"{name_of(o)}-") for o in objects if o.get("kind") == "Job"]
        if bound or job_claims:
            for volume in self.client.list("v1", "PersistentVolume"):
                spec = volume.get("spec", {})
                ref = spec.get("claimRef") or {}
                where, claim_name = ref.get("namespace"), str(ref.get("name") or "")
                ours = (where, claim_name) in bound or any(
                    where == ns and claim_name.startswith(prefix) for ns, prefix in job_claims
                )
                if ours and deleted_with_claim(volume):
                    claim = f"{ref.get('namespace')}/{ref.get('name')}"
                    left.append(("waiting for volumes to be deleted", f"PersistentVolume {name_of(volume)} ({claim})"))
        for obj in objects:
            current = self.client.get(str(obj["apiVersion"]), str(obj["kind"]), name_of(obj), namespace_of(obj))
            if current is not None:
                finalizers = current.get("metadata", {}).get("finalizers") or []
                if obj.get("kind") == "Service" and finalizers:
                    left.append(("waiting for the load balancer to be deleted", f"{describe(obj)} ({finalizers[0]})"))
                else:
                    left.append((f"waiting for {obj['kind']} to go", describe(obj)))
            if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
                selector = obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
                if obj.get("kind") == "Job":  # the Job controller labels its pods; a rendered Job has no selector
                    selector = {JOB_NAME_LABEL: name_of(obj)}
                if selector:
                    pods = self.client.list("v1", "Pod", namespace=namespace_of(obj), labels=selector)
                    if pods:
                        names = ", ".join(name_of(p) for p in pods[:3])
                        left.append(("waiting for pods to stop", f"{len(pods)} pod(s) of {name_of(obj)}: {names}"))
        for pool in pool_names:
            selector = {KARPENTER_NODEPOOL: pool}
            claims = self.client.list(KARPENTER_API, "NodeClaim", labels=selector, missing_ok=True)
            nodes = self.client.list("v1", "Node", labels=selector)
            if claims or nodes:
                left.append(
                    (
                        "waiting for Karpenter nodes to terminate",
                        f"NodePool {pool}: {len(claims)} NodeClaim(s), {len(nodes)} node(s) left",
                    )
                )
        return left


__all__ = ["Teardown"]
