"""Node-side failures of Karpenter v1.14.1, read from its objects and NodeClaim events, end ``up`` in a minute.

Each scenario is a fake cluster (tests.support.kube.FakeCluster at lightkube's HTTP transport: no API server
runs here) holding a pending model pod that selects the GPU NodePool, plus Karpenter's objects in the state
v1.14.1 leaves them for that failure (conditions, reasons and messages from tests/support/karpenter.py, each
with its upstream file). The real RolloutWatcher polls every 10 s on a fake clock: the diagnosis must hold for
the 60 s scheduling grace, so it lands at about 60-70 s, far before the 1,800 s rollout timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from inferctl.errors import OperationError
from inferctl.kube.diagnose import ModelContext
from inferctl.kube.karpenter_state import KarpenterState, diagnose_node_side
from inferctl.kube.rollout import RolloutWatcher, WatchedDeployment
from inferctl.poller import Poller
from tests.support.karpenter import (
    GPU_POOL,
    INSUFFICIENT_CAPACITY,
    NO_COMPATIBLE_INSTANCE_TYPES,
    NO_DYNAMIC_NODEPOOLS,
    SPOT_SLR_EVENT,
    SPOT_SLR_ICE,
    bottlerocket_architectures,
    bottlerocket_variants,
    cond,
    make_ec2nodeclass,
    nodeclaim_event,
    nodeclaim_with,
    nodepool_with,
    pool_event,
)
from tests.support.kube import (
    Clock,
    FakeCluster,
    RecordingReporter,
    connect,
    make_deployment,
    make_event,
    make_pod,
    set_rollout,
    ts,
)
from tests.support.render import g5_xlarge_placement

NS = "inferctl"
SELECTOR = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
POD = "llama-6d4cf56db6-x2x9p"
TIMEOUT_S = 1800
ALTERNATIVE = g5_xlarge_placement(instance_type="g6e.xlarge")
MODEL = ModelContext(
    "llama",
    "meta-llama/Meta-Llama-3-8B-Instruct",
    gated=True,
    placement=g5_xlarge_placement(alternatives=(ALTERNATIVE,)),
)
# The kube-scheduler's verdict while no node exists: all the pod ever shows when Karpenter stays silent.
SCHEDULER = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
Setup = Callable[[FakeCluster], None]


def pending_pod() -> dict[str, Any]:
    pod = make_pod(
        POD, NS, SELECTOR, requests={"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}, unschedulable=SCHEDULER
    )
    pod["spec"]["nodeSelector"] = {"karpenter.sh/nodepool": GPU_POOL, "kubernetes.io/os": "linux"}
    pod["metadata"]["creationTimestamp"] = ts(0)
    return pod


def run(setup: Setup, tmp_path: Path, *, server_version: str | None = None) -> tuple[OperationError, float]:
    fake = FakeCluster(namespaces=[NS, "default"])
    fake.server_version = server_version
    fake.put(make_deployment("llama", NS, SELECTOR))

    def frame(cluster: FakeCluster) -> None:
        set_rollout(cluster, "llama", NS, ready=0)
        cluster.put(pending_pod())
        cluster.put(make_event(POD, NS, "FailedScheduling", SCHEDULER, component="default-scheduler", type_="Warning"))
        setup(cluster)

    fake.frames = [frame]
    clock = Clock()
    watcher = RolloutWatcher(
        connect(fake, tmp_path),
        RecordingReporter(),
        timeout_s=TIMEOUT_S,
        poller=Poller(interval_s=10, clock=clock, sleep=clock.sleep),
        gpu_pool=GPU_POOL,
        kubernetes_version="1.36",
    )
    with pytest.raises(OperationError) as caught:
        watcher.wait([WatchedDeployment("llama", MODEL)])
    return caught.value, clock.now


def with_nodeclass(**override: dict[str, Any]) -> Setup:
    """The GPU NodePool and its EC2NodeClass, the class's conditions overridden; the pool mirrors its Ready
    (K pkg/controllers/nodepool/readiness/controller.go)."""

    def setup(fake: FakeCluster) -> None:
        amis = override.get("AMIsReady", {}).get("status", "True") == "True"
        nodeclass = make_ec2nodeclass(override=override, amis=amis)
        fake.put(nodeclass)
        ready = next(c for c in nodeclass["status"]["conditions"] if c["type"] == "Ready")
        if ready["status"] == "True":
            fake.put(nodepool_with())
        elif ready["status"] == "Unknown":
            fake.put(
                nodepool_with(
                    NodeClassReady=cond(
                        "NodeClassReady", "False", "NodeClassReadinessUnknown", "Node Class Readiness Unknown"
                    )
                )
            )
        else:
            fake.put(nodepool_with(NodeClassReady=cond("NodeClassReady", "False", ready["reason"], ready["message"])))

    return setup


def plus(*setups: Setup) -> Setup:
    def setup(fake: FakeCluster) -> None:
        for each in setups:
            each(fake)

    return setup


def put(*objects: dict[str, Any]) -> Setup:
    def setup(fake: FakeCluster) -> None:
        for obj in objects:
            fake.put(obj)

    return setup


CLAIM = f"{GPU_POOL}-x7k2p"
# P pkg/controllers/nodeclass/validation.go updateCacheOnFailure: "<ValidationConditionMessages[reason]>: <aws>";
# the part after the colon is the AWS API's message.
FLEET_DENIED = (
    "Controller isn't authorized to call ec2:CreateFleet: User: arn:aws:sts::111122223333:assumed-role/genai-karpenter"
    " is not authorized to perform: ec2:CreateFleet"
)

SCENARIOS: list[tuple[str, Setup, str, list[str]]] = [
    (
        # K pkg/controllers/provisioning/provisioner.go: no NodePool -> ErrNodePoolsNotFound, a log line, no event.
        "no-nodepool-at-all",
        lambda fake: None,
        "no-nodepool",
        [
            "the cluster has no NodePool",
            f"Karpenter logs '{NO_DYNAMIC_NODEPOOLS}' and publishes no event",
            "kubernetes.karpenter: true",
        ],
    ),
    (
        # P amifamily/bottlerocket.go: none of the four SSM parameters of aws-k8s-1.36[-nvidia] -> an error,
        # AMIsReady stays Unknown (O status SetUnknown: "AwaitingReconciliation"), status.amis empty.
        "ami-alias-without-the-cluster-version",
        with_nodeclass(
            AMIsReady=cond("AMIsReady", "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation")
        ),
        "nodeclass-amis",
        [
            "AMI alias bottlerocket@v1.61.0 resolves to no AMI",
            "Kubernetes 1.36",
            "aws-k8s-1.36-nvidia",
            "pools.gpu.ami_alias",
        ],
    ),
    (
        # P pkg/controllers/nodeclass/ami.go: AMIsReady False, AMINotFound, "AMISelector did not match any AMIs".
        "ami-not-found",
        with_nodeclass(AMIsReady=cond("AMIsReady", "False", "AMINotFound", "AMISelector did not match any AMIs")),
        "nodeclass-amis",
        ["has no AMI", "(bottlerocket@v1.61.0) match no AMI the account can use (AMINotFound"],
    ),
    (
        # P subnet.go: SubnetsReady False, SubnetsNotFound, "SubnetSelector did not match any Subnets".
        "subnets-not-found",
        with_nodeclass(
            SubnetsReady=cond("SubnetsReady", "False", "SubnetsNotFound", "SubnetSelector did not match any Subnets")
        ),
        "nodeclass-subnets",
        ["finds no subnet (SubnetsNotFound)", "(karpenter.sh/discovery=genai)", "tag the cluster's private subnets"],
    ),
    (
        # P securitygroup.go: SecurityGroupsReady False, SecurityGroupsNotFound.
        "security-groups-not-found",
        with_nodeclass(
            SecurityGroupsReady=cond(
                "SecurityGroupsReady",
                "False",
                "SecurityGroupsNotFound",
                "SecurityGroupSelector did not match any SecurityGroups",
            )
        ),
        "nodeclass-security-groups",
        ["finds no security group", "karpenter.sh/discovery=genai"],
    ),
    (
        # P validation.go: ValidationSucceeded False, CreateFleetAuthCheckFailed.
        "controller-not-authorised",
        with_nodeclass(
            ValidationSucceeded=cond("ValidationSucceeded", "False", "CreateFleetAuthCheckFailed", FLEET_DENIED)
        ),
        "nodeclass-validation",
        ["failed Karpenter's launch checks (CreateFleetAuthCheckFailed", "controller role"],
    ),
    (
        # P instanceprofile.go: errors leave InstanceProfileReady Unknown.
        "instance-profile",
        with_nodeclass(
            InstanceProfileReady=cond(
                "InstanceProfileReady", "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation"
            )
        ),
        "nodeclass-instance-profile",
        ["has no instance profile for role genai-karpenter-node"],
    ),
    (
        # K nodepool/readiness/controller.go: NodeClassReady False, NodeClassNotFound.
        "nodeclass-missing",
        put(
            nodepool_with(
                NodeClassReady=cond("NodeClassReady", "False", "NodeClassNotFound", "NodeClass not found on cluster")
            )
        ),
        "nodeclass-missing",
        ["EC2NodeClass g5-gpu-karpenter, which does not exist"],
    ),
    (
        # K nodepool/validation/controller.go: ValidationSucceeded False, NodePoolValidationFailed, err.Error().
        "nodepool-invalid",
        plus(
            with_nodeclass(),
            put(
                nodepool_with(
                    ValidationSucceeded=cond(
                        "ValidationSucceeded",
                        "False",
                        "NodePoolValidationFailed",
                        "invalid value: spec.template.spec.requirements",
                    )
                )
            ),
        ),
        "nodepool-invalid",
        ["Karpenter rejected NodePool g5-gpu-karpenter (NodePoolValidationFailed"],
    ),
    (
        # K scheduling/events.go NoCompatibleInstanceTypes: a Warning on the NodePool (namespace default).
        "no-compatible-instance-types",
        plus(with_nodeclass(), put(pool_event(GPU_POOL, "NoCompatibleInstanceTypes", NO_COMPATIBLE_INSTANCE_TYPES))),
        "nodepool-no-instance-types",
        ["requirements filter out every instance type", "pools.gpu.instance_families"],
    ),
    (
        # K nodeclaim/lifecycle/launch.go: Launched Unknown with the CreateError's reason; P pkg/errors/errors.go
        # ToReasonMessage: "Unauthorized", "User is not authorized to perform this operation because no
        # identity-based policy allows it".
        "launch-unauthorised",
        plus(
            with_nodeclass(),
            put(
                nodeclaim_with(
                    CLAIM,
                    Launched=cond(
                        "Launched",
                        "Unknown",
                        "Unauthorized",
                        "User is not authorized to perform this operation because no identity-based policy allows it",
                    ),
                )
            ),
        ),
        "launch-failed",
        [f"cannot launch NodeClaim {CLAIM} of NodePool {GPU_POOL} (Unauthorized", "controller role"],
    ),
    (
        # K nodeclaim/lifecycle/events.go + launch.go: InsufficientCapacityError on the NodeClaim, then deleted.
        "insufficient-capacity",
        plus(with_nodeclass(), put(nodeclaim_event(CLAIM, "InsufficientCapacityError", INSUFFICIENT_CAPACITY))),
        "no-capacity",
        ["EC2 has no capacity for NodePool g5-gpu-karpenter", "pools.gpu.capacity_types", "g6e.xlarge"],
    ),
    (
        # P pkg/errors/errors.go: the spot service-linked role error is insufficient capacity, plus
        # P pkg/providers/instance/events.go's reason-less Warning.
        "spot-service-linked-role",
        plus(
            with_nodeclass(),
            put(
                nodeclaim_event(f"{GPU_POOL}-b9q4d", "InsufficientCapacityError", SPOT_SLR_ICE),
                nodeclaim_event(f"{GPU_POOL}-b9q4d", "", SPOT_SLR_EVENT, at=21),
            ),
        ),
        "spot-service-linked-role",
        ["no spot service-linked role", "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"],
    ),
]


@pytest.mark.parametrize(("setup", "reason", "expected"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_node_side_failure_ends_up_within_a_minute(
    tmp_path: Path, setup: Setup, reason: str, expected: list[str]
) -> None:
    error, waited = run(setup, tmp_path)
    for phrase in expected:
        assert phrase in error.message, (reason, error.message)
    assert error.message.endswith("run up again") or "run up again" in error.message
    assert waited <= 90 < TIMEOUT_S  # held for the 60 s grace, then stopped: not a 30-minute timeout
    assert error.details  # the evidence: conditions or events, as Karpenter wrote them


def test_a_healthy_pool_with_a_launching_claim_is_not_a_failure() -> None:
    state = KarpenterState(
        nodepools=[nodepool_with()],
        nodeclasses=[make_ec2nodeclass()],
        nodeclaims=[nodeclaim_with(CLAIM, Launched=cond("Launched", "Unknown", "AwaitingReconciliation"))],
    )
    assert diagnose_node_side(pending_pod(), state, MODEL) is None


def test_capacity_events_from_before_the_pod_are_ignored() -> None:
    old = nodeclaim_event(CLAIM, "InsufficientCapacityError", INSUFFICIENT_CAPACITY, at=-600)
    state = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[make_ec2nodeclass()], claim_events=[old])
    assert diagnose_node_side(pending_pod(), state, MODEL) is None
    other_pool = nodeclaim_event("x86-cpu-karpenter-abcde", "InsufficientCapacityError", INSUFFICIENT_CAPACITY)
    state = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[make_ec2nodeclass()], claim_events=[other_pool])
    assert diagnose_node_side(pending_pod(), state, MODEL) is None


def test_a_gpu_node_that_never_registers_gpus_is_read_from_the_nodeclaim() -> None:
    """K nodeclaim/lifecycle/initialization.go: Initialized Unknown, ResourceNotRegistered,
    'Resource "nvidia.com/gpu" was requested but not registered'."""
    claim = nodeclaim_with(
        CLAIM,
        Initialized=cond(
            "Initialized",
            "Unknown",
            "ResourceNotRegistered",
            'Resource "nvidia.com/gpu" was requested but not registered',
        ),
    )
    claim["status"]["nodeName"] = "ip-10-0-1-23.ec2.internal"
    state = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[make_ec2nodeclass()], nodeclaims=[claim])
    found = diagnose_node_side(pending_pod(), state, MODEL)
    assert found is not None and found.reason == "gpu-not-advertised"
    assert "node ip-10-0-1-23.ec2.internal" in found.message


def test_without_karpenter_crds_nothing_is_concluded() -> None:
    assert diagnose_node_side(pending_pod(), KarpenterState(pools_listed=False), MODEL) is None


def test_a_capacity_failure_is_history_once_a_later_claim_launches_or_is_made() -> None:
    """InsufficientCapacityError deletes the NodeClaim and Karpenter retries (K nodeclaim/lifecycle/launch.go):
    the event stays listed for an hour, but a launched or newer NodeClaim of the pool means the retry is on."""
    ice = nodeclaim_event(CLAIM, "InsufficientCapacityError", INSUFFICIENT_CAPACITY, at=20)
    base = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[make_ec2nodeclass()], claim_events=[ice])
    found = diagnose_node_side(pending_pod(), base, MODEL)
    assert found is not None and found.reason == "no-capacity"
    launched = nodeclaim_with(f"{GPU_POOL}-q8w3e")
    assert diagnose_node_side(pending_pod(), replace(base, nodeclaims=[launched]), MODEL) is None
    newer = nodeclaim_with(f"{GPU_POOL}-q8w3e", Launched=cond("Launched", "Unknown", "AwaitingReconciliation"))
    newer["metadata"]["creationTimestamp"] = ts(30)
    assert diagnose_node_side(pending_pod(), replace(base, nodeclaims=[newer]), MODEL) is None
    older = nodeclaim_with(f"{GPU_POOL}-q8w3e", Launched=cond("Launched", "Unknown", "AwaitingReconciliation"))
    older["metadata"]["creationTimestamp"] = ts(10)
    assert diagnose_node_side(pending_pod(), replace(base, nodeclaims=[older]), MODEL) is not None


def test_the_alias_diagnosis_names_the_version_the_api_server_reports(tmp_path: Path) -> None:
    """The watcher was told 1.36 (the config); the API server's /version says 1.37: the cluster wins."""
    setup = with_nodeclass(AMIsReady=cond("AMIsReady", "Unknown", "AwaitingReconciliation", "awaiting"))
    error, _ = run(setup, tmp_path, server_version="1.37")
    assert "Kubernetes 1.37" in error.message and "aws-k8s-1.37-nvidia" in error.message


