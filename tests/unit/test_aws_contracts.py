"""The AWS program against the contracts of the systems it drives (inferctl issue 11), each expected value taken
from the upstream source named beside it. The program runs under Pulumi's mocks (no AWS account here).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from inferctl.aws.endpoint_access import DEPLOYER_CIDR_PLACEHOLDER, probe_endpoint
from inferctl.aws.lb_controller import controller_policy
from inferctl.aws.offline import ProgramRun, RecordingMocks, offline_plan, record_program
from inferctl.config.ami_aliases import ssm_parameter
from inferctl.config.models import LB_CONTROLLER_APP_VERSIONS, PlatformConfig
from inferctl.errors import ConfigError, OperationError
from tests.support.aws import SHARED, aws_config, of_type, one, policy_of, run_on_own_loop, run_program

# --- 1. AMI alias vs cluster version -----------------------------------------------------------------------------

# Bottlerocket release notes (inferctl issue 11; DESIGN.md "Facts about systems we do not own"): the first release
# with the aws-k8s-<version> variants, and aws-k8s-1.30 removed in v1.64.0. v1.20.0 / v1.22.0 for 1.30 / 1.31:
# bottlerocket-os/bottlerocket CHANGELOG.md ("Add Kubernetes 1.30 variants", "Add Kubernetes 1.31 variants").
BOTTLEROCKET_FIRST = {
    "1.30": (1, 20, 0),
    "1.31": (1, 22, 0),
    "1.34": (1, 47, 0),
    "1.35": (1, 53, 0),
    "1.36": (1, 61, 0),
    "1.37": (1, 66, 0),
}
BOTTLEROCKET_130_REMOVED = (1, 64, 0)

# aws/karpenter-provider-aws v1.14.1 pkg/providers/amifamily/bottlerocket.go (DescribeImageQuery) and al2023.go
# (resolvePath): the SSM parameters an alias resolves through, x86_64.
BOTTLEROCKET_PATH = "/aws/service/bottlerocket/aws-k8s-{k8s}{nvidia}/x86_64/{version}/image_id"
AL2023_PATH = (
    "/aws/service/eks/optimized-ami/{k8s}/amazon-linux-2023/x86_64/{variant}/"
    "amazon-eks-node-al2023-x86_64-{variant}-{k8s}-{version}/image_id"
)


def _version(alias: str) -> tuple[int, ...]:
    return tuple(int(p) for p in alias.split("@v", 1)[1].split("."))


def test_the_default_alias_has_both_variants_for_the_default_cluster_version() -> None:
    config = aws_config()
    for pool in (config.pools.gpu, config.pools.cpu):
        assert pool.ami_alias.startswith("bottlerocket@")
        assert _version(pool.ami_alias) >= BOTTLEROCKET_FIRST[config.aws.cluster_version]


@pytest.mark.parametrize(
    ("alias", "version"),
    [
        ("bottlerocket@v1.49.0", "1.36"),  # the old default with the old default cluster version
        ("bottlerocket@v1.60.0", "1.36"),
        ("bottlerocket@v1.52.0", "1.35"),
        ("bottlerocket@v1.65.0", "1.37"),
        ("bottlerocket@v1.64.0", "1.30"),
    ],
)
def test_an_alias_without_the_clusters_variants_is_refused_at_config_load(alias: str, version: str) -> None:
    first = BOTTLEROCKET_FIRST[version]
    assert _version(alias) < first or (version == "1.30" and _version(alias) >= BOTTLEROCKET_130_REMOVED)
    with pytest.raises(ValueError, match=r"pools\.gpu\.ami_alias: Bottlerocket v.* has no aws-k8s-" + version):
        PlatformConfig.model_validate(
            {"target": "aws", "aws": {"cluster_version": version}, "pools": {"gpu": {"ami_alias": alias}}}
        )


@pytest.mark.parametrize(("alias", "version"), [("bottlerocket@v1.61.0", "1.36"), ("bottlerocket@v1.63.0", "1.30")])
def test_an_alias_with_the_variants_is_accepted(alias: str, version: str) -> None:
    pools = {"gpu": {"ami_alias": alias}, "cpu": {"ami_alias": alias}}
    PlatformConfig.model_validate({"target": "aws", "aws": {"cluster_version": version}, "pools": pools})


def test_the_ssm_parameters_are_the_ones_karpenter_resolves() -> None:
    assert ssm_parameter("bottlerocket@v1.68.0", "1.36", nvidia=True) == BOTTLEROCKET_PATH.format(
        k8s="1.36", nvidia="-nvidia", version="1.68.0"
    )
    assert ssm_parameter("bottlerocket@v1.68.0", "1.36", nvidia=False) == BOTTLEROCKET_PATH.format(
        k8s="1.36", nvidia="", version="1.68.0"
    )
    # AL2023 keeps the alias's version as written (the 'v' included) in the parameter's name.
    assert ssm_parameter("al2023@v20250715", "1.35", nvidia=True) == AL2023_PATH.format(
        k8s="1.35", variant="nvidia", version="v20250715"
    )
    assert ssm_parameter("al2023@v20250715", "1.35", nvidia=False) == AL2023_PATH.format(
        k8s="1.35", variant="standard", version="v20250715"
    )


def test_an_al2023_alias_must_be_a_dated_release() -> None:
    """Karpenter's docs pin AL2023 by date (website/content/en/docs/concepts/nodeclasses.md at v1.14.1:
    ``al2023@v20240703``, ``al2023@v20240807``)."""
    PlatformConfig.model_validate({"target": "aws", "pools": {"gpu": {"ami_alias": "al2023@v20240807"}}})
    with pytest.raises(ValueError, match="AL2023 aliases are dated"):
        PlatformConfig.model_validate({"target": "aws", "pools": {"gpu": {"ami_alias": "al2023@v1.68.0"}}})


# --- 2. the API endpoint ---------------------------------------------------------------------------------------


def test_the_default_endpoint_is_public_for_the_deployer_only_and_private_for_the_nodes() -> None:
    """EKS API (CreateCluster, VpcConfigRequest): publicAccessCidrs defaults to 0.0.0.0/0 when public access is
    on, so the program must always send a block; private-only access is unreachable from outside the VPC."""
    plan = offline_plan(aws_config())
    cluster = next(r for r in plan["resources"] if r["type"] == "aws:eks/cluster:Cluster")
    vpc = cluster["properties"]["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == [DEPLOYER_CIDR_PLACEHOLDER]
    assert "0.0.0.0/0" not in json.dumps(vpc)
    assert plan["endpoint_access"]["public_access_cidrs"] == [DEPLOYER_CIDR_PLACEHOLDER]


def test_private_only_access_needs_an_existing_vpc() -> None:
    with pytest.raises(ValueError, match="endpoint_access: private needs an existing VPC"):
        aws_config(endpoint_access="private")


def test_the_program_checks_the_endpoint_before_any_kubernetes_resource_without_blocking_the_others() -> None:
    """The probe is awaited inside the kubeconfig's apply (pulumi 3.272.0 ``output.py``, ``Output.apply``: an
    Awaitable result is awaited): while it waits, AWS resources keep registering and no Kubernetes one does."""
    mocks = RecordingMocks(aws_config())
    seen: list[tuple[str, int, int]] = []

    def kubernetes_count() -> int:
        return sum(r.type.startswith("kubernetes:") for r in mocks.resources)

    async def waiting_probe(endpoint: str) -> None:
        before = len(mocks.resources)
        for _ in range(200):  # the real probe's asyncio.sleep between attempts
            await asyncio.sleep(0.005)
        seen.append((endpoint, len(mocks.resources) - before, kubernetes_count()))

    run = record_program(aws_config(), mocks, endpoint_probe=waiting_probe)
    ((endpoint, registered_meanwhile, kubernetes_meanwhile),) = seen
    assert endpoint == "https://OFFLINE.gr7.us-east-1.eks.amazonaws.com"
    assert registered_meanwhile > 0 and kubernetes_meanwhile == 0
    assert of_type(run.resources, "kubernetes:helm.sh/v3:Release")


def test_an_unreachable_endpoint_is_one_line_after_the_wait() -> None:
    clock = iter(float(t) for t in range(0, 1000, 10))

    def refused(host: str, port: int) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(OperationError) as failed:
        run_on_own_loop(
            probe_endpoint(
                "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                connect=refused,
                timeout_s=30,
                clock=lambda: next(clock),
                sleep=no_wait,
            )
        )
    assert waits == [10, 10]  # PROBE_INTERVAL_S between three attempts; the clock reaches the deadline at the third
    assert failed.value.message.startswith("this machine cannot reach the EKS API endpoint https://ABC.gr7")
    assert "\n" not in failed.value.message


def test_the_real_probe_reports_a_closed_port_as_unreachable() -> None:
    """The real TCP+TLS connect against a loopback port nothing listens on (no network leaves the machine)."""
    import socket

    with socket.socket() as sock:  # a free port, closed again before the probe
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OperationError, match=f"cannot reach the EKS API endpoint https://127.0.0.1:{port}"):
        run_on_own_loop(probe_endpoint(f"https://127.0.0.1:{port}", timeout_s=0))


# --- 3. the AWS Load Balancer Controller -------------------------------------------------------------------------

LB_REFERENCE = SHARED / "reference" / "aws-load-balancer-controller" / "iam_policy-v2.14.0.json"


def test_the_lb_controller_policy_is_the_official_one_statement_by_statement() -> None:
    """kubernetes-sigs/aws-load-balancer-controller v2.14.0 docs/install/iam_policy.json (chart 1.14.0)."""
    if not LB_REFERENCE.is_file():
        pytest.skip(f"shared reference not present at {LB_REFERENCE}")
    reference = json.loads(LB_REFERENCE.read_text(encoding="utf-8"))
    document = policy_of(one(run_program(aws_config()).resources, "aws:iam/policy:Policy", "lb-controller-policy"))
    assert document["Version"] == reference["Version"]
    assert len(document["Statement"]) == len(reference["Statement"])
    for ours, theirs in zip(document["Statement"], reference["Statement"], strict=True):
        assert ours == theirs
    # The statement the hand-written policy lacked: listeners are tagged on create, unconditionally.
    listeners = [
        s for s in reference["Statement"] if "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*" in s["Resource"]
    ]
    assert listeners and set(listeners[0]["Action"]) == {
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
    }
    assert "Condition" not in listeners[0]
    assert controller_policy("1.14.0") == reference


def test_the_diagram_names_the_controllers_app_version() -> None:
    """helm/aws-load-balancer-controller/Chart.yaml at v2.14.0: version 1.14.0, appVersion v2.14.0."""
    assert LB_CONTROLLER_APP_VERSIONS == {"1.14.0": "v2.14.0"}
    from inferctl.diagram import build_graph, render_mermaid

    assert "Controller v2.14.0" in render_mermaid(build_graph(aws_config()))


# --- 5. control-plane log group ----------------------------------------------------------------------------------


def test_the_control_plane_log_group_is_the_programs_with_a_retention() -> None:
    """EKS writes control-plane logs to /aws/eks/<cluster>/cluster (Amazon EKS User Guide, control-plane-logs)."""
    run = run_program(aws_config())
    group = one(run.resources, "aws:cloudwatch/logGroup:LogGroup").inputs
    assert group == {**group, "name": "/aws/eks/workshop/cluster", "retentionInDays": 7}
    assert not of_type(run_program(aws_config(control_plane_logs=[])).resources, "aws:cloudwatch/logGroup:LogGroup")


# --- 6. the Karpenter chart is pulled anonymously ----------------------------------------------------------------


def _inputs(run: ProgramRun) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): r.inputs for r in run.resources}


def test_two_runs_of_the_same_config_give_identical_inputs() -> None:
    """The mocks answer an ECR Public token lookup with a fresh token each time, as ECR Public does."""
    config = aws_config()
    first, second = record_program(config), record_program(config)
    assert _inputs(first) == _inputs(second)
    assert not [t for t, _ in first.calls if t.startswith("aws:ecrpublic/")]


# --- 8. NetworkPolicies are enforced -----------------------------------------------------------------------------


def test_vpc_cni_runs_its_network_policy_agent() -> None:
    """Amazon EKS User Guide, cni-network-policy-configure.html: the vpc-cni add-on's configuration value
    ``{"enableNetworkPolicy": "true"}``."""
    addon = one(run_program(aws_config()).resources, "aws:eks/addon:Addon", "addon-vpc-cni").inputs
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}


# --- 9. smaller ------------------------------------------------------------------------------------------------


def test_the_karpenter_controller_is_told_its_region() -> None:
    """aws/karpenter-provider-aws v1.14.1 charts/karpenter/values.yaml: ``controller.env`` (example AWS_REGION)."""
    release = one(run_program(aws_config(region="eu-west-1")).resources, "kubernetes:helm.sh/v3:Release", "karpenter")
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in release.inputs["values"]["controller"]["env"]


def test_iam_names_differ_between_regions_for_the_same_platform() -> None:
    def names(region: str) -> set[str]:
        run = run_program(aws_config(region=region))
        return {r.inputs["name"] for r in run.resources if r.type in ("aws:iam/role:Role", "aws:iam/policy:Policy")}

    east, west = names("us-east-1"), names("us-west-2")
    assert len(east) == len(west) == 11  # 5 roles, 7 policies; the LB controller's role and policy share a name
    assert not east & west
    assert all(len(name) <= 64 for name in east if not name.startswith("KarpenterController"))


def test_a_discovery_tag_already_on_an_existing_subnet_is_left_to_its_owner() -> None:
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    mocks = RecordingMocks(config, subnet_tags={"subnet-0ff11e0000000001": {"karpenter.sh/discovery": "workshop"}})
    run = record_program(config, mocks)
    tagged = {r.inputs["resourceId"] for r in of_type(run.resources, "aws:ec2/tag:Tag")}
    assert "subnet-0ff11e0000000001" not in tagged  # destroy cannot remove what the program never created
    assert {"subnet-0ff11e0000000002", "subnet-0ff11e0000000003"} <= tagged


def test_a_subnet_tagged_for_another_cluster_is_refused() -> None:
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    mocks = RecordingMocks(config, subnet_tags={"subnet-0ff11e0000000001": {"karpenter.sh/discovery": "other"}})
    with pytest.raises(ConfigError, match=r"karpenter\.sh/discovery=other, another cluster's"):
        record_program(config, mocks)


def test_a_subnet_another_inferctl_platform_tagged_is_refused_too() -> None:
    """Its marker names the other platform: retagging would take that cluster's subnet from its Karpenter."""
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    theirs = {"karpenter.sh/discovery": "other", "inferctl.io/discovery-tag": "other"}
    mocks = RecordingMocks(config, subnet_tags={"subnet-0ff11e0000000001": theirs})
    with pytest.raises(ConfigError, match=r"karpenter\.sh/discovery=other, another cluster's"):
        record_program(config, mocks)


