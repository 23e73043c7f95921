"""What every part of the Pulumi program shares: the config, one explicit AWS provider, account facts, names.

An explicit provider (not the ambient one) keeps the program independent of the stack's config and of
``AWS_REGION``: the region is the config's, and the provider's default tags mark every resource as inferctl's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferctl.config.models import PlatformConfig
from inferctl.kube_names import KARPENTER_DISCOVERY, LABEL_PLATFORM, bounded_name

IAM_NAME_MAX = 64
# EventBridge PutRule's Name (botocore 1.44.18 data/events/2015-10-07/service-2.json, shape RuleName: 1-64 of
# [.-_A-Za-z0-9]); rules are regional, so unlike IAM names they need no region.
EVENT_RULE_NAME_MAX = 64
IAM_POLICY_NAME_MAX = 128  # IAM CreatePolicy's PolicyName (botocore 1.44.18 iam model, shape policyNameType)
QUEUE_NAME_MAX = 80  # SQS CreateQueue's QueueName: "up to 80 characters" (botocore 1.44.18 sqs model's documentation)
PLATFORM_TAG = LABEL_PLATFORM  # the key the renderer uses on Kubernetes objects and node tags
MANAGED_BY_TAG = "inferctl.io/managed-by"
DISCOVERY_TAG = KARPENTER_DISCOVERY  # Karpenter's EC2NodeClass finds subnets and security groups by it


def iam_name(cluster_name: str, suffix: str, region: str) -> str:
    """An IAM role or policy name for this cluster in this region (IAM names are global to the account, so the
    same platform name in two regions must not collide), within IAM's 64 characters (:func:`bounded_name`)."""
    return bounded_name(f"{cluster_name}-{suffix}-{region}", IAM_NAME_MAX)


def event_rule_name(cluster_name: str, rule: str) -> str:
    """An EventBridge rule name for this cluster, within EventBridge's 64 characters (:func:`bounded_name`)."""
    return bounded_name(f"{cluster_name}-{rule}", EVENT_RULE_NAME_MAX)


def assume_role_policy(service: str, *, tag_session: bool = False) -> str:
    """A trust policy letting ``service`` (e.g. ``eks.amazonaws.com``) assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}],
        }
    )


def principal_for_access_entry(caller_arn: str) -> str:
    """The IAM principal behind the caller of STS GetCallerIdentity, as far as its ARN tells.

    An assumed-role session (``arn:aws:sts::123:assumed-role/Admin/alice``) is granted through its role
    (``arn:aws:iam::123:role/Admin``); users and roles are named as they are. A session's ARN does not carry its
    role's path (IAM Identity Center roles live under ``/aws-reserved/sso.amazonaws.com/``) and EKS rejects a
    role ARN without it, so the program looks the role's full ARN up (:func:`inferctl.aws.eks.deployer_principal`).
    """
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


@dataclass(frozen=True)
class ProgramContext:
    """The config plus the provider and the account facts resolved once per program run."""

    config: PlatformConfig
    provider: aws.Provider
    partition: pulumi.Output[str]
    account_id: pulumi.Output[str]
    caller_arn: pulumi.Output[str]
    # Called with the cluster's endpoint before any Kubernetes resource; None under mocks (no network).
    endpoint_probe: Callable[[str], Awaitable[None]] | None = None

    @property
    def cluster_name(self) -> str:
        return self.config.cluster_name

    @property
    def region(self) -> str:
        return self.config.aws.region

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def invoke_opts(self) -> pulumi.InvokeOptions:
        return pulumi.InvokeOptions(provider=self.provider)

    def iam_role(self, resource: str, purpose: str, trust: str | pulumi.Output[str]) -> aws.iam.Role:
        """An IAM role named for this cluster and region (:func:`iam_name`) that ``trust`` lets assume it."""
        return aws.iam.Role(
            resource, name=iam_name(self.cluster_name, purpose, self.region), assume_role_policy=trust, opts=self.opts()
        )

    def managed_policy_arn(self, name: str) -> pulumi.Output[str]:
        return self.partition.apply(lambda partition: f"arn:{partition}:iam::aws:policy/{name}")


def default_tags(config: PlatformConfig) -> dict[str, str]:
    return {PLATFORM_TAG: config.name, MANAGED_BY_TAG: "inferctl", **config.aws.tags}


def make_context(
    config: PlatformConfig, *, endpoint_probe: Callable[[str], Awaitable[None]] | None = None
) -> ProgramContext:
    provider = aws.Provider(
        "aws",
        region=config.aws.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(config)),
    )
    invoke = pulumi.InvokeOptions(provider=provider)
    identity = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    return ProgramContext(
        config=config,
        provider=provider,
        partition=partition.partition,
        account_id=identity.account_id,
        caller_arn=identity.arn,
        endpoint_probe=endpoint_probe,
    )