def test_forbidden_cluster_events_do_not_break_the_wait(tmp_path: Path) -> None:
    """Namespace-scoped credentials may not list events in ``default``: the state-based diagnoses still work."""
    setup = with_nodeclass(
        SubnetsReady=cond("SubnetsReady", "False", "SubnetsNotFound", "SubnetSelector did not match any Subnets")
    )

    def forbid(fake: FakeCluster) -> None:
        setup(fake)
        fake.forbidden_namespaces.add("default")

    error, _ = run(forbid, tmp_path)
    assert "finds no subnet (SubnetsNotFound)" in error.message


@pytest.mark.parametrize("amis", ["False", "Unknown"])
@pytest.mark.parametrize("gpu", [True, False], ids=["gpu-pool", "cpu-pool"])
def test_the_ami_fix_names_a_pinned_alias_the_config_accepts(amis: str, gpu: bool) -> None:
    """The fix must be one the config takes: it refuses ``@latest`` (config.models._ami_alias), so the message
    names the packaged pinned default and the pool's own field and variant (a CPU pool runs the standard
    variant, aws-k8s-<v>, not the NVIDIA one)."""
    from inferctl.config.ami_aliases import DEFAULT_AMI_ALIAS
    from inferctl.config.models import PlatformConfig

    pool_name = GPU_POOL if gpu else "x86-cpu-karpenter"
    override = {"AMIsReady": cond("AMIsReady", amis, "AMINotFound" if amis == "False" else "Awaiting", "m")}
    nodeclass = make_ec2nodeclass(override=override, amis=False)
    nodeclass["metadata"]["name"] = pool_name
    pool = nodepool_with(pool_name)
    pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] = pool_name
    pod = pending_pod()
    pod["spec"]["nodeSelector"]["karpenter.sh/nodepool"] = pool_name
    if not gpu:
        pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2", "memory": "4Gi"}}
    state = KarpenterState(nodepools=[pool], nodeclasses=[nodeclass], kubernetes_version="1.36")
    found = diagnose_node_side(pod, state, MODEL)
    assert found is not None and found.reason == "nodeclass-amis"
    assert "@latest" not in found.message
    assert DEFAULT_AMI_ALIAS in found.message
    field = "pools.gpu.ami_alias" if gpu else "pools.cpu.ami_alias"
    assert field in found.message
    if amis == "Unknown":
        assert f"that ships the cluster version's {'NVIDIA' if gpu else 'standard'} variant" in found.message
    section = "gpu" if gpu else "cpu"
    PlatformConfig.model_validate({"target": "aws", "pools": {section: {"ami_alias": DEFAULT_AMI_ALIAS}}})


