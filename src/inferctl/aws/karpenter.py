"""Karpenter on the cluster: the controller's IAM (pod identity), the node role, the interruption queue and its
EventBridge rules, the Helm release, then the EC2NodeClasses and NodePools the renderer produces.

IAM, queue and rules follow Karpenter's v1.14.1 getting-started template (:mod:`karpenter_reference`); the
controller runs on the system node group, so it never schedules onto the nodes it manages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferctl.aws import karpenter_reference as ref
from inferctl.aws.context import (
    IAM_POLICY_NAME_MAX,
    QUEUE_NAME_MAX,
    ProgramContext,
    assume_role_policy,
    event_rule_name,
)
from inferctl.aws.eks import NODEGROUP_LABEL, Cluster
from inferctl.kube_names import bounded_name
from inferctl.render import node_role_name, render_karpenter
from inferctl.sizing.system_pods import KARPENTER_MEMORY_LIMIT_MIB, KARPENTER_REQUESTS, container_resources

HELM_TIMEOUT_S = 900


@dataclass(frozen=True)
class Karpenter:
    node_role: aws.iam.Role
    queue: aws.sqs.Queue
    release: k8s.helm.v3.Release
    objects: list[k8s.apiextensions.CustomResource]


def rule_slug(rule: str) -> str:
    """``SpotInterruptionRule`` -> ``spot-interruption``."""
    words = re.findall(r"[A-Z][a-z]+|[A-Z]+(?![a-z])", rule.removesuffix("Rule"))
    return "-".join(word.lower() for word in words)


def controller_values(ctx: ProgramContext, cluster: Cluster, queue_name: pulumi.Input[str]) -> dict[str, Any]:
    """Helm values: cluster and queue settings, two replicas pinned to the system node group."""
    return {
        "settings": {
            "clusterName": ctx.cluster_name,
            "clusterEndpoint": cluster.endpoint,
            "interruptionQueue": queue_name,
        },
        "serviceAccount": {"name": ref.KARPENTER_SERVICE_ACCOUNT},
        "replicas": min(2, ctx.config.aws.system_nodes.desired_size),
        "nodeSelector": {"kubernetes.io/os": "linux", NODEGROUP_LABEL: cluster.node_group_name},
        "controller": {
            # The chart's values.yaml (controller.env, commented example) names AWS_REGION: without it the
            # controller asks instance metadata, which pods cannot reach (hop limit 1 on the system nodes).
            "env": [{"name": "AWS_REGION", "value": ctx.region}],
            "resources": container_resources(KARPENTER_REQUESTS, memory_limit_mib=KARPENTER_MEMORY_LIMIT_MIB),
        },
    }


def build_karpenter(ctx: ProgramContext, cluster: Cluster, *, after: Sequence[pulumi.Resource] = ()) -> Karpenter:
    """``after``: the load balancer controller's release (its Service webhook: see inferctl.aws.lb_controller)."""
    name = ctx.cluster_name
    node_role = aws.iam.Role(
        "karpenter-node-role",
        name=node_role_name(ctx.config),
        assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
        opts=ctx.opts(),
    )
    node_policies = [
        aws.iam.RolePolicyAttachment(
            f"karpenter-node-{policy}", role=node_role.name, policy_arn=ctx.managed_policy_arn(policy), opts=ctx.opts()
        )
        for policy in ref.NODE_ROLE_MANAGED_POLICIES
    ]
    node_access = aws.eks.AccessEntry(
        "karpenter-node-access",
        cluster_name=cluster.name,
        principal_arn=node_role.arn,
        type="EC2_LINUX",
        opts=ctx.opts(depends_on=node_policies),
    )
    queue = _interruption_queue(ctx)
    controller_role = ctx.iam_role(
        "karpenter-controller-role",
        "karpenter-controller",
        assume_role_policy("pods.eks.amazonaws.com", tag_session=True),
    )
    placeholders = pulumi.Output.all(ctx.partition, ctx.account_id, node_role.arn, queue.arn).apply(
        lambda args: {
            "AWS::Partition": args[0],
            "AWS::Region": ctx.region,
            "AWS::AccountId": args[1],
            "ClusterName": name,
            "KarpenterNodeRole.Arn": args[2],
            "KarpenterInterruptionQueue.Arn": args[3],
        }
    )
    attachments: list[pulumi.Resource] = []
    for policy_name, document in ref.CONTROLLER_POLICIES.items():
        policy = aws.iam.Policy(
            f"karpenter-{policy_name}",
            name=bounded_name(f"KarpenterController{policy_name}-{name}-{ctx.region}", IAM_POLICY_NAME_MAX),
            policy=placeholders.apply(_filled(document)),
            opts=ctx.opts(),
        )
        attachments.append(
            aws.iam.RolePolicyAttachment(
                f"karpenter-{policy_name}", role=controller_role.name, policy_arn=policy.arn, opts=ctx.opts()
            )
        )
    identity = aws.eks.PodIdentityAssociation(
        "karpenter-pod-identity",
        cluster_name=cluster.name,
        namespace=ref.KARPENTER_NAMESPACE,
        service_account=ref.KARPENTER_SERVICE_ACCOUNT,
        role_arn=controller_role.arn,
        opts=ctx.opts(depends_on=attachments),
    )
    release = k8s.helm.v3.Release(
        "karpenter",
        name="karpenter",
        chart=ref.KARPENTER_CHART,
        version=ctx.config.aws.karpenter_version,
        namespace=ref.KARPENTER_NAMESPACE,
        # Pulled anonymously (a public chart): a registry token would be a new input on every run and re-deploy
        # the release each 'up'.
        values=controller_values(ctx, cluster, queue.name),
        timeout=HELM_TIMEOUT_S,
        opts=pulumi.ResourceOptions(
            provider=cluster.provider,
            depends_on=[
                cluster.node_group,
                cluster.addons["eks-pod-identity-agent"],
                identity,
                node_access,
                *after,
            ],
        ),
    )
    return Karpenter(node_role=node_role, queue=queue, release=release, objects=_node_pools(ctx, cluster, release))


