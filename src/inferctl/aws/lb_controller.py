"""The AWS Load Balancer Controller, so a Service's NLB annotations produce an NLB (the in-tree controller would
make a Classic ELB that nothing tears down).

Its IAM policy is the project's official one for the pinned release, shipped unchanged
(kubernetes-sigs/aws-load-balancer-controller, tag v2.14.0, ``docs/install/iam_policy.json``; chart 1.14.0 has
``appVersion: v2.14.0`` in ``helm/aws-load-balancer-controller/Chart.yaml``). A narrower hand-written policy broke
the first real run: the controller tags each listener it creates, the official policy allows that with an
unconditional AddTags/RemoveTags statement on ``listener/*`` and ``listener-rule/*``, and without it the NLB got no
listener. The controller gets the policy through EKS Pod Identity.

Chart 3.5.x (controller v3.5.0) is not adopted here: its IAM policy is statement-for-statement the same as
v2.14.0's (so it would not have fixed anything), and a major version's upgrade notes deserve their own change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferctl.aws.context import ProgramContext, assume_role_policy, iam_name
from inferctl.aws.eks import NODEGROUP_LABEL, Cluster
from inferctl.aws.network import Network
from inferctl.config.models import LB_CONTROLLER_APP_VERSIONS
from inferctl.sizing.system_pods import LB_CONTROLLER_REQUESTS, container_resources

# The chart registers a mutating webhook for every Service created (values.yaml enableServiceMutatorWebhook: true,
# serviceMutatorWebhookConfig.failurePolicy: Fail, chart 1.14.0), so until the controller's pods answer, creating
# any Service fails ("no endpoints available for service aws-load-balancer-webhook-service":
# kubernetes-sigs/aws-load-balancer-controller issue 4140). Releases that create Services wait for this one.
CHART = "aws-load-balancer-controller"
CHART_REPO = "https://aws.github.io/eks-charts"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"


def app_version(chart_version: str) -> str:
    """The controller release a chart version installs (whose official policy is packaged)."""
    return LB_CONTROLLER_APP_VERSIONS[chart_version]


def policy_file(chart_version: str) -> str:
    return f"aws-load-balancer-controller-iam-policy-{app_version(chart_version)}.json"


def controller_policy(chart_version: str) -> dict[str, Any]:
    """The official IAM policy of the controller that ``chart_version`` installs, as published."""
    text = files("inferctl.aws").joinpath("data", policy_file(chart_version)).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@dataclass(frozen=True)
class LoadBalancerController:
    role: aws.iam.Role
    release: k8s.helm.v3.Release


def build_lb_controller(ctx: ProgramContext, cluster: Cluster, network: Network) -> LoadBalancerController:
    name = ctx.cluster_name
    role = ctx.iam_role(
        "lb-controller-role", "lb-controller", assume_role_policy("pods.eks.amazonaws.com", tag_session=True)
    )
    document = json.dumps(controller_policy(ctx.config.aws.lb_controller_version))
    policy = aws.iam.Policy(
        "lb-controller-policy", name=iam_name(name, "lb-controller", ctx.region), policy=document, opts=ctx.opts()
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
            # The chart requests nothing (values.yaml resources: {}); its comment's suggestion, as requests, so the
            # system node group is sized for it (sizing.system_pods).
            "resources": container_resources(LB_CONTROLLER_REQUESTS),
            "nodeSelector": {"kubernetes.io/os": "linux", NODEGROUP_LABEL: cluster.node_group_name},
        },
        opts=pulumi.ResourceOptions(
            provider=cluster.provider,
            depends_on=[cluster.node_group, cluster.addons["eks-pod-identity-agent"], identity],
        ),
    )
    return LoadBalancerController(role=role, release=release)
