"""The AWS Pulumi program under Pulumi's own mocks (``pulumi.runtime.set_mocks``).

The program code runs for real and registers its resources; only the Pulumi engine and the AWS / Kubernetes
providers are replaced, because neither an AWS account nor a cluster exists here. Each test reads the
recorded inputs of the resources it cares about.
"""

from __future__ import annotations

import json

import pytest

from inferctl.aws import karpenter_reference as ref
from inferctl.aws.context import principal_for_access_entry
from inferctl.aws.eks import system_ami_type
from inferctl.aws.karpenter import rule_slug
from inferctl.aws.lb_controller import controller_policy
from inferctl.aws.network import split_cidr
from inferctl.aws.offline import OFFLINE_ACCOUNT, RESOLVED_AT_UP, ProgramRun, RecordingMocks, record_program
from inferctl.errors import ConfigError
from inferctl.render import node_role_name
from inferctl.sizing.system_nodes import choose_system_nodes
from tests.support.aws import actions_of, aws_config, of_type, one, policy_of, run_program

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
RELEASE = "kubernetes:helm.sh/v3:Release"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"

NEW_VPC = aws_config(public_access_cidrs=["203.0.113.7/32"])
EXISTING_VPC = aws_config(
    vpc_id="vpc-0abc1234def567890",
    admin_principal_arn="arn:aws:iam::123456789012:role/platform-team/Admin",
    system_nodes={"instance_types": ["m5.2xlarge"], "desired_size": 3, "min_size": 2, "max_size": 5},
    addons={"vpc_cni": "v1.20.0-eksbuild.1", "coredns": None, "kube_proxy": None, "eks_pod_identity_agent": None},
)


@pytest.fixture(scope="module")
def new_vpc() -> ProgramRun:
    return run_program(NEW_VPC)


@pytest.fixture(scope="module")
def existing_vpc() -> ProgramRun:
    return run_program(EXISTING_VPC)


