"""Why Karpenter launches no node for a pending pod, read from the cluster's state (pure functions, no I/O).

Many of Karpenter's node-side failures never reach the pod: with no ready NodePool it publishes no pod event at
all (it logs ``no dynamic nodepools found``), an EC2NodeClass that cannot resolve its AMIs, subnets or security
groups only sets conditions, and a failed launch is an event on a NodeClaim that is deleted right after. So the
rollout watcher reads, in this order:

1. the NodePool the pod selects: missing (or no NodePool at all), or not ``Ready`` because of
   ``NodeClassReady`` / ``ValidationSucceeded`` (a False ``NodeRegistrationHealthy`` does not make it skip the
   pool: inferctl.kube.karpenter_registration reports it without stopping);
2. its EC2NodeClass's conditions: ``AMIsReady``, ``SubnetsReady``, ``SecurityGroupsReady``,
   ``InstanceProfileReady``, ``ValidationSucceeded``, ``Ready``;
3. the pool's ``NoCompatibleInstanceTypes`` events since the pod was created;
4. the pool's NodeClaims: ``Launched`` stuck with a failure reason, ``Registered`` still Unknown past Karpenter's
   registration timeout (karpenter_registration), ``Initialized`` waiting for ``nvidia.com/gpu`` (no device
   plugin);
5. NodeClaim events since the pod was created: ``InsufficientCapacityError`` (also how a missing spot
   service-linked role shows) and ``NodeClassNotReady``.

Upstream facts, all at tag v1.14.1 (no code copied):

- kubernetes-sigs/karpenter ``pkg/apis/v1/nodepool_status.go`` (condition types),
  ``pkg/controllers/nodepool/readiness/controller.go`` (``NodeClassReady`` False with ``NodeClassNotFound`` or
  the EC2NodeClass's own Ready reason and message), ``pkg/controllers/nodepool/validation/controller.go``
  (``NodePoolValidationFailed``), ``pkg/controllers/provisioning/provisioner.go`` (NodePools that are not Ready
  are skipped, each logged ``ignoring nodepool, not ready``; none left -> ``ErrNodePoolsNotFound``, which
  ``Schedule`` logs as ``no dynamic nodepools found`` and publishes as no event),
  ``pkg/controllers/nodeclaim/lifecycle/`` (``events.go``: ``NodeClaim <name> event: <err>`` for
  ``InsufficientCapacityError`` / ``NodeClassNotReady``;
  ``launch.go``: ``Launched`` Unknown with the cloud provider's reason or ``LaunchFailed``;
  ``initialization.go``: ``Initialized`` Unknown ``ResourceNotRegistered``,
  ``Resource "nvidia.com/gpu" was requested but not registered``; ``liveness.go`` and ``registration.go``:
  ``NodeRegistrationHealthy``, read in karpenter_registration).
  ``launch.go`` publishes only the InsufficientCapacityError event at v1.14.1; NodeClassNotReady is defined in
  ``events.go`` and recognised here in case a release publishes it, but the conditions are what v1.14.1 shows.
- aws/karpenter-provider-aws ``pkg/apis/v1/ec2nodeclass_status.go`` (condition types),
  ``pkg/controllers/nodeclass/{ami,subnet,securitygroup,validation}.go`` (reasons ``AMINotFound``,
  ``UnsupportedAlias``, ``SubnetsNotFound``, ``SecurityGroupsNotFound``, ``CreateFleetAuthCheckFailed``...),
  ``pkg/providers/amifamily/bottlerocket.go`` (``DescribeImageQuery`` reads four SSM parameters, ``aws-k8s-<version>``
  and ``aws-k8s-<version>-nvidia``, each for x86_64 and arm64, and skips the ones that do not exist; only when none
  of the four exists is it an error, ``failed to discover any AMIs for alias``, so ``AMIsReady`` stays Unknown and
  ``status.amis`` empty; ``pkg/controllers/nodeclass/ami.go`` sets no condition for that error),
  ``pkg/providers/instance/instance.go`` + ``pkg/errors/errors.go`` (fleet errors: ``insufficient capacity,
  with fleet error(s), InsufficientInstanceCapacity: ...``; ``AuthFailure.ServiceLinkedRoleCreationNotPermitted``
  counts as insufficient capacity).
- awslabs/operatorpkg ``status/condition_set.go``: a root ``Ready`` lists its unhealthy dependents as
  ``AMIsReady=Unknown, ...`` (reason ``ReconcilingDependents`` / ``UnhealthyDependents``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inferctl.config.ami_aliases import AL2023, DEFAULT_AMI_ALIAS
from inferctl.kube.diagnose import Diagnosis, ModelContext, _bigger_instance_hint
from inferctl.kube.karpenter_messages import NO_COMPATIBLE_INSTANCE_TYPES
from inferctl.kube.karpenter_registration import SPOT_SLR_FIX, launch_fix, not_joined
from inferctl.kube.objects import condition, event_time, labels_of, name_of, parse_time, sort_events
from inferctl.kube_names import GPU_RESOURCE, KARPENTER_NODEPOOL

# Reasons of a condition that has simply not been worked on yet (operatorpkg's SetUnknown default and ours).
_PENDING_REASONS = {"", "AwaitingReconciliation", "ReconcilingDependents", "DependenciesNotReady"}
_NODECLASS_CONDITIONS = ("AMIsReady", "SubnetsReady", "SecurityGroupsReady", "InstanceProfileReady")


@dataclass(frozen=True)
class KarpenterState:
    """What the watcher listed: Karpenter's objects and the events of NodeClaims (namespace ``default``)."""

    nodepools: Sequence[Mapping[str, Any]] = ()
    nodeclasses: Sequence[Mapping[str, Any]] = ()
    nodeclaims: Sequence[Mapping[str, Any]] = ()
    claim_events: Sequence[Mapping[str, Any]] = ()
    pool_events: Sequence[Mapping[str, Any]] = ()
    kubernetes_version: str | None = None
    pools_listed: bool = field(default=True)  # False when the cluster has no Karpenter CRDs at all
    now: datetime | None = None  # the watcher's wall clock, for conditions that time out (None: not judged)