def test_this_platforms_own_discovery_tag_stays_managed_on_the_next_run() -> None:
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    ours = {"karpenter.sh/discovery": "workshop", "inferctl.io/discovery-tag": "workshop"}
    mocks = RecordingMocks(config, subnet_tags={"subnet-0ff11e0000000001": ours})
    tagged = {r.inputs["resourceId"] for r in of_type(record_program(config, mocks).resources, "aws:ec2/tag:Tag")}
    assert "subnet-0ff11e0000000001" in tagged


# --- 7. model_cache: pvc has storage -----------------------------------------------------------------------------


def test_a_pvc_model_cache_gets_the_ebs_csi_driver_with_pod_identity_and_a_gp3_class(tmp_path: Any) -> None:
    """kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver: values.yaml controller.serviceAccount.name
    ``ebs-csi-controller-sa``; templates/ebs-csi-default-sc.yaml: provisioner ``ebs.csi.aws.com``,
    WaitForFirstConsumer. AWS managed policy ``service-role/AmazonEBSCSIDriverPolicy``."""
    config = PlatformConfig.model_validate(
        {**aws_config().model_dump(include={"name", "target", "models"}), "kubernetes": {"model_cache": "pvc"}}
    )
    run = run_program(config)
    addon = one(run.resources, "aws:eks/addon:Addon", "addon-aws-ebs-csi-driver").inputs
    (association,) = addon["podIdentityAssociations"]
    assert association["serviceAccount"] == "ebs-csi-controller-sa"
    role = next(r.inputs for r in of_type(run.resources, "aws:iam/role:Role") if r.name == "ebs-csi-role")
    assert association["roleArn"].endswith(f":role/{role['name']}")
    attached = one(run.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ebs-csi-policy").inputs
    assert attached["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    storage = one(run.resources, "kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage["parameters"]["type"] == "gp3"
    # kubernetes-sigs/aws-ebs-csi-driver v1.64.0 docs/tagging.md: a StorageClass parameter prefixed
    # tagSpecification is a key=value tag on each volume; without k8s-tag-cluster-id the driver adds no cluster tag.
    # The leftover scan after 'down' looks for volumes by this key.
    assert storage["parameters"]["tagSpecification_1"] == "kubernetes.io/cluster/workshop=owned"
    # The claims the AWS target renders name that class.
    from inferctl.home import Home
    from inferctl.targets.aws import AwsTarget

    kube = AwsTarget(config, Home(tmp_path)).kubernetes(include_karpenter=False)
    assert kube.config.kubernetes.storage_class == storage["metadata"]["name"]
    assert not of_type(run_program(aws_config()).resources, "kubernetes:storage.k8s.io/v1:StorageClass")


# --- the load balancer controller's Service webhook -------------------------------------------------------------


def test_releases_that_create_services_wait_for_the_lb_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    """kubernetes-sigs/aws-load-balancer-controller v2.14.0 helm/aws-load-balancer-controller/values.yaml:
    ``enableServiceMutatorWebhook: true`` with ``serviceMutatorWebhookConfig.failurePolicy: Fail``, so a Service
    created before the controller's pods answer is refused (upstream issue 4140). The Release constructor is
    wrapped only to read the options the program passes it; the program still runs under Pulumi's mocks."""
    import pulumi_kubernetes as k8s

    original = k8s.helm.v3.Release.__init__
    options: dict[str, Any] = {}
    releases: dict[str, Any] = {}

    def recording(self: Any, resource_name: str, *args: Any, **kwargs: Any) -> None:
        options[resource_name], releases[resource_name] = kwargs.get("opts"), self
        original(self, resource_name, *args, **kwargs)

    monkeypatch.setattr(k8s.helm.v3.Release, "__init__", recording)
    record_program(aws_config())  # not run_program: its cache would skip the constructors
    controller = releases.pop("aws-load-balancer-controller")
    assert set(releases) == {"karpenter", "keda", "keda-http-add-on", "prometheus"}
    for name in releases:
        assert controller in options[name].depends_on, name
