"""The EKS cluster: control plane, who may administer it, the system node group, add-ons, a Kubernetes provider.

Authentication is through access entries only (mode ``API``, no aws-auth ConfigMap): the deploying principal
gets an explicit cluster-admin entry, so what grants access is a resource in the plan, not a side effect of
who happened to create the cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferctl.aws.context import DISCOVERY_TAG, ProgramContext, assume_role_policy, principal_for_access_entry
from inferctl.aws.kubeconfig import exec_kubeconfig
from inferctl.aws.network import Network
from inferctl.errors import ConfigError
from inferctl.kube_names import EKS_NODEGROUP, system_node_group
from inferctl.sizing.system_nodes import system_instance_types

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
SYSTEM_NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)
# EKS add-on name -> AddonVersions field. The first two run before the nodes join (networking on first boot);
# the others need nodes to become healthy, so they wait for the node group.
ADDONS_BEFORE_NODES = {"vpc-cni": "vpc_cni", "kube-proxy": "kube_proxy"}
ADDONS_AFTER_NODES = {"coredns": "coredns", "eks-pod-identity-agent": "eks_pod_identity_agent"}
# vpc-cni enforces NetworkPolicies (the renderer's) only with its network policy agent on: the add-on's
# configuration value enableNetworkPolicy, a string (Amazon EKS User Guide, "Restrict Pod network traffic with
# Kubernetes network policies", cni-network-policy-configure.html; aws/amazon-vpc-cni-k8s charts/aws-vpc-cni).
ADDON_CONFIGURATION = {"vpc-cni": json.dumps({"enableNetworkPolicy": "true"})}
NODEGROUP_LABEL = EKS_NODEGROUP  # set by EKS on managed nodes; controllers select on it


@dataclass(frozen=True)
class Cluster:
    cluster: aws.eks.Cluster
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_group: aws.eks.NodeGroup
    node_group_name: str
    addons: dict[str, aws.eks.Addon]
    admin_access: aws.eks.AccessPolicyAssociation
    provider: k8s.Provider


def system_ami_type(instance_types: list[str]) -> str:
    """AL2023 for x86 or for Graviton (families such as m7g, c6gn carry a ``g`` after the generation)."""
    arm = all(re.match(r"^[a-z]+[0-9]+g[a-z]*\.", t) for t in instance_types)
    return "AL2023_ARM_64_STANDARD" if arm else "AL2023_x86_64_STANDARD"


def build_cluster(ctx: ProgramContext, network: Network) -> Cluster:
    settings = ctx.config.aws
    name = ctx.cluster_name
    role = ctx.iam_role("cluster-role", "eks-cluster", assume_role_policy("eks.amazonaws.com", tag_session=True))
    cluster_policy = aws.iam.RolePolicyAttachment(
        "cluster-role-policy",
        role=role.name,
        policy_arn=ctx.managed_policy_arn("AmazonEKSClusterPolicy"),
        opts=ctx.opts(),
    )
    public = settings.endpoint_access == "public-and-private"
    if public and not settings.public_access_cidrs:
        # Never EKS's default (0.0.0.0/0): the target fills in the deployer's /32 before the program runs.
        raise ConfigError("aws.public_access_cidrs is empty: the deployer's IP/32 was not resolved before the program")
    # Created here, before the cluster, so it has a retention and 'down' deletes it; left to EKS it never expires
    # and survives the cluster.
    log_group = _control_plane_log_group(ctx) if settings.control_plane_logs else None
    cluster = aws.eks.Cluster(
        "cluster",
        name=name,
        version=settings.cluster_version,
        role_arn=role.arn,
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=network.private_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(settings.public_access_cidrs) if public else None,
        ),
        access_config=aws.eks.ClusterAccessConfigArgs(
            authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
        ),
        enabled_cluster_log_types=list(settings.control_plane_logs),
        upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
        opts=ctx.opts(depends_on=[cluster_policy, *([log_group] if log_group else [])]),
    )
    # Karpenter launches its nodes into the security group that carries the discovery tag: the cluster's own.
    aws.ec2.Tag(
        "cluster-sg-discovery",
        resource_id=cluster.vpc_config.cluster_security_group_id,
        key=DISCOVERY_TAG,
        value=name,
        opts=ctx.opts(),
    )
    api_access = _private_api_access(ctx, cluster)
    admin_access = _admin_access(ctx, cluster)
    addons_first = {
        addon: _addon(ctx, cluster, addon, field, depends_on=[]) for addon, field in ADDONS_BEFORE_NODES.items()
    }
    node_group, node_group_name = _system_nodes(ctx, cluster, network, depends_on=list(addons_first.values()))
    addons_after = {
        addon: _addon(ctx, cluster, addon, field, depends_on=[node_group])
        for addon, field in ADDONS_AFTER_NODES.items()
    }

    async def reachable_kubeconfig(args: list[str]) -> str:
        # Every Kubernetes resource (the Helm releases first) goes through this provider's kubeconfig, so an
        # endpoint this machine cannot reach stops the program here with one line, not in a Helm timeout.
        # Awaited (Output.apply awaits an awaitable result): the AWS resources keep registering while it waits.
        if ctx.endpoint_probe is not None:
            await ctx.endpoint_probe(args[0])
        return json.dumps(exec_kubeconfig(name, ctx.region, args[0], args[1]))

    # The probe waits for the private endpoint's ingress rules too (their ids), or it could time out before them.
    kubeconfig: pulumi.Output[str] = pulumi.Output.all(
        cluster.endpoint, cluster.certificate_authority.data, *(rule.id for rule in api_access)
    ).apply(reachable_kubeconfig)
    provider = k8s.Provider(
        "eks",
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(depends_on=[admin_access, *api_access]),
    )
    return Cluster(
        cluster=cluster,
        name=cluster.name,
        endpoint=cluster.endpoint,
        certificate_authority=cluster.certificate_authority.data,
        kubeconfig=kubeconfig,
        node_group=node_group,
        node_group_name=node_group_name,
        addons={**addons_first, **addons_after},
        admin_access=admin_access,
        provider=provider,
    )


def control_plane_log_group_name(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to (EKS creates it on first write when nobody else did)."""
    return f"/aws/eks/{cluster_name}/cluster"