def selected_nodepool(pod: Mapping[str, Any]) -> str | None:
    selector = pod.get("spec", {}).get("nodeSelector") or {}
    value = selector.get(KARPENTER_NODEPOOL)
    return str(value) if value else None


def diagnose_node_side(pod: Mapping[str, Any], state: KarpenterState, model: ModelContext) -> Diagnosis | None:
    """The first node-side reason a pod that selects a Karpenter NodePool gets no node, or None."""
    pool_name = selected_nodepool(pod)
    if pool_name is None or not state.pools_listed:
        return None
    pod_name = name_of(pod)
    pool = next((p for p in state.nodepools if name_of(p) == pool_name), None)
    if pool is None:
        return _missing_pool(pod_name, pool_name, state)
    found = _pool_not_ready(pool, state, gpu=_requests_gpus(pod))
    if found is not None:
        return found
    found = _no_compatible_types(pod, pool_name, state)
    if found is not None:
        return found
    claims = [c for c in state.nodeclaims if labels_of(c).get(KARPENTER_NODEPOOL) == pool_name]
    role = node_role(pool, state)
    for claim in claims:
        found = _claim_stuck(claim, pool_name) or not_joined(claim, pool_name, state.now, role)
        if found is not None:
            return found
    return _claim_events(pod, pool_name, state, model)


def _missing_pool(pod_name: str, pool_name: str, state: KarpenterState) -> Diagnosis:
    others = ", ".join(sorted(name_of(p) for p in state.nodepools))
    fix = (
        "apply the platform's NodePools (kubernetes.karpenter: true, or target aws) and run up again, or set "
        "pools.gpu.name to an existing NodePool"
    )
    if not others:
        return Diagnosis(
            "no-nodepool",
            f"Karpenter is installed but the cluster has no NodePool, so no node will be launched for pod "
            f"{pod_name} (Karpenter logs 'no dynamic nodepools found' and publishes no event); {fix}",
            (f"pod {pod_name} selects {KARPENTER_NODEPOOL}={pool_name}", "NodePools: none"),
        )
    return Diagnosis(
        "no-nodepool",
        f"NodePool {pool_name}, which pod {pod_name} selects, does not exist (NodePools: {others}); {fix}",
        (f"pod {pod_name} selects {KARPENTER_NODEPOOL}={pool_name}",),
    )