def test_an_al2023_alias_without_an_image_is_not_called_bottlerocket() -> None:
    """AL2023 aliases name a dated release with a standard and an nvidia image per Kubernetes version
    (config.ami_aliases, from Karpenter v1.14.1 ``al2023.go``): the diagnosis says so, not Bottlerocket's variants."""
    nodeclass = make_ec2nodeclass(
        alias="al2023@v20250715",
        override={"AMIsReady": cond("AMIsReady", "Unknown", "AwaitingReconciliation", "awaiting")},
        amis=False,
    )
    state = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[nodeclass], kubernetes_version="1.36")
    found = diagnose_node_side(pending_pod(), state, MODEL)
    assert found is not None and found.reason == "nodeclass-amis"
    assert "al2023@v20250715" in found.message and "that AL2023 release has no nvidia image" in found.message
    assert "Bottlerocket" not in found.message and "pools.gpu.ami_alias" in found.message


@pytest.mark.parametrize("gpu", [True, False], ids=["gpu-pool", "cpu-pool"])
def test_a_bottlerocket_alias_without_amis_means_none_of_its_four_variants_exists(gpu: bool) -> None:
    """P bottlerocket.go skips each of the four SSM paths that does not exist and fails (AMIsReady left Unknown,
    no status.amis) only when none does: the release has no image for the cluster's version at all. A missing NVIDIA
    variant alone is no error there, so the message must not claim it (what it said before)."""
    nodeclass = make_ec2nodeclass(
        override={"AMIsReady": cond("AMIsReady", "Unknown", "AwaitingReconciliation", "awaiting")}, amis=False
    )
    pod = pending_pod()
    if not gpu:
        pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2", "memory": "4Gi"}}
    state = KarpenterState(nodepools=[nodepool_with()], nodeclasses=[nodeclass], kubernetes_version="1.36")
    found = diagnose_node_side(pod, state, MODEL)
    assert found is not None and found.reason == "nodeclass-amis"
    for variant in bottlerocket_variants("1.36"):
        assert variant in found.message, (variant, found.message)
    for arch in bottlerocket_architectures():
        assert arch in found.message, (arch, found.message)
    assert "no aws-k8s-1.36-nvidia variant" not in found.message
    assert "publishes no aws-k8s-1.36 image at all" in found.message
