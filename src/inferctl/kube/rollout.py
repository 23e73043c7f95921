"""Waiting for Deployments the way kubectl does, and saying what each pod is doing meanwhile.

Readiness follows ``kubectl rollout status``: the controller has observed the latest generation, every replica
is updated, no old replica is left, and every updated replica is available; ``ProgressDeadlineExceeded`` fails.
While waiting, each pod's phase is reported live: unschedulable -> waiting for a Karpenter node (NodeClaim,
instance type, capacity type; how long a launched node has not joined) -> pulling image -> loading model (the server
log's last line) -> ready. Fatal states stop the wait with a :mod:`~inferctl.kube.diagnose` paragraph instead of a
hang. What Karpenter still works on is a warning, not a stop: a NodePool's ``NodeRegistrationHealthy=False`` and a
node slow to join (:mod:`~inferctl.kube.karpenter_registration`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inferctl.errors import OperationError, UserError
from inferctl.kube.client import KubeClient
from inferctl.kube.diagnose import Diagnosis, ModelContext, diagnose_gpu_not_advertised, diagnose_pod, is_gpu_node
from inferctl.kube.karpenter_registration import join_warning, registration_health, still_unhealthy, waiting_to_join
from inferctl.kube.karpenter_state import KarpenterState, diagnose_node_side, node_role, selected_nodepool
from inferctl.kube.objects import (
    condition,
    condition_true,
    container_statuses,
    first_container_name,
    format_age,
    labels_of,
    name_of,
    pod_is_ready,
    sort_events,
)
from inferctl.kube.wait import ClusterWait
from inferctl.kube_names import (
    KARPENTER_API,
    KARPENTER_CAPACITY_TYPE,
    KARPENTER_NODEPOOL,
    NODE_INSTANCE_TYPE,
    NODE_ZONE,
)
from inferctl.poller import DEFAULT_POLLER, Poller
from inferctl.progress import Reporter

# Scheduling verdicts can flicker while freshly applied NodePools become ready: act on one only if it persists.
SCHEDULING_GRACE_S = 60.0
# Diagnoses that must hold for this many scheduling graces before they stop the wait; the rest stop it at once.
# A new GPU node's device plugin needs a minute or two to register; the others settle within a minute
# (Karpenter re-plans every few seconds, a NodeClass reconciles in seconds, a runtime error may clear itself).
SETTLE_GRACES = {
    "gpu-not-advertised": 3,
    "nodepool-limits": 1,
    "no-nodepool": 1,
    "no-instance-type": 1,
    "container-create": 1,
    "nodeclass-missing": 1,
    "nodeclass-not-ready": 1,
    "nodeclass-amis": 1,
    "nodeclass-subnets": 1,
    "nodeclass-security-groups": 1,
    "nodeclass-validation": 1,
    "nodeclass-instance-profile": 1,
    "nodepool-invalid": 1,
    "nodepool-no-instance-types": 1,
    "launch-failed": 1,
    "no-capacity": 1,
    "spot-service-linked-role": 1,
}
_NOMINATED = re.compile(r"nodeclaim/([A-Za-z0-9.-]+)")


@dataclass(frozen=True)
class RolloutState:
    done: bool
    message: str


def rollout_state(deployment: Mapping[str, Any]) -> RolloutState:
    """kubectl's rules for a Deployment rollout. Raises OperationError past the progress deadline."""
    name = name_of(deployment)
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    generation = int(deployment.get("metadata", {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return RolloutState(False, f"waiting for deployment {name} spec update to be observed")
    progressing = condition(deployment, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        raise OperationError(f"deployment {name} exceeded its progress deadline: {progressing.get('message', '')}")
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted:
        return RolloutState(False, f"{updated} of {wanted} new replicas of {name} updated")
    if total > updated:
        return RolloutState(False, f"{total - updated} old replicas of {name} pending termination")
    if available < updated:
        return RolloutState(False, f"{available} of {updated} updated replicas of {name} available")
    return RolloutState(True, f"deployment {name} successfully rolled out")


@dataclass(frozen=True)
class PodProgress:
    phase: str  # unschedulable | waiting for a Karpenter node | pulling image | starting | loading model | ready
    detail: str = ""
    claim_state: tuple[str, str] | None = None  # (NodeClaim, requested | launched | registered) while waiting on one


def nominated_nodeclaim(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The NodeClaim Karpenter nominated for a pod (``Pod should schedule on: nodeclaim/NAME``)."""
    for event in reversed(sort_events(events)):
        if event.get("reason") == "Nominated":
            found = _NOMINATED.search(str(event.get("message", "")))
            if found:
                return found.group(1)
    return None


def nodeclaim_state(claim: Mapping[str, Any]) -> str:
    if condition_true(claim, "Registered"):
        return "registered"
    return "launched" if condition_true(claim, "Launched") else "requested"


def describe_nodeclaim(claim: Mapping[str, Any], now: datetime | None = None) -> str:
    """``NodeClaim g5-gpu-karpenter-x7k2p launched: g5.xlarge spot in us-east-1a``; with ``now``, a launched one
    whose node has not joined for a minute says so (``launched 3m ago, node not joined yet``)."""
    labels = labels_of(claim)
    state = nodeclaim_state(claim)
    waited = waiting_to_join(claim, now)
    if state == "registered":
        state = "registered, initialising"
    elif waited is not None and waited >= 60:
        state = f"launched {format_age(waited)} ago, node not joined yet"
    parts = [labels.get(NODE_INSTANCE_TYPE, "instance type pending")]
    if labels.get(KARPENTER_CAPACITY_TYPE):
        parts.append(labels[KARPENTER_CAPACITY_TYPE])
    zone = labels.get(NODE_ZONE)
    return f"NodeClaim {name_of(claim)} {state}: {' '.join(parts)}" + (f" in {zone}" if zone else "")


def pod_progress(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    nodeclaims: Sequence[Mapping[str, Any]] = (),
    last_log_line: str | None = None,
    now: datetime | None = None,
) -> PodProgress:
    """Where one pod is on its way to ready."""
    if pod_is_ready(pod):
        return PodProgress("ready")
    ordered = sort_events(events)
    scheduled = condition(pod, "PodScheduled")
    if scheduled is None or scheduled.get("status") != "True":
        claim_name = nominated_nodeclaim(ordered)
        claim = next((c for c in nodeclaims if name_of(c) == claim_name), None) if claim_name else None
        if claim is not None:
            return PodProgress(
                "waiting for a Karpenter node", describe_nodeclaim(claim, now), (name_of(claim), nodeclaim_state(claim))
            )
        if claim_name:
            return PodProgress("waiting for a Karpenter node", f"NodeClaim {claim_name} nominated")
        failed = [e for e in ordered if e.get("reason") == "FailedScheduling"]
        reason = str(failed[-1].get("message", "")) if failed else str((scheduled or {}).get("message", ""))
        return PodProgress("unschedulable", _short(reason))
    for status in container_statuses(pod):
        state = status.get("state", {})
        if "running" in state and not status.get("ready"):
            return PodProgress("loading model", _short(last_log_line or "server starting"))
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") in ("ContainerCreating", "PodInitializing"):
            pulls = [e for e in ordered if e.get("reason") in ("Pulling", "Pulled")]
            if pulls and pulls[-1].get("reason") == "Pulling":
                return PodProgress("pulling image", str(status.get("image", "")))
            return PodProgress("starting", waiting.get("reason", ""))
    pulls = [e for e in ordered if e.get("reason") in ("Pulling", "Pulled")]
    if pulls and pulls[-1].get("reason") == "Pulling":
        return PodProgress("pulling image", _short(str(pulls[-1].get("message", ""))))
    return PodProgress("starting", str(pod.get("status", {}).get("phase", "")))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class WatchedDeployment:
    """A Deployment to wait for and the model it serves."""

    name: str
    model: ModelContext


class RolloutWatcher(ClusterWait):
    """Polls Deployments, their pods, events and NodeClaims until all are rolled out, diagnosed, or timed out."""

    def __init__(
        self,
        client: KubeClient,
        reporter: Reporter,
        *,
        timeout_s: float,
        poller: Poller = DEFAULT_POLLER,
        karpenter: bool = True,
        scheduling_grace_s: float = SCHEDULING_GRACE_S,
        gpu_pool: str | None = None,
        kubernetes_version: str | None = None,
    ) -> None:
        """``gpu_pool``: the GPU NodePool's name, so its nodes count as GPU nodes for the device-plugin check.
        ``kubernetes_version``: the configured one, named in the AMI-alias diagnosis when the API server's
        ``/version`` does not answer."""
        super().__init__(client, reporter, timeout_s=timeout_s, poller=poller)
        self.karpenter = karpenter
        self.scheduling_grace_s = scheduling_grace_s
        self._first_seen: dict[tuple[str, str], float] = {}
        self._announced: set[tuple[str, str]] = set()  # (NodeClaim, state) already shown
        self.gpu_pool = gpu_pool
        self._gpu_nodes: list[Mapping[str, Any]] | None = None
        self.kubernetes_version = kubernetes_version
        self._karpenter_state: KarpenterState | None = None
        self._karpenter_served: bool | None = None
        self._pools: Sequence[Mapping[str, Any]] = ()
        self._claims: Sequence[Mapping[str, Any]] = ()
        self._warned: set[str] = set()  # warnings given once: a pool's registration health, a slow node
        self._unhealthy_pools: set[str] = set()

    def wait(self, deployments: Sequence[WatchedDeployment]) -> None:
        start = self.poller.clock()
        pending = list(deployments)
        last = PodProgress("waiting for the rollout")
        while pending:
            for watched in list(pending):
                progress = self._check(watched)
                if progress is None:
                    pending.remove(watched)
                    self.reporter.info(f"model {watched.model.name}: ready")
                else:
                    last = progress
                    prefix = f"{watched.model.name}: " if len(deployments) > 1 else ""
                    self.reporter.phase(progress.phase, prefix + progress.detail)
            if not pending:
                break
            if self.poller.clock() - start > self.timeout_s:
                raise OperationError(
                    f"the rollout did not finish within kubernetes.rollout_timeout_s={self.timeout_s:g}s "
                    f"(last: {last.phase}{': ' + last.detail if last.detail else ''}); see 'inferctl logs' and "
                    "'kubectl describe pod', or raise the timeout",
                )
            self.poller.pause()
        self._report_recovered_pools()
        self.reporter.phase("ready")

    def _check(self, watched: WatchedDeployment) -> PodProgress | None:
        """None when rolled out; else the progress of its first pod that is not ready. Raises on a diagnosis."""
        deployment = self.client.get("apps/v1", "Deployment", watched.name)
        if deployment is None:
            raise OperationError(f"deployment {watched.name} vanished during the rollout; run up again")
        state = rollout_state(deployment)
        if state.done:
            return None
        match = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
        pods = self.client.list("v1", "Pod", labels=match)
        if not pods:
            return PodProgress("waiting for pods", state.message)
        claims = self.client.list(KARPENTER_API, "NodeClaim", missing_ok=True) if self.karpenter else []
        pools = self.client.list(KARPENTER_API, "NodePool", missing_ok=True) if self.karpenter else []
        self._gpu_nodes = None  # listed once per poll, and only when a pod waits for a node
        self._karpenter_state = None
        self._pools = pools
        self._claims = claims
        shown: PodProgress | None = None  # the first pod not ready yet (every pod is checked for a diagnosis)
        for pod in sorted(pods, key=name_of):
            if pod.get("metadata", {}).get("deletionTimestamp"):
                continue  # an old replica on its way out
            progress = self._pod(pod, watched, claims, pools)
            if progress.phase != "ready" and shown is None:
                shown = progress
        return shown or PodProgress("waiting for the rollout", state.message)

    def _pod(
        self,
        pod: Mapping[str, Any],
        watched: WatchedDeployment,
        claims: Sequence[Mapping[str, Any]],
        pools: Sequence[Mapping[str, Any]],
    ) -> PodProgress:
        name = name_of(pod)
        events = self.client.list("v1", "Event", fields={"involvedObject.name": name})
        statuses = container_statuses(pod)
        needs_log = any(
            "running" in s.get("state", {})
            or (s.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
            for s in statuses
        )
        container = first_container_name(pod)
        lines = self.client.tail(name, container=container) if needs_log else []
        diagnosis = diagnose_pod(pod, events, model=watched.model, log_lines=lines, nodepools=pools)
        unplaced = not pod.get("spec", {}).get("nodeName")
        if diagnosis is None and unplaced and self.karpenter and selected_nodepool(pod):
            diagnosis = diagnose_node_side(pod, self._karpenter(), watched.model)
        if diagnosis is None and not pod.get("spec", {}).get("nodeName"):
            diagnosis = diagnose_gpu_not_advertised(pod, events, self._unschedulable_gpu_nodes())
        if diagnosis is not None:
            self._raise_when_settled(name, diagnosis)
        if unplaced and self.karpenter and selected_nodepool(pod):
            self._warn_registration(pod)
        progress = pod_progress(pod, events, claims, lines[-1] if lines else None, self.poller.now())
        if progress.claim_state is not None and progress.claim_state not in self._announced:
            self._announced.add(progress.claim_state)
            if progress.claim_state[1] == "launched":
                self.reporter.info(progress.detail)
        return progress

    def _warn_registration(self, pod: Mapping[str, Any]) -> None:
        """Once each: the selected pool's NodeRegistrationHealthy=False (with its reason), and a node of the pool
        that has not joined minutes after launch (what usually causes it). Karpenter still works on both."""
        state = self._karpenter()
        pool = next((p for p in state.nodepools if name_of(p) == selected_nodepool(pod)), None)
        if pool is None:
            return
        pool_name = name_of(pool)
        role = node_role(pool, state)
        health = registration_health(pool, role)
        if health is not None:
            self._unhealthy_pools.add(pool_name)
            key = f"pool/{pool_name}/{(condition(pool, 'NodeRegistrationHealthy') or {}).get('lastTransitionTime')}"
            if key not in self._warned:
                self._warned.add(key)
                self.reporter.warn(health)
        for claim in state.nodeclaims:
            if labels_of(claim).get(KARPENTER_NODEPOOL) != pool_name or f"claim/{name_of(claim)}" in self._warned:
                continue
            warning = join_warning(claim, state.now, role)
            if warning is not None:
                self._warned.add(f"claim/{name_of(claim)}")
                self.reporter.warn(warning)

    def _report_recovered_pools(self) -> None:
        """After the rollout: a pool warned about that still shows the old failures is worth a line, not a worry."""
        if not self._unhealthy_pools:
            return
        for pool in self.client.list(KARPENTER_API, "NodePool", missing_ok=True):
            if name_of(pool) in self._unhealthy_pools and (note := still_unhealthy(pool)) is not None:
                self.reporter.info(note)

    def _karpenter(self) -> KarpenterState:
        """Karpenter's objects and NodeClaim events, listed once per poll and only for a pod without a node.

        Events of cluster-scoped objects (NodeClaims, NodePools) live in namespace ``default``: client-go's event
        recorder (``tools/record/event.go``, ``makeEvent``) puts an object without a namespace there. A user who
        may not read them (or EC2NodeClasses) gets the diagnoses the rest allows."""
        if self._karpenter_state is None:
            if self._karpenter_served is None:
                self._karpenter_served = self.client.serves(KARPENTER_API, "NodePool")
                if self._karpenter_served:  # the cluster's own answer beats the config's
                    self.kubernetes_version = self.client.server_version() or self.kubernetes_version
            served = self._karpenter_served
            self._karpenter_state = KarpenterState(
                nodepools=self._pools,
                nodeclasses=self._nodeclasses() if served else [],
                nodeclaims=self._claims,
                claim_events=self._cluster_events("NodeClaim") if served else [],
                pool_events=self._cluster_events("NodePool") if served else [],
                kubernetes_version=self.kubernetes_version,
                pools_listed=served,
                now=self.poller.now(),
            )
        return self._karpenter_state

    def _cluster_events(self, kind: str) -> list[dict[str, Any]]:
        try:
            return self.client.list("v1", "Event", namespace="default", fields={"involvedObject.kind": kind})
        except UserError:  # 403: namespace-scoped credentials
            return []

    def _nodeclasses(self) -> list[dict[str, Any]]:
        try:
            return self.client.list("karpenter.k8s.aws/v1", "EC2NodeClass", missing_ok=True)
        except UserError:
            return []

    def _unschedulable_gpu_nodes(self) -> list[Mapping[str, Any]]:
        if self._gpu_nodes is None:
            nodes = self.client.list("v1", "Node")
            self._gpu_nodes = [n for n in nodes if is_gpu_node(n, self.gpu_pool)]
        return self._gpu_nodes

    def _raise_when_settled(self, pod: str, diagnosis: Diagnosis) -> None:
        # Scheduling verdicts can be transient (fresh NodePools, a device plugin still registering): they must hold.
        grace = SETTLE_GRACES.get(diagnosis.reason)
        if grace is None:
            raise diagnosis.error()
        first = self._first_seen.setdefault((pod, diagnosis.reason), self.poller.clock())
        if self.poller.clock() - first >= grace * self.scheduling_grace_s:
            raise diagnosis.error()


__all__ = [
    "PodProgress",
    "RolloutState",
    "RolloutWatcher",
    "WatchedDeployment",
    "describe_nodeclaim",
    "nodeclaim_state",
    "nominated_nodeclaim",
    "pod_progress",
    "rollout_state",
]