def _control_plane_log_group(ctx: ProgramContext) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        "control-plane-logs",
        name=control_plane_log_group_name(ctx.cluster_name),
        retention_in_days=ctx.config.aws.control_plane_log_retention_days,
        opts=ctx.opts(),
    )


def _private_api_access(ctx: ProgramContext, cluster: aws.eks.Cluster) -> list[aws.vpc.SecurityGroupIngressRule]:
    """443 on the cluster security group from each of ``aws.private_access_cidrs`` (the deployer's /32 when it
    runs inside the VPC: see :mod:`inferctl.aws.endpoint_access`). EKS creates that group admitting only itself,
    so without these the private endpoint refuses the deployer and 'up' times out while the cluster bills."""
    from inferctl.aws.endpoint_access import API_PORT

    return [
        aws.vpc.SecurityGroupIngressRule(
            f"private-api-{cidr.replace('/', '-')}",
            security_group_id=cluster.vpc_config.cluster_security_group_id,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=API_PORT,
            to_port=API_PORT,
            description="Kubernetes API (private endpoint) for the inferctl deployer",
            opts=ctx.opts(),
        )
        for cidr in ctx.config.aws.private_access_cidrs
    ]


def deployer_principal(ctx: ProgramContext) -> pulumi.Input[str]:
    """The principal made cluster admin: ``aws.admin_principal_arn``, else whoever runs the program.

    For an assumed role that is the role's full ARN from IAM, path included: EKS matches access entries by the
    role's id and refuses a path-less ARN of a role that has a path ("invalid principal").
    """
    if ctx.config.aws.admin_principal_arn:
        return ctx.config.aws.admin_principal_arn

    def resolve(caller_arn: str) -> pulumi.Input[str]:
        principal = principal_for_access_entry(caller_arn)
        if ":role/" not in principal:
            return principal  # an IAM user: GetCallerIdentity already gives its full ARN
        role = aws.iam.get_role_output(name=principal.rsplit("/", 1)[-1], opts=ctx.invoke_opts())
        return role.arn

    return ctx.caller_arn.apply(resolve)


def _admin_access(ctx: ProgramContext, cluster: aws.eks.Cluster) -> aws.eks.AccessPolicyAssociation:
    entry = aws.eks.AccessEntry(
        "deployer-access",
        cluster_name=cluster.name,
        principal_arn=deployer_principal(ctx),
        type="STANDARD",
        opts=ctx.opts(),
    )
    return aws.eks.AccessPolicyAssociation(
        "deployer-cluster-admin",
        cluster_name=cluster.name,
        principal_arn=entry.principal_arn,
        policy_arn=ctx.partition.apply(
            lambda partition: f"arn:{partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}"
        ),
        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
        opts=ctx.opts(),
    )


def _system_nodes(
    ctx: ProgramContext, cluster: aws.eks.Cluster, network: Network, *, depends_on: list[pulumi.Resource]
) -> tuple[aws.eks.NodeGroup, str]:
    nodes = ctx.config.aws.system_nodes
    role = ctx.iam_role("system-node-role", "system-nodes", assume_role_policy("ec2.amazonaws.com"))
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"system-node-{policy}", role=role.name, policy_arn=ctx.managed_policy_arn(policy), opts=ctx.opts()
        )
        for policy in SYSTEM_NODE_POLICIES
    ]
    # EKS creates the EC2_LINUX access entry of a managed node group's role itself.
    group_name = system_node_group(ctx.cluster_name)
    instance_types = system_instance_types(ctx.config)  # auto: sized from the system pods (sizing.system_nodes)
    group = aws.eks.NodeGroup(
        "system-nodes",
        cluster_name=cluster.name,
        node_group_name=group_name,
        node_role_arn=role.arn,
        subnet_ids=network.private_subnet_ids,
        instance_types=instance_types,
        capacity_type="ON_DEMAND",
        ami_type=system_ami_type(instance_types),
        disk_size=nodes.disk_gib,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            desired_size=nodes.desired_size, min_size=nodes.min_size, max_size=nodes.max_size
        ),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        opts=ctx.opts(depends_on=[*attachments, *depends_on]),
    )
    return group, group_name


def _addon(
    ctx: ProgramContext,
    cluster: aws.eks.Cluster,
    addon: str,
    field: str,
    *,
    depends_on: list[pulumi.Resource],
) -> aws.eks.Addon:
    pinned: str | None = getattr(ctx.config.aws.addons, field)
    version: pulumi.Input[str] = (
        pinned
        or aws.eks.get_addon_version_output(
            addon_name=addon,
            kubernetes_version=ctx.config.aws.cluster_version,
            most_recent=False,
            opts=ctx.invoke_opts(),
        ).version
    )
    return aws.eks.Addon(
        f"addon-{addon}",
        cluster_name=cluster.name,
        addon_name=addon,
        addon_version=version,
        configuration_values=ADDON_CONFIGURATION.get(addon),
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        opts=ctx.opts(depends_on=depends_on),
    )