def _requests_gpus(pod: Mapping[str, Any]) -> bool:
    """Whether the pod asks for GPUs: it waits on the GPU pool, whose nodes run the NVIDIA variant of the AMI."""
    containers = pod.get("spec", {}).get("containers") or []
    return any(
        GPU_RESOURCE in ((c.get("resources") or {}).get(kind) or {})
        for c in containers
        for kind in ("requests", "limits")
    )


def _not_true(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    cond = condition(obj, kind)
    if cond is None or cond.get("status") == "True":
        return None
    return cond


def _false(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition when its status is False: Karpenter's verdict, not a check still under way (Unknown)."""
    cond = condition(obj, kind)
    return cond if cond is not None and cond.get("status") == "False" else None


def _describe(kind: str, cond: Mapping[str, Any]) -> str:
    message = f": {cond['message']}" if cond.get("message") else ""
    return f"{kind}={cond.get('status')} ({cond.get('reason', '')}){message}"


def _because(cond: Mapping[str, Any]) -> str:
    """A condition's reason and message, as a diagnosis quotes them in brackets."""
    return f"{cond.get('reason')}: {cond.get('message', '')}"


def node_role(pool: Mapping[str, Any], state: KarpenterState) -> str | None:
    """The IAM role of the pool's nodes (its EC2NodeClass's ``spec.role``), when the class is listed."""
    ref = pool.get("spec", {}).get("template", {}).get("spec", {}).get("nodeClassRef") or {}
    nodeclass = next((c for c in state.nodeclasses if name_of(c) == ref.get("name")), None)
    role = (nodeclass or {}).get("spec", {}).get("role")
    return str(role) if role else None


# NodePool conditions whose False status makes Karpenter skip the pool: (condition, code, what happened, fix).
# Only ValidationSucceeded and NodeClassReady make up a NodePool's Ready (K pkg/apis/v1/nodepool_status.go);
# NodeClassReady is read with the EC2NodeClass below.
_POOL_FAILURES = (
    (
        "ValidationSucceeded",
        "nodepool-invalid",
        "Karpenter rejected NodePool {pool}",
        "fix the pools section of inferctl.yaml and run up again",
    ),
)


def _pool_not_ready(pool: Mapping[str, Any], state: KarpenterState, *, gpu: bool) -> Diagnosis | None:
    name = name_of(pool)
    ref = pool.get("spec", {}).get("template", {}).get("spec", {}).get("nodeClassRef") or {}
    class_name = str(ref.get("name", ""))
    nodeclass = next((c for c in state.nodeclasses if name_of(c) == class_name), None)
    nodeclass_ready = _not_true(pool, "NodeClassReady")
    if nodeclass is not None:
        found = _nodeclass_not_ready(nodeclass, name, state, gpu=gpu)
        if found is not None:
            return found
    if nodeclass_ready is not None and nodeclass_ready.get("reason") == "NodeClassNotFound":
        return Diagnosis(
            "nodeclass-missing",
            f"NodePool {name} refers to {ref.get('kind', 'EC2NodeClass')} {class_name}, which does not exist, so "
            f"Karpenter skips the pool; apply the platform's EC2NodeClass (kubernetes.karpenter: true, or target "
            "aws) and run up again",
            (f"NodePool {name}: {_describe('NodeClassReady', nodeclass_ready)}",),
        )
    for kind, code, what, fix in _POOL_FAILURES:
        failed = _false(pool, kind)
        if failed is not None:
            return Diagnosis(
                code,
                f"{what.format(pool=name)} ({_because(failed)}); {fix}",
                (f"NodePool {name}: {_describe(kind, failed)}",),
            )
    if nodeclass_ready is not None and nodeclass_ready.get("status") == "False" and nodeclass is None:
        return Diagnosis(
            "nodeclass-not-ready",
            f"NodePool {name}'s node class {class_name} is not ready ({_because(nodeclass_ready)}), so Karpenter "
            "skips the pool; fix it and run up again",
            (f"NodePool {name}: {_describe('NodeClassReady', nodeclass_ready)}",),
        )
    return None


# EC2NodeClass conditions that are False when a selector finds nothing to launch into:
# (condition, code, what it finds, the selector field, whose tags to fix).
_NODECLASS_SELECTORS = (
    ("SubnetsReady", "nodeclass-subnets", "subnet", "subnetSelectorTerms", "the cluster's private subnets"),
    (
        "SecurityGroupsReady",
        "nodeclass-security-groups",
        "security group",
        "securityGroupSelectorTerms",
        "the cluster's node security group",
    ),
)


def _nodeclass_not_ready(
    nodeclass: Mapping[str, Any], pool: str, state: KarpenterState, *, gpu: bool
) -> Diagnosis | None:
    name = name_of(nodeclass)
    if _not_true(nodeclass, "Ready") is None:
        return None
    spec = nodeclass.get("spec", {})
    evidence = tuple(
        f"EC2NodeClass {name}: {_describe(kind, cond)}"
        for kind in (*_NODECLASS_CONDITIONS, "ValidationSucceeded", "Ready")
        if (cond := _not_true(nodeclass, kind)) is not None
    )
    amis = _not_true(nodeclass, "AMIsReady")
    if amis is not None and (amis.get("status") == "False" or not nodeclass.get("status", {}).get("amis")):
        aliases = [str(t["alias"]) for t in spec.get("amiSelectorTerms") or [] if t.get("alias")]
        alias = aliases[0] if aliases else None
        version = state.kubernetes_version
        # The config refuses @latest (a new AMI would replace every node), so the fix names a pinned release.
        setting = f"pools.{'gpu' if gpu else 'cpu'}.ami_alias"
        pinned = f"a pinned alias such as {DEFAULT_AMI_ALIAS} ({setting})"
        if amis.get("status") == "False":
            what = f"its amiSelectorTerms ({alias or 'no alias'}) match no AMI the account can use ({_because(amis)})"
            fix = f"use {pinned}, or fix the AMI selector, and run up again"
        elif alias is not None and alias.startswith(f"{AL2023}@"):
            # AL2023 publishes an image per Kubernetes version and variant (standard, nvidia): config.ami_aliases.
            what = (
                f"AMI alias {alias} resolves to no AMI for this cluster"
                + (f" (Kubernetes {version})" if version else "")
                + f": that AL2023 release has no {'nvidia' if gpu else 'standard'} image for it"
            )
            fix = f"set {setting} to an AL2023 release published for the cluster version, or use {pinned}"
            fix += ", and run up again"
        elif alias is not None:
            # P bottlerocket.go: the error means none of the four variant paths exists, standard or NVIDIA, for
            # either architecture; variants per Kubernetes version: config.ami_aliases.
            k8s = f"aws-k8s-{version or '<cluster version>'}"
            what = (
                f"AMI alias {alias} resolves to no AMI for this cluster"
                + (f" (Kubernetes {version})" if version else "")
                + f": that Bottlerocket release publishes no {k8s} image at all (neither {k8s} nor {k8s}-nvidia, "
                "x86_64 or arm64), so it predates or postdates this Kubernetes version"
            )
            fix = (
                f"set {setting} to a Bottlerocket release that ships the cluster version's "
                f"{'NVIDIA' if gpu else 'standard'} variant (such as {DEFAULT_AMI_ALIAS}, or a later one from its "
                "release notes) and run up again"
            )
        else:
            what = "its amiSelectorTerms resolve to no AMI"
            fix = f"fix the AMI selector (or use {pinned}) and run up again"
        return Diagnosis(
            "nodeclass-amis",
            f"EC2NodeClass {name} (NodePool {pool}) has no AMI, so Karpenter cannot launch nodes: {what}; {fix}",
            evidence,
        )
    for kind, code, what, terms, owner in _NODECLASS_SELECTORS:
        failed = _false(nodeclass, kind)
        if failed is not None:
            return Diagnosis(
                code,
                f"EC2NodeClass {name} (NodePool {pool}) finds no {what} ({failed.get('reason')}): its {terms} "
                f"{_selector(spec.get(terms))} match nothing; tag {owner} with those tags (the discovery tag) and run "
                "up again",
                evidence,
            )
    validation = _false(nodeclass, "ValidationSucceeded")
    if validation is not None and validation.get("reason") not in _PENDING_REASONS:
        return Diagnosis(
            "nodeclass-validation",
            f"EC2NodeClass {name} (NodePool {pool}) failed Karpenter's launch checks ({_because(validation)}); give "
            "Karpenter's controller role the permissions its getting-started policy grants (target aws does) and run "
            "up again",
            evidence,
        )
    profile = _not_true(nodeclass, "InstanceProfileReady")
    if profile is not None:
        return Diagnosis(
            "nodeclass-instance-profile",
            f"EC2NodeClass {name} (NodePool {pool}) has no instance profile for role {spec.get('role', '?')}; "
            "check the node role exists and Karpenter may pass it (iam:PassRole, iam:CreateInstanceProfile), "
            "then run up again",
            evidence,
        )
    return Diagnosis(
        "nodeclass-not-ready",
        f"EC2NodeClass {name} (NodePool {pool}) is not ready, so Karpenter skips the pool; read the conditions "
        "below (kubectl describe ec2nodeclass), fix them and run up again",
        evidence,
    )


def _selector(terms: Any) -> str:
    tags = [f"{k}={v}" for term in terms or [] for k, v in sorted((term.get("tags") or {}).items())]
    ids = [str(term["id"]) for term in terms or [] if term.get("id")]
    return "(" + ", ".join(tags + ids) + ")" if tags or ids else "(none)"


def _claim_stuck(claim: Mapping[str, Any], pool: str) -> Diagnosis | None:
    name = name_of(claim)
    launched = _not_true(claim, "Launched")
    if launched is not None and launched.get("reason") not in _PENDING_REASONS | {"Launched"}:
        fix = launch_fix(str(launched.get("reason")))
        return Diagnosis(
            "launch-failed",
            f"Karpenter cannot launch NodeClaim {name} of NodePool {pool} ({_because(launched)}); {fix}, then "
            "run up again",
            (f"NodeClaim {name}: {_describe('Launched', launched)}",),
        )
    initialized = _not_true(claim, "Initialized")
    if (
        initialized is not None
        and initialized.get("reason") == "ResourceNotRegistered"
        and GPU_RESOURCE in str(initialized.get("message", ""))
    ):
        node = claim.get("status", {}).get("nodeName", "?")
        return Diagnosis(
            "gpu-not-advertised",
            f"node {node} of NodeClaim {name} joined but never registered {GPU_RESOURCE}: the NVIDIA device plugin "
            "is not running there; keep a Bottlerocket NVIDIA AMI (pools.gpu.ami_alias: bottlerocket@...), which "
            "ships it, or install the NVIDIA device plugin DaemonSet, then run up again",
            (f"NodeClaim {name}: {_describe('Initialized', initialized)}",),
        )
    return None


# aws/karpenter-provider-aws v1.14.1 pkg/providers/instance/events.go: a Warning without a reason on the NodeClaim.
_SPOT_SLR = "Attempted to launch a spot instance but failed due to"


def _claim_events(pod: Mapping[str, Any], pool: str, state: KarpenterState, model: ModelContext) -> Diagnosis | None:
    """NodeClaim events of ``pool`` since the pod was created (NodeClaims are named ``<pool>-<suffix>``)."""
    created = parse_time(pod.get("metadata", {}).get("creationTimestamp"))
    relevant = [
        e
        for e in sort_events(state.claim_events)
        if str(e.get("involvedObject", {}).get("name", "")).startswith(f"{pool}-")
        and (
            e.get("reason") in ("InsufficientCapacityError", "NodeClassNotReady") or _SPOT_SLR in str(e.get("message"))
        )
        and (created is None or event_time(e) >= created)
    ]
    if not relevant:
        return None
    last = relevant[-1]
    # A failed NodeClaim is deleted and Karpenter tries again (other types, zones, capacity types): once one of
    # the pool's NodeClaims has launched, or one is newer than the failure, the failure is history.
    failed_at = event_time(last)
    for claim in state.nodeclaims:
        if labels_of(claim).get(KARPENTER_NODEPOOL) != pool or claim.get("metadata", {}).get("deletionTimestamp"):
            continue
        born = parse_time(claim.get("metadata", {}).get("creationTimestamp"))
        if _not_true(claim, "Launched") is None or (born is not None and born > failed_at):
            return None
    message = str(last.get("message", ""))
    evidence = tuple(f"karpenter: {e.get('reason') or 'Warning'}: {e.get('message', '')}" for e in relevant[-3:])
    if last.get("reason") == "NodeClassNotReady":
        return Diagnosis(
            "nodeclass-not-ready",
            f"Karpenter cannot launch nodes for NodePool {pool}: its node class is not ready ({message}); fix the "
            "EC2NodeClass (kubectl describe ec2nodeclass) and run up again",
            evidence,
        )
    if any("ServiceLinkedRoleCreationNotPermitted" in str(e.get("message")) for e in relevant):
        return Diagnosis(
            "spot-service-linked-role",
            f"EC2 refused spot launches for NodePool {pool}: the account has no spot service-linked role and "
            f"Karpenter may not create it; {SPOT_SLR_FIX}, then run up again",
            evidence,
        )
    return Diagnosis(
        "no-capacity",
        f"EC2 has no capacity for NodePool {pool}'s instance types in these zones right now "
        f"(InsufficientCapacityError); {_capacity_fix(model)}, then run up again",
        evidence,
    )


def _since_pod(pod: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    created = parse_time(pod.get("metadata", {}).get("creationTimestamp"))
    return [e for e in sort_events(events) if created is None or event_time(e) >= created]


def _no_compatible_types(pod: Mapping[str, Any], pool: str, state: KarpenterState) -> Diagnosis | None:
    """K scheduling/events.go NoCompatibleInstanceTypes, a Warning on the NodePool itself."""
    events = [
        e
        for e in _since_pod(pod, state.pool_events)
        if e.get("reason") == NO_COMPATIBLE_INSTANCE_TYPES and e.get("involvedObject", {}).get("name") == pool
    ]
    if not events:
        return None
    return Diagnosis(
        "nodepool-no-instance-types",
        f"NodePool {pool}'s requirements filter out every instance type Karpenter knows here (families, capacity "
        "types and zones together), so it can launch nothing; widen pools.gpu.instance_families or "
        "pools.gpu.capacity_types (or pick a region that offers them) and run up again",
        tuple(f"karpenter: NodePool {pool}: {e.get('reason')}: {e.get('message', '')}" for e in events[-1:]),
    )


def _capacity_fix(model: ModelContext) -> str:
    """Sizing's ranked alternatives first: they are known to fit the model."""
    placement = model.placement
    options = []
    if placement is not None:
        options = [
            f"{alt.instance_type} ({alt.tensor_parallel_size} x {alt.gpu_memory_gib:g} GiB {alt.gpu_name})"
            for alt in placement.alternatives[:3]
        ]
    listed = f"; sizing's next options: {', '.join(options)}" if options else ""
    hint = _bigger_instance_hint(model) if not options else ""
    return (
        "allow on-demand if pools.gpu.capacity_types is spot only, add instance families to "
        f"pools.gpu.instance_families, or try again later{listed}{hint}"
    )


__all__ = ["KarpenterState", "diagnose_node_side", "node_role", "selected_nodepool"]