def _filled(document: dict[str, Any]) -> Callable[[dict[str, str]], str]:
    """A function filling ``document``'s placeholders (one per policy: a loop variable would bind late)."""

    def fill(values: dict[str, str]) -> str:
        return json.dumps(ref.substitute(document, values))

    return fill


def _interruption_queue(ctx: ProgramContext) -> aws.sqs.Queue:
    name = ctx.cluster_name
    queue = aws.sqs.Queue(
        "karpenter-interruption-queue",
        name=bounded_name(name, QUEUE_NAME_MAX),
        message_retention_seconds=ref.QUEUE_MESSAGE_RETENTION_S,
        sqs_managed_sse_enabled=ref.QUEUE_SSE_ENABLED,
        opts=ctx.opts(),
    )
    aws.sqs.QueuePolicy(
        "karpenter-interruption-queue-policy",
        queue_url=queue.url,
        policy=queue.arn.apply(lambda arn: json.dumps(ref.queue_policy(arn))),
        opts=ctx.opts(),
    )
    for rule_name, pattern in ref.INTERRUPTION_RULES.items():
        slug = rule_slug(rule_name)
        rule = aws.cloudwatch.EventRule(
            f"karpenter-{slug}",
            name=event_rule_name(name, slug),
            event_pattern=json.dumps(pattern),
            opts=ctx.opts(),
        )
        aws.cloudwatch.EventTarget(
            f"karpenter-{slug}",
            rule=rule.name,
            arn=queue.arn,
            target_id=ref.QUEUE_TARGET_ID,
            opts=ctx.opts(),
        )
    return queue


def _node_pools(
    ctx: ProgramContext, cluster: Cluster, release: k8s.helm.v3.Release
) -> list[k8s.apiextensions.CustomResource]:
    """The renderer's Karpenter objects, after the chart installed their CRDs; NodePools after their classes."""
    created: list[k8s.apiextensions.CustomResource] = []
    classes: list[pulumi.Resource] = []
    for obj in render_karpenter(ctx.config):
        kind = obj["kind"]
        depends: list[pulumi.Resource] = [release, *classes] if kind == "NodePool" else [release]
        resource = k8s.apiextensions.CustomResource(
            f"{kind.lower()}-{obj['metadata']['name']}",
            api_version=obj["apiVersion"],
            kind=kind,
            metadata=obj["metadata"],
            spec=obj.get("spec"),
            opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=depends),
        )
        if kind == "EC2NodeClass":
            classes.append(resource)
        created.append(resource)
    return created