def test_the_cluster_uses_access_entries_logging_standard_support_and_a_limited_public_endpoint(
    new_vpc: ProgramRun,
) -> None:
    cluster = one(new_vpc.resources, CLUSTER).inputs
    assert cluster["name"] == "workshop"
    assert cluster["version"] == NEW_VPC.aws.cluster_version
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    assert cluster["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    vpc = cluster["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.7/32"]
    private = [r for r in of_type(new_vpc.resources, "aws:ec2/subnet:Subnet") if r.name.startswith("private-")]
    assert vpc["subnetIds"] == [f"{r.name}-id" for r in private]


def test_a_private_only_endpoint_in_an_existing_vpc_has_no_public_access() -> None:
    config = aws_config(vpc_id="vpc-0abc1234def567890", endpoint_access="private")
    vpc = one(run_program(config).resources, CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False
    assert vpc["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in vpc


def test_the_system_node_group_is_sized_from_its_pods_by_default(new_vpc: ProgramRun) -> None:
    """instance_types: auto resolves in the program to what plan chose (sizing.system_nodes): two c6g.xlarge, the
    cheapest type whose pair holds the system pods with headroom (every system image is published for arm64, the
    gateway's included), not the workshop's m5.xlarge."""
    group = one(new_vpc.resources, NODE_GROUP).inputs
    assert NEW_VPC.aws.system_nodes.instance_types == "auto"
    assert group["instanceTypes"] == ["c6g.xlarge"] == choose_system_nodes(NEW_VPC).instance_types
    assert group["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 3}
    assert group["capacityType"] == "ON_DEMAND"
    assert group["amiType"] == "AL2023_ARM_64_STANDARD"
    assert group["nodeGroupName"] == "workshop-system"
    role = one(new_vpc.resources, ROLE, "system-node-role").inputs
    attached = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in of_type(new_vpc.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role["name"]
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    }


def test_node_group_sizes_and_types_come_from_the_config(existing_vpc: ProgramRun) -> None:
    group = one(existing_vpc.resources, NODE_GROUP).inputs
    assert group["instanceTypes"] == ["m5.2xlarge"]
    assert group["scalingConfig"] == {"desiredSize": 3, "minSize": 2, "maxSize": 5}


def test_the_four_addons_exist_with_pinned_or_resolved_versions(new_vpc: ProgramRun, existing_vpc: ProgramRun) -> None:
    names = {r.inputs["addonName"] for r in of_type(new_vpc.resources, ADDON)}
    assert names == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"}
    assert {r.inputs["addonVersion"] for r in of_type(new_vpc.resources, ADDON)} == {RESOLVED_AT_UP}
    lookups = [args for token, args in new_vpc.calls if token == "aws:eks/getAddonVersion:getAddonVersion"]
    assert {a["addonName"] for a in lookups} == names
    assert {a["kubernetesVersion"] for a in lookups} == {NEW_VPC.aws.cluster_version}
    versions = {r.inputs["addonName"]: r.inputs["addonVersion"] for r in of_type(existing_vpc.resources, ADDON)}
    assert versions["vpc-cni"] == "v1.20.0-eksbuild.1"  # pinned: no lookup for it
    assert "vpc-cni" not in {a["addonName"] for t, a in existing_vpc.calls if t.endswith("getAddonVersion")}
    for addon in ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"):
        resource = one(existing_vpc.resources, ADDON, f"addon-{addon}").inputs
        assert resource["resolveConflictsOnCreate"] == "OVERWRITE"


def test_access_entries_make_the_deployer_admin_and_let_karpenter_nodes_join(new_vpc: ProgramRun) -> None:
    entries = {r.name: r.inputs for r in of_type(new_vpc.resources, ACCESS_ENTRY)}
    # The mocks' caller is an assumed-role session; the entry must name the role itself.
    assert entries["deployer-access"] == {
        "clusterName": "workshop",
        "principalArn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/deployer",
        "type": "STANDARD",
    }
    admin = one(new_vpc.resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert admin["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin["accessScope"] == {"type": "cluster"}
    assert admin["principalArn"] == entries["deployer-access"]["principalArn"]
    node_role = node_role_name(NEW_VPC)
    assert entries["karpenter-node-access"]["type"] == "EC2_LINUX"
    assert entries["karpenter-node-access"]["principalArn"] == f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{node_role}"
    assert one(new_vpc.resources, ROLE, "karpenter-node-role").inputs["name"] == node_role


def test_an_sso_deployer_is_granted_through_its_roles_full_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    """IAM Identity Center roles live under a path the session ARN does not show; EKS refuses the path-less ARN
    ("invalid principal"), so the program asks IAM for the role's ARN and names that."""
    sso = f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/deployer"
    monkeypatch.setattr(RecordingMocks, "role", lambda self, name: {"arn": sso, "name": name, "id": name})
    run = record_program(NEW_VPC)
    assert ("aws:iam/getRole:getRole", {"name": "deployer"}) in run.calls  # the offline caller's role
    assert one(run.resources, ACCESS_ENTRY, "deployer-access").inputs["principalArn"] == sso
    association = one(run.resources, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert association["principalArn"] == sso


def test_a_configured_admin_principal_replaces_the_deployer(existing_vpc: ProgramRun) -> None:
    entry = one(existing_vpc.resources, ACCESS_ENTRY, "deployer-access").inputs
    assert entry["principalArn"] == "arn:aws:iam::123456789012:role/platform-team/Admin"


def test_the_interruption_queue_is_encrypted_short_lived_and_only_eventbridge_may_send(new_vpc: ProgramRun) -> None:
    queue = one(new_vpc.resources, "aws:sqs/queue:Queue").inputs
    assert queue == {"name": "workshop", "messageRetentionSeconds": 300, "sqsManagedSseEnabled": True}
    arn = f"arn:aws:sqs:us-east-1:{OFFLINE_ACCOUNT}:workshop"
    policy = policy_of(one(new_vpc.resources, "aws:sqs/queuePolicy:QueuePolicy"))
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow" and allow["Action"] == "sqs:SendMessage" and allow["Resource"] == arn
    assert sorted(allow["Principal"]["Service"]) == ["events.amazonaws.com", "sqs.amazonaws.com"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_five_eventbridge_rules_feed_the_queue(new_vpc: ProgramRun) -> None:
    rules = {
        r.inputs["name"]: json.loads(r.inputs["eventPattern"])
        for r in of_type(new_vpc.resources, "aws:cloudwatch/eventRule:EventRule")
    }
    assert rules == {
        "workshop-scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
        "workshop-spot-interruption": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Spot Instance Interruption Warning"],
        },
        "workshop-rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
        "workshop-instance-state-change": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
        },
        "workshop-capacity-reservation-interruption": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
        },
    }
    targets = of_type(new_vpc.resources, "aws:cloudwatch/eventTarget:EventTarget")
    assert sorted(t.inputs["rule"] for t in targets) == sorted(rules)
    assert {t.inputs["arn"] for t in targets} == {f"arn:aws:sqs:us-east-1:{OFFLINE_ACCOUNT}:workshop"}


def test_the_karpenter_controller_gets_the_reference_policies_through_pod_identity(new_vpc: ProgramRun) -> None:
    controller = one(new_vpc.resources, ROLE, "karpenter-controller-role").inputs
    trust = json.loads(controller["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    policies = [r for r in of_type(new_vpc.resources, POLICY) if r.name.startswith("karpenter-")]
    assert len(policies) == len(ref.CONTROLLER_POLICIES) == 6
    documents = [policy_of(p) for p in policies]
    actions = set().union(*(actions_of(d) for d in documents))
    required = {
        "ec2:RunInstances",
        "ec2:CreateFleet",
        "ec2:CreateLaunchTemplate",
        "ec2:CreateTags",
        "ec2:TerminateInstances",
        "ec2:DeleteLaunchTemplate",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeSpotPriceHistory",
        "iam:PassRole",
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "eks:DescribeCluster",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "ssm:GetParameter",
        "pricing:GetProducts",
    }
    assert required <= actions
    text = json.dumps(documents)
    assert "${" not in text, "a placeholder was left unfilled"
    for policy in policies:  # IAM's limit for a managed policy, whitespace excluded
        assert len("".join(policy.inputs["policy"].split())) <= 6144
    by_sid = {s["Sid"]: s for d in documents for s in d["Statement"]}
    node_role_arn = f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{node_role_name(NEW_VPC)}"
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == node_role_arn
    assert by_sid["AllowInterruptionQueueActions"]["Resource"] == f"arn:aws:sqs:us-east-1:{OFFLINE_ACCOUNT}:workshop"
    launch = by_sid["AllowScopedEC2InstanceActionsWithTags"]["Condition"]["StringEquals"]
    assert launch["aws:RequestTag/kubernetes.io/cluster/workshop"] == "owned"
    attached = {
        r.inputs["policyArn"]
        for r in of_type(new_vpc.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == controller["name"]
    }
    assert attached == {f"arn:aws:iam::{OFFLINE_ACCOUNT}:policy/{p.inputs['name']}" for p in policies}
    identity = {
        r.inputs["serviceAccount"]: r.inputs
        for r in of_type(new_vpc.resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    assert identity["karpenter"]["namespace"] == "kube-system"
    assert identity["karpenter"]["roleArn"] == f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{controller['name']}"


def test_the_karpenter_release_is_pinned_and_runs_on_the_system_nodes(new_vpc: ProgramRun) -> None:
    release = one(new_vpc.resources, RELEASE, "karpenter").inputs
    assert release["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release["version"] == "1.14.1"
    assert release["namespace"] == "kube-system"
    assert "repositoryOpts" not in release  # a public OCI chart, pulled anonymously
    values = release["values"]
    assert values["settings"]["clusterName"] == "workshop"
    assert values["settings"]["interruptionQueue"] == "workshop"
    assert values["serviceAccount"]["name"] == "karpenter"
    assert values["nodeSelector"]["eks.amazonaws.com/nodegroup"] == "workshop-system"
    assert values["replicas"] == 2
    # What the system node group is sized for (sizing.system_pods): the chart itself requests nothing.
    assert values["controller"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }


def test_the_node_pools_are_the_renderers_gpu_and_cpu_pools(new_vpc: ProgramRun) -> None:
    pools = {
        r.inputs["metadata"]["name"]: r.inputs
        for r in of_type(new_vpc.resources, "kubernetes:karpenter.sh/v1:NodePool")
    }
    assert set(pools) == {"g5-gpu-karpenter", "x86-cpu-karpenter"}
    gpu = {req["key"]: req for req in pools["g5-gpu-karpenter"]["spec"]["template"]["spec"]["requirements"]}
    assert gpu["karpenter.k8s.aws/instance-family"]["values"] == ["g5"]
    assert sorted(gpu["karpenter.sh/capacity-type"]["values"]) == ["on-demand", "spot"]
    classes = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in of_type(new_vpc.resources, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    }
    assert set(classes) == set(pools)
    for spec in classes.values():
        assert spec["role"] == node_role_name(NEW_VPC)
        assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "workshop"}}]


def test_subnets_and_the_cluster_security_group_carry_the_discovery_tag(
    new_vpc: ProgramRun, existing_vpc: ProgramRun
) -> None:
    private = [r for r in of_type(new_vpc.resources, "aws:ec2/subnet:Subnet") if r.name.startswith("private-")]
    assert len(private) == 3
    for subnet in private:
        assert subnet.inputs["tags"]["karpenter.sh/discovery"] == "workshop"
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    tags = {r.inputs["resourceId"]: r.inputs for r in of_type(new_vpc.resources, "aws:ec2/tag:Tag")}
    assert tags["sg-0ff11e0000000000c"]["key"] == "karpenter.sh/discovery"  # the cluster security group
    existing = [r.inputs for r in of_type(existing_vpc.resources, "aws:ec2/tag:Tag")]
    discovery = [t for t in existing if t["key"] == "karpenter.sh/discovery"]
    assert len(discovery) == 4  # three subnets found by tag, one security group
    assert {t["value"] for t in discovery} == {"workshop"}
    owners = [t for t in existing if t["key"] == "inferctl.io/discovery-tag"]
    subnets = {t["resourceId"] for t in discovery if t["resourceId"].startswith("subnet-")}
    assert {t["resourceId"] for t in owners} == subnets and {t["value"] for t in owners} == {"workshop"}


def test_an_existing_vpc_is_used_as_is_with_subnets_found_by_tag(existing_vpc: ProgramRun) -> None:
    assert not of_type(existing_vpc.resources, "aws:ec2/vpc:Vpc")
    assert not of_type(existing_vpc.resources, "aws:ec2/natGateway:NatGateway")
    lookup = next(a for t, a in existing_vpc.calls if t == "aws:ec2/getSubnets:getSubnets")
    assert {"name": "vpc-id", "values": ["vpc-0abc1234def567890"]} in lookup["filters"]
    assert {"name": "tag:kubernetes.io/role/internal-elb", "values": ["1"]} in lookup["filters"]
    subnet_ids = one(existing_vpc.resources, CLUSTER).inputs["vpcConfig"]["subnetIds"]
    assert subnet_ids == one(existing_vpc.resources, NODE_GROUP).inputs["subnetIds"]
    assert len(subnet_ids) == 3


def test_a_new_vpc_reaches_s3_through_a_free_gateway_endpoint_on_its_private_routes(
    new_vpc: ProgramRun, existing_vpc: ProgramRun
) -> None:
    """Model-cache weights and ECR image layers (served from S3) skip the NAT's per-GB charge. An existing VPC is
    its owner's: nothing is added to its routes."""
    endpoint = one(new_vpc.resources, "aws:ec2/vpcEndpoint:VpcEndpoint").inputs
    assert endpoint["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint["vpcEndpointType"] == "Gateway"
    assert endpoint["routeTableIds"] == ["private-routes-id"] and endpoint["vpcId"] == "vpc-id"
    assert not of_type(existing_vpc.resources, "aws:ec2/vpcEndpoint:VpcEndpoint")


def test_a_new_vpc_has_private_and_public_subnets_per_zone_and_one_nat(new_vpc: ProgramRun) -> None:
    subnets = of_type(new_vpc.resources, "aws:ec2/subnet:Subnet")
    assert len(subnets) == 6
    zones = {s.inputs["availabilityZone"] for s in subnets}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}
    public = [s for s in subnets if s.inputs.get("mapPublicIpOnLaunch")]
    assert len(public) == 3 and all(s.inputs["tags"]["kubernetes.io/role/elb"] == "1" for s in public)
    assert len({s.inputs["cidrBlock"] for s in subnets}) == 6
    assert len(of_type(new_vpc.resources, "aws:ec2/natGateway:NatGateway")) == 1


def test_each_tier_of_a_new_vpc_has_one_route_table_that_all_its_subnets_use(new_vpc: ProgramRun) -> None:
    def inputs(typ: str) -> dict[str, dict[str, object]]:
        return {r.name: r.inputs for r in of_type(new_vpc.resources, f"aws:ec2/{typ}")}

    zones = ("us-east-1a", "us-east-1b", "us-east-1c")
    assert inputs("routeTable:RouteTable") == {
        "public-routes": {
            "vpcId": "vpc-id",
            "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-id"}],
            "tags": {"Name": "workshop-public"},
        },
        "private-routes": {
            "vpcId": "vpc-id",
            "routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-id"}],
            "tags": {"Name": "workshop-private"},
        },
    }
    public_cidrs, private_cidrs = (
        ("10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"),
        ("10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"),
    )
    public = {
        f"public-{zone}": {
            "vpcId": "vpc-id",
            "cidrBlock": cidr,
            "availabilityZone": zone,
            "mapPublicIpOnLaunch": True,
            "tags": {"Name": f"workshop-public-{zone}", "kubernetes.io/role/elb": "1"},
        }
        for zone, cidr in zip(zones, public_cidrs, strict=True)
    }
    private = {
        f"private-{zone}": {
            "vpcId": "vpc-id",
            "cidrBlock": cidr,
            "availabilityZone": zone,
            "tags": {
                "Name": f"workshop-private-{zone}",
                "kubernetes.io/role/internal-elb": "1",
                "karpenter.sh/discovery": "workshop",
            },
        }
        for zone, cidr in zip(zones, private_cidrs, strict=True)
    }
    assert inputs("subnet:Subnet") == public | private
    assert inputs("routeTableAssociation:RouteTableAssociation") == {
        f"{tier}-{zone}": {"subnetId": f"{tier}-{zone}-id", "routeTableId": f"{tier}-routes-id"}
        for tier in ("public", "private")
        for zone in zones
    }
    assert one(new_vpc.resources, "aws:ec2/natGateway:NatGateway").inputs["subnetId"] == "public-us-east-1a-id"
    subnet_ids = one(new_vpc.resources, CLUSTER).inputs["vpcConfig"]["subnetIds"]
    assert subnet_ids == [f"private-{zone}-id" for zone in zones]


def test_the_load_balancer_controller_is_installed_with_a_cluster_scoped_policy(new_vpc: ProgramRun) -> None:
    release = one(new_vpc.resources, RELEASE, "aws-load-balancer-controller").inputs
    assert release["chart"] == "aws-load-balancer-controller"
    assert release["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release["version"] == NEW_VPC.aws.lb_controller_version
    assert release["values"]["clusterName"] == "workshop"
    assert release["values"]["region"] == "us-east-1"
    assert release["values"]["vpcId"] == "vpc-id"
    # The chart requests nothing (values.yaml resources: {}); inferctl requests its comment's 100m / 128Mi.
    assert release["values"]["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}}
    identity = [
        r.inputs
        for r in of_type(new_vpc.resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs["serviceAccount"] == "aws-load-balancer-controller"
    ]
    assert identity and identity[0]["namespace"] == "kube-system"
    document = policy_of(one(new_vpc.resources, POLICY, "lb-controller-policy"))
    assert document == controller_policy(NEW_VPC.aws.lb_controller_version)  # the official one: test_aws_reference


def test_every_aws_resource_uses_the_explicit_regional_provider_and_outputs_reach_the_cluster(
    new_vpc: ProgramRun,
) -> None:
    provider = one(new_vpc.resources, "pulumi:providers:aws").inputs
    assert provider["region"] == "us-east-1"
    assert json.loads(provider["defaultTags"])["tags"]["inferctl.io/platform"] == "workshop"
    outputs = new_vpc.outputs
    assert outputs["cluster_name"] == "workshop"
    assert outputs["interruption_queue"] == "workshop"
    assert outputs["node_role"] == node_role_name(NEW_VPC)
    kubeconfig = json.loads(outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == outputs["endpoint"]
    assert kubeconfig["users"][0]["user"]["exec"]["args"][-4:] == ["--cluster", "workshop", "--region", "us-east-1"]


# --- the program's pure helpers ---------------------------------------------------------------------------------


def test_an_assumed_role_session_is_granted_through_its_role() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com"
    assert principal_for_access_entry(session) == "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123abcd"
    china = "arn:aws-cn:sts::123456789012:assumed-role/Deploy/ci"
    assert principal_for_access_entry(china) == "arn:aws-cn:iam::123456789012:role/Deploy"
    user = "arn:aws:iam::123456789012:user/alice"
    assert principal_for_access_entry(user) == user


def test_a_new_vpc_is_cut_into_private_then_public_blocks() -> None:
    private, public = split_cidr("10.0.0.0/16", 3)
    assert private == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
    assert public == ["10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"]
    with pytest.raises(ConfigError, match="/24 or larger"):
        split_cidr("10.0.0.0/26", 2)


def test_graviton_system_nodes_get_the_arm_image() -> None:
    assert system_ami_type(["m5.xlarge"]) == "AL2023_x86_64_STANDARD"
    assert system_ami_type(["m7g.xlarge", "c6gn.large"]) == "AL2023_ARM_64_STANDARD"
    assert system_ami_type(["g5.xlarge"]) == "AL2023_x86_64_STANDARD"


def test_rule_names_read_like_the_templates_rules() -> None:
    assert rule_slug("SpotInterruptionRule") == "spot-interruption"
    assert rule_slug("CapacityReservationInterruptionRule") == "capacity-reservation-interruption"
