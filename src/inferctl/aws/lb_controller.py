"""The AWS Load Balancer Controller, so a Service's NLB annotations produce an NLB (the in-tree controller would
make a Classic ELB that nothing tears down).

Its IAM policy is inferctl's own, narrower than the project's reference policy: only what a Service-backed
NLB needs (no Cognito, WAF, Shield), and every write scoped to resources tagged
``elbv2.k8s.aws/cluster=<this cluster>`` (the tag the controller puts on what it creates) or, for the node
security-group rules it adds, to this cluster's VPC. The controller gets it through EKS Pod Identity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferctl.aws.context import ProgramContext, assume_role_policy, iam_name
from inferctl.aws.eks import NODEGROUP_LABEL, Cluster
from inferctl.aws.network import Network

CHART = "aws-load-balancer-controller"
CHART_REPO = "https://aws.github.io/eks-charts"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"

READ_ACTIONS = [
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeCoipPools",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeIpamPools",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetCoipPoolUsage",
    "ec2:GetSecurityGroupsForVpc",
    "elasticloadbalancing:DescribeCapacityReservation",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTrustStores",
    "acm:DescribeCertificate",
    "acm:ListCertificates",
]
OWNED_ELB_ACTIONS = [
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
]
# Listeners and rules are created on a load balancer the controller owns; IAM cannot scope them by its tag.
LISTENER_ACTIONS = [
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:RemoveListenerCertificates",
]


def controller_policy(
    cluster_name: str, *, partition: str, region: str, account_id: str, vpc_id: str
) -> dict[str, Any]:
    """The controller's IAM policy document, scoped to one cluster and its VPC."""
    owned = {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}}
    requested = {f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}
    security_groups = f"arn:{partition}:ec2:{region}:{account_id}:security-group/*"
    vpc_arn = f"arn:{partition}:ec2:{region}:{account_id}:vpc/{vpc_id}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ElbServiceLinkedRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
            },
            {"Sid": "Read", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": "*"},
            {
                "Sid": "CreateSecurityGroupInVpc",
                "Effect": "Allow",
                "Action": "ec2:CreateSecurityGroup",
                "Resource": [security_groups, vpc_arn],
            },
            {
                "Sid": "TagNewSecurityGroup",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": security_groups,
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **requested}},
            },
            {
                "Sid": "ManageOwnedSecurityGroups",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteSecurityGroup"],
                "Resource": security_groups,
                "Condition": owned,
            },
            {
                "Sid": "NodeSecurityGroupRulesInVpc",
                "Effect": "Allow",
                "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                "Resource": security_groups,
                "Condition": {"ArnEquals": {"ec2:Vpc": vpc_arn}},
            },
            {
                "Sid": "CreateTaggedLoadBalancers",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": requested},
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:AddTags",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "elasticloadbalancing:CreateAction": ["CreateLoadBalancer", "CreateTargetGroup"],
                        **requested,
                    }
                },
            },
            {
                "Sid": "ManageOwnedLoadBalancers",
                "Effect": "Allow",
                "Action": OWNED_ELB_ACTIONS,
                "Resource": "*",
                "Condition": owned,
            },
            {"Sid": "Listeners", "Effect": "Allow", "Action": LISTENER_ACTIONS, "Resource": "*"},
        ],
    }


@dataclass(frozen=True)
class LoadBalancerController:
    role: aws.iam.Role
    release: k8s.helm.v3.Release


def build_lb_controller(ctx: ProgramContext, cluster: Cluster, network: Network) -> LoadBalancerController:
    name = ctx.cluster_name
    role = aws.iam.Role(
        "lb-controller-role",
        name=iam_name(name, "lb-controller"),
        assume_role_policy=assume_role_policy("pods.eks.amazonaws.com", tag_session=True),
        opts=ctx.opts(),
    )
    document = pulumi.Output.all(ctx.partition, ctx.account_id, network.vpc_id).apply(
        lambda args: json.dumps(
            controller_policy(name, partition=args[0], region=ctx.region, account_id=args[1], vpc_id=args[2])
        )
    )
    policy = aws.iam.Policy(
        "lb-controller-policy", name=iam_name(name, "lb-controller"), policy=document, opts=ctx.opts()
    )
    attachment = aws.iam.RolePolicyAttachment(
        "lb-controller-policy", role=role.name, policy_arn=policy.arn, opts=ctx.opts()
    )
    identity = aws.eks.PodIdentityAssociation(
        "lb-controller-pod-identity",
        cluster_name=cluster.name,
        namespace=NAMESPACE,
        service_account=SERVICE_ACCOUNT,
        role_arn=role.arn,
        opts=ctx.opts(depends_on=[attachment]),
    )
    release = k8s.helm.v3.Release(
        "aws-load-balancer-controller",
        name="aws-load-balancer-controller",
        chart=CHART,
        version=ctx.config.aws.lb_controller_version,
        namespace=NAMESPACE,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
        values={
            "clusterName": name,
            # Given, not discovered: pods reach no instance metadata (hop limit 1), so nothing to discover from.
            "region": ctx.region,
            "vpcId": network.vpc_id,
            "serviceAccount": {"name": SERVICE_ACCOUNT},
            "replicaCount": min(2, ctx.config.aws.system_nodes.desired_size),
            "nodeSelector": {"kubernetes.io/os": "linux", NODEGROUP_LABEL: cluster.node_group_name},
        },
        opts=pulumi.ResourceOptions(
            provider=cluster.provider,
            depends_on=[cluster.node_group, cluster.addons["eks-pod-identity-agent"], identity],
        ),
    )
    return LoadBalancerController(role=role, release=release)
