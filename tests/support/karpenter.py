"""Karpenter v1.14.1's signals, as test data: event messages, condition types/reasons/messages, object shapes.

Every string here was read from the upstream source at tag v1.14.1 (facts only, no code); the file is named
beside each. Where a message embeds text from outside Karpenter (an EC2 error message), that part is marked.

- K = kubernetes-sigs/karpenter @ v1.14.1
- P = aws/karpenter-provider-aws @ v1.14.1
- O = awslabs/operatorpkg, the version K's go.mod pins (v0.0.0-20260708223819-4da4c353c5fa). That commit is not in
  the stored snapshot (newest there: 7a13865, 2026-02-17); ``serrors/serrors.go`` there prints
  ``<message> (<key>=<value>, ...)`` with sorted keys and has been unchanged since a0c5d2f (2025-04-15), and
  ``status/condition_set.go`` since ac79e83 (2025-08-27).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.support.kube import make_event, make_nodeclaim, make_nodepool, ts

GPU_POOL = "g5-gpu-karpenter"
CPU_POOL = "x86-cpu-karpenter"

# K pkg/controllers/provisioning/scheduling/events.go PodFailedToScheduleEvent: "Failed to schedule pod, %s".
# K scheduler.go addToNewNodeClaim: one error per NodePool, multierr.Combine -> joined with "; ".
# K scheduler.go: serrors.Wrap(fmt.Errorf("all available instance types exceed limits for nodepool"), "NodePool",
#   klog.KRef("", name)); O serrors.Error.Error(): "%s (%s)" of "key=value" pairs; klog ObjectRef prints its name.
# K nodeclaim.go CanAdd: fmt.Errorf("incompatible requirements, %w", err); K pkg/scheduling/requirements.go
#   badKeyError: "key %s, %s not in %s" (incoming = the pod's requirement, existing = the NodePool's);
#   requirement.go String(): "<key> In [<values>]".
LIMITS_EXCEEDED = (
    f"Failed to schedule pod, all available instance types exceed limits for nodepool (NodePool={GPU_POOL}); "
    f"incompatible requirements, key karpenter.sh/nodepool, karpenter.sh/nodepool In [{GPU_POOL}] not in "
    f"karpenter.sh/nodepool In [{CPU_POOL}]"
)
# K scheduler.go: serrors.Wrap(fmt.Errorf("node limits have been exhausted for nodepool"), "NodePool", ...).
NODE_LIMIT_EXHAUSTED = f"Failed to schedule pod, node limits have been exhausted for nodepool (NodePool={GPU_POOL})"

# K nodeclaim.go InstanceTypeFilterError.Error(): "no instance type met all requirements, requirements=%s,
# resources=%s"; requirements are sorted Requirement strings joined with ", " (a Gt bound prints as
# "Exists >=<n+1>", requirement.go); resources are pretty.Concise (JSON) of the pod's requests plus daemon overhead.
_REQS = (
    "karpenter.k8s.aws/instance-family In [g5], karpenter.k8s.aws/instance-gpu-memory Exists >=81920, "
    f"karpenter.sh/capacity-type In [on-demand spot], karpenter.sh/nodepool In [{GPU_POOL}], "
    "kubernetes.io/arch In [amd64], kubernetes.io/os In [linux]"
)
_RES = '{"cpu":"3180m","memory":"12788Mi","nvidia.com/gpu":"1","pods":"6"}'
NO_TYPE_MEETS_REQUIREMENTS = (
    f"Failed to schedule pod, no instance type met all requirements, requirements={_REQS}, resources={_RES}; "
    f"incompatible requirements, key karpenter.sh/nodepool, karpenter.sh/nodepool In [{GPU_POOL}] not in "
    f"karpenter.sh/nodepool In [{CPU_POOL}]"
)
# K nodeclaim.go: "no instance type has enough resources, requirements=%s, resources=%s".
_BIG = '{"cpu":"3180m","memory":"12788Mi","nvidia.com/gpu":"16","pods":"6"}'
NO_TYPE_BIG_ENOUGH = (
    f"Failed to schedule pod, no instance type has enough resources, requirements={_REQS}, resources={_BIG}"
)
# K nodeclaim.go: "no instance type has the required offering, requirements=%s, resources=%s".
NO_OFFERING = (
    f"Failed to schedule pod, no instance type has the required offering, requirements={_REQS}, resources={_RES}"
)
# K pkg/scheduling/taints.go Tolerates: serrors.Wrap(fmt.Errorf("did not tolerate taint"), "taint",
#   pretty.Taint(taint)); K pkg/utils/pretty/pretty.go Taint: "<key>:<effect>" without a value.
# K scheduler.go add(): fmt.Errorf("nodepool requirements filtered out all available instance types").
ALL_FILTERED = "Failed to schedule pod, nodepool requirements filtered out all available instance types"
TAINT_ONLY = "Failed to schedule pod, did not tolerate taint (taint=nvidia.com/gpu:NoSchedule)"

# K pkg/controllers/provisioning/provisioner.go Schedule: with no Ready NodePool (NewScheduler's
# ErrNodePoolsNotFound, whose own text "no nodepools found" is never printed) Karpenter logs this at Info level and
# publishes no event.
NO_DYNAMIC_NODEPOOLS = "no dynamic nodepools found"

# K events.go NoCompatibleInstanceTypes (on the NodePool, reason NoCompatibleInstanceTypes).
NO_COMPATIBLE_INSTANCE_TYPES = "NodePool requirements filtered out all compatible available instance types"
# K events.go NominatePodEvent: "Pod should schedule on: nodeclaim/<name>".
NOMINATED = f"Pod should schedule on: nodeclaim/{GPU_POOL}-x7k2p"

# K pkg/controllers/nodeclaim/lifecycle/events.go: "NodeClaim %s event: %s" (message truncated at 300 characters
# plus "..."); K pkg/cloudprovider/types.go InsufficientCapacityError: "insufficient capacity, %s";
# P pkg/providers/instance/instance.go combineFleetErrors: "with fleet error(s), %w" of "<code>: <message>".
# The text after "InsufficientInstanceCapacity: " is EC2's own error message (not from these repositories).
_ICE_TEXT = (
    "insufficient capacity, with fleet error(s), InsufficientInstanceCapacity: We currently do not have "
    "sufficient g5.xlarge capacity in the Availability Zone you requested (us-east-1a). Our system will be "
    "working on provisioning additional capacity. You can currently get g5.xlarge capacity by not specifying an "
    "Availability Zone in your request or choosing us-east-1b, us-east-1c."
)
INSUFFICIENT_CAPACITY = f"NodeClaim {GPU_POOL}-x7k2p event: " + (
    _ICE_TEXT if len(_ICE_TEXT) < 300 else _ICE_TEXT[:300] + "..."
)
# P pkg/errors/errors.go: AuthFailure.ServiceLinkedRoleCreationNotPermitted counts as insufficient capacity;
# P pkg/providers/instance/events.go SpotServiceLinkedRoleCreationFailure (no reason).
SPOT_SLR_ICE = (
    f"NodeClaim {GPU_POOL}-b9q4d event: insufficient capacity, with fleet error(s), "
    "AuthFailure.ServiceLinkedRoleCreationNotPermitted: The provided credentials do not have permission to create "
    "the service-linked role for EC2 Spot Instances."
)
SPOT_SLR_EVENT = (
    'Attempted to launch a spot instance but failed due to "AuthFailure.ServiceLinkedRoleCreationNotPermitted"'
)


def karpenter_event(pod: str, namespace: str, reason: str, message: str, *, at: float = 5) -> dict[str, Any]:
    """An event from component ``karpenter`` (K pkg/operator/operator.go: the recorder is named after the app)."""
    type_ = "Normal" if reason == "Nominated" else "Warning"
    return make_event(pod, namespace, reason, message, component="karpenter", type_=type_, at=at)


def nodeclaim_event(claim: str, reason: str, message: str, *, at: float = 20) -> dict[str, Any]:
    """A NodeClaim's event: cluster-scoped objects' events are recorded in namespace ``default``
    (kubernetes/client-go tools/record/event.go, makeEvent)."""
    event = make_event(
        claim, "default", reason, message, component="karpenter", type_="Warning", at=at, kind="NodeClaim"
    )
    event["involvedObject"] = {"kind": "NodeClaim", "name": claim, "apiVersion": "karpenter.sh/v1"}
    return event


def pool_event(pool: str, reason: str, message: str, *, at: float = 10) -> dict[str, Any]:
    event = make_event(pool, "default", reason, message, component="karpenter", type_="Warning", at=at, kind="NodePool")
    event["involvedObject"] = {"kind": "NodePool", "name": pool, "apiVersion": "karpenter.sh/v1"}
    return event


def cond(kind: str, status: str, reason: str = "", message: str = "", *, at: float = -30) -> dict[str, Any]:
    """An operatorpkg status.Condition (O status/condition.go fields)."""
    return {
        "type": kind,
        "status": status,
        "reason": reason or kind,
        "message": message,
        "lastTransitionTime": ts(at),
        "observedGeneration": 1,
    }


def _ready_root(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """O condition_set.go recomputeRootCondition: Ready lists the unhealthy dependents as ``Type=Status``."""
    unhealthy = [c for c in conditions if c["status"] != "True"]
    if not unhealthy:
        return cond("Ready", "True")
    status = "False" if any(c["status"] == "False" for c in unhealthy) else "Unknown"
    reason = "UnhealthyDependents" if status == "False" else "ReconcilingDependents"
    return cond("Ready", status, reason, ", ".join(f"{c['type']}={c['status']}" for c in unhealthy))


# P pkg/apis/v1/ec2nodeclass_status.go StatusConditions: the dependents of an EC2NodeClass's Ready.
EC2NODECLASS_CONDITIONS = (
    "AMIsReady",
    "SubnetsReady",
    "SecurityGroupsReady",
    "InstanceProfileReady",
    "ValidationSucceeded",
    "PlacementGroupReady",
)


def make_ec2nodeclass(
    name: str = GPU_POOL,
    *,
    alias: str = "bottlerocket@v1.61.0",
    cluster: str = "genai",
    override: Mapping[str, dict[str, Any]] | None = None,
    amis: bool = True,
) -> dict[str, Any]:
    """An EC2NodeClass (schema: ../shared/schemas/karpenter-v1.14.1) with every condition True unless overridden."""
    conditions = [cond(kind, "True") for kind in EC2NODECLASS_CONDITIONS]
    for kind, value in (override or {}).items():
        conditions = [value if c["type"] == kind else c for c in conditions]
    discovery = {"karpenter.sh/discovery": cluster}
    status: dict[str, Any] = {"conditions": [*conditions, _ready_root(conditions)]}
    if amis:
        status["amis"] = [
            {"id": "ami-0abc", "name": "bottlerocket-aws-k8s-1.36-nvidia-x86_64-v1.61.0", "requirements": []}
        ]
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name, "generation": 1, "finalizers": ["karpenter.k8s.aws/termination"]},
        "spec": {
            "role": f"{cluster}-karpenter-node",
            "amiSelectorTerms": [{"alias": alias}],
            "subnetSelectorTerms": [{"tags": discovery}],
            "securityGroupSelectorTerms": [{"tags": discovery}],
        },
        "status": status,
    }


# K pkg/apis/v1/nodepool_status.go StatusConditions: NewReadyConditions(ValidationSucceeded, NodeClassReady), so a
# NodePool's Ready is computed from these two only; NodeRegistrationHealthy is a condition outside Ready.
NODEPOOL_READY_DEPENDENTS = ("ValidationSucceeded", "NodeClassReady")


def nodepool_with(name: str = GPU_POOL, **conditions: dict[str, Any]) -> dict[str, Any]:
    """A NodePool whose conditions are K nodepool_status.go's (ValidationSucceeded, NodeClassReady,
    NodeRegistrationHealthy) plus Ready from the first two, True unless given."""
    pool = make_nodepool(name, limits={"nvidia.com/gpu": "16"})
    base = {kind: cond(kind, "True") for kind in ("ValidationSucceeded", "NodeClassReady", "NodeRegistrationHealthy")}
    base.update(conditions)
    listed = list(base.values())
    pool["metadata"]["generation"] = 1
    pool["status"]["conditions"] = [*listed, _ready_root([c for c in listed if c["type"] in NODEPOOL_READY_DEPENDENTS])]
    return pool


def nodeclaim_with(name: str, pool: str = GPU_POOL, **conditions: dict[str, Any]) -> dict[str, Any]:
    claim = make_nodeclaim(name, pool, launched=conditions.get("Launched", {}).get("status", "True") == "True")
    listed = {c["type"]: c for c in claim["status"]["conditions"]}
    listed.update(conditions)
    claim["status"]["conditions"] = list(listed.values())
    return claim


# P pkg/providers/amifamily/bottlerocket.go DescribeImageQuery: the four SSM parameters an alias resolves through
# (<k8s> the cluster's version, <version> the alias's without its "v"); a missing one is skipped, and only when all
# four are missing is it an error ("failed to discover any AMIs for alias (alias=bottlerocket@...)").
BOTTLEROCKET_ALIAS_PATHS = (
    "/aws/service/bottlerocket/aws-k8s-{k8s}/x86_64/{version}/image_id",
    "/aws/service/bottlerocket/aws-k8s-{k8s}/arm64/{version}/image_id",
    "/aws/service/bottlerocket/aws-k8s-{k8s}-nvidia/x86_64/{version}/image_id",
    "/aws/service/bottlerocket/aws-k8s-{k8s}-nvidia/arm64/{version}/image_id",
)


def bottlerocket_variants(k8s: str) -> set[str]:
    """The variant names in those paths (``aws-k8s-1.36``, ``aws-k8s-1.36-nvidia``)."""
    return {path.split("/")[4].format(k8s=k8s) for path in BOTTLEROCKET_ALIAS_PATHS}


def bottlerocket_architectures() -> set[str]:
    return {path.split("/")[5] for path in BOTTLEROCKET_ALIAS_PATHS}


# --- node registration (K pkg/controllers/nodeclaim/lifecycle/ and pkg/state/nodepoolhealth/) -------------------

# K liveness.go: registrationTimeout = time.Minute * 15; LaunchTimeout = time.Minute * 5.
REGISTRATION_TIMEOUT_S = 15 * 60
LAUNCH_TIMEOUT_S = 5 * 60
# K registration.go: Registered Unknown until the node appears.
NODE_NOT_FOUND = ("NodeNotFound", "Node not registered with cluster")
# K liveness.go updateNodePoolRegistrationHealth: a launched NodeClaim that timed out registering.
REGISTRATION_FAILED = ("RegistrationFailed", "Failed to register node")
# K nodepoolhealth/tracker.go: BufferSize = 4, ThresholdFalse = 0.5 (unhealthy at >= half failures of 4).
HEALTH_BUFFER_SIZE = 4
HEALTH_THRESHOLD_FALSE = 0.5
# P pkg/errors/errors.go ToReasonMessage, as a CreateError's condition reason and message; K launch.go copies them
# into the NodeClaim's Launched condition, and K liveness.go into the NodePool's NodeRegistrationHealthy.
UNAUTHORIZED = (
    "Unauthorized",
    "User is not authorized to perform this operation because no identity-based policy allows it",
)


def registration_health(status: str, reason: tuple[str, str] | None = None, *, at: float = -600) -> dict[str, Any]:
    """A NodePool's NodeRegistrationHealthy condition (reason and message as K liveness.go sets them)."""
    why, message = reason or ("NodeRegistrationHealthy", "")
    return cond("NodeRegistrationHealthy", status, why, message, at=at)


def launched_claim(
    name: str, *, launched_at: float, registered_at: float | None = None, node: str | None = None
) -> dict[str, Any]:
    """A NodeClaim whose instance launched at ``launched_at``; its Registered is Unknown (NodeNotFound) from its
    creation (``registered_at``: O condition_set.go sets every condition Unknown first and moves
    lastTransitionTime only on a status change) until ``node`` joins."""
    created = registered_at if registered_at is not None else launched_at - 5
    registered = (
        cond("Registered", "True", "Registered", at=launched_at + 45)
        if node
        else cond("Registered", "Unknown", *NODE_NOT_FOUND, at=created)
    )
    claim = nodeclaim_with(name, Launched=cond("Launched", "True", "Launched", at=launched_at), Registered=registered)
    claim["metadata"]["creationTimestamp"] = ts(created)
    claim["status"]["providerID"] = "aws:///us-east-1b/i-0a1b2c3d4e5f67890"
    if node:
        claim["status"]["nodeName"] = node
    return claim
