"""Karpenter's AWS facts, copied from its getting-started CloudFormation template.

Source: Karpenter v1.14.1, the getting-started ``cloudformation.yaml`` of its documentation (the copy in
``shared/reference/karpenter-v1.14.1/getting-started-cloudformation.yaml``), taken 2026-07-20.
The controller policies keep the template's six managed policies (one document would pass IAM's
6,144-character limit) and its ``${...}`` placeholders, which :func:`substitute` fills in. A unit test
compares these facts with the reference file whenever it is present, so a drift shows up as a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"

# The node role of the template (KarpenterNodeRole): trusted by EC2, with these AWS managed policies.
NODE_ROLE_MANAGED_POLICIES = (
    "AmazonEKS_CNI_Policy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)

# The interruption queue (KarpenterInterruptionQueue): named after the cluster.
QUEUE_MESSAGE_RETENTION_S = 300
QUEUE_SSE_ENABLED = True
QUEUE_TARGET_ID = "KarpenterInterruptionQueueTarget"


def queue_policy(queue_arn: str) -> dict[str, Any]:
    """KarpenterInterruptionQueuePolicy: EventBridge and SQS may send; plain HTTP is denied."""
    return {
        "Id": "EC2InterruptionPolicy",
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": False}},
                "Principal": "*",
            },
        ],
    }


def substitute(document: Any, values: Mapping[str, str]) -> Any:
    """Replace the ``${Name}`` placeholders (``AWS::Partition``, ``ClusterName``...) in every string."""
    if isinstance(document, str):
        for name, value in values.items():
            document = document.replace("${" + name + "}", value)
        return document
    if isinstance(document, list):
        return [substitute(item, values) for item in document]
    if isinstance(document, dict):
        return {substitute(key, values): substitute(item, values) for key, item in document.items()}
    return document


# --- copied data: the six controller policies, then the five EventBridge rules (name -> event pattern) ---

_CLUSTER_ARN = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
# What a launch creates: the template gives the same list to launching with tags and to tagging on creation.
_LAUNCHED_RESOURCES = [
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:fleet/*",
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:volume/*",
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:network-interface/*",
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:spot-instances-request/*",
]

CONTROLLER_POLICIES: dict[str, dict[str, Any]] = {
    "NodeLifecyclePolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Resource": [
                    "arn:${AWS::Partition}:ec2:${AWS::Region}::image/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:security-group/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:subnet/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:capacity-reservation/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:placement-group/*",
                ],
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Resource": _LAUNCHED_RESOURCES,
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Resource": _LAUNCHED_RESOURCES,
                "Action": "ec2:CreateTags",
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
                "Action": "ec2:CreateTags",
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Resource": [
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
                    "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
                ],
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
        ],
    },
    "IAMIntegrationPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Resource": "${KarpenterNodeRole.Arn}",
                "Action": "iam:PassRole",
                "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
                "Action": ["iam:CreateInstanceProfile"],
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                        "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}",
                    },
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
                "Action": ["iam:TagInstanceProfile"],
                "Condition": {
                    "StringEquals": {
                        "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}",
                        "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                        "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}",
                    },
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:DeleteInstanceProfile",
                ],
                "Condition": {
                    "StringEquals": {
                        "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}",
                    },
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
        ],
    },
    "EKSIntegrationPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Resource": _CLUSTER_ARN,
                "Action": "eks:DescribeCluster",
            }
        ],
    },
    "InterruptionPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Resource": "${KarpenterInterruptionQueue.Arn}",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            }
        ],
    },
    "ZonalShiftPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowZonalShiftStatusReadOnly",
                "Effect": "Allow",
                "Resource": "*",
                "Action": ["arc-zonal-shift:GetManagedResource"],
                "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": _CLUSTER_ARN}},
            }
        ],
    },
    "ResourceDiscoveryPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Condition": {"StringEquals": {"aws:RequestedRegion": "${AWS::Region}"}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/*",
                "Action": "ssm:GetParameter",
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Resource": "*",
                "Action": "pricing:GetProducts",
            },
            {
                "Sid": "AllowUnscopedInstanceProfileListAction",
                "Effect": "Allow",
                "Resource": "*",
                "Action": "iam:ListInstanceProfiles",
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
                "Action": "iam:GetInstanceProfile",
            },
        ],
    },
}

INTERRUPTION_RULES: dict[str, dict[str, list[str]]] = {
    "ScheduledChangeRule": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "SpotInterruptionRule": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    },
    "RebalanceRule": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "InstanceStateChangeRule": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
    "CapacityReservationInterruptionRule": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
