"""Names the program gives AWS resources stay within each API's limits and unique per cluster, however long the
cluster name (EKS allows 100 characters).

Expected limits come from the AWS APIs' own models at the installed botocore (1.44.18): EventBridge PutRule's
``RuleName``, IAM's ``roleNameType`` and ``policyNameType``, EKS CreateCluster's ``ClusterName``, and SQS
CreateQueue's ``QueueName`` documentation (its "up to 80 characters"; the shape itself carries no maximum).
The program runs under Pulumi's mocks (no AWS account here).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session

from inferctl.aws.context import EVENT_RULE_NAME_MAX, IAM_NAME_MAX, IAM_POLICY_NAME_MAX, QUEUE_NAME_MAX
from tests.support.aws import aws_config, of_type, run_program


@cache
def shape(service: str, name: str) -> Any:
    return botocore.session.get_session().get_service_model(service).shape_for(name)


def test_the_name_limits_are_the_apis() -> None:
    assert shape("events", "RuleName").metadata["max"] == EVENT_RULE_NAME_MAX
    assert shape("iam", "roleNameType").metadata["max"] == IAM_NAME_MAX
    assert shape("iam", "policyNameType").metadata["max"] == IAM_POLICY_NAME_MAX
    queue_doc = shape("sqs", "CreateQueueRequest").members["QueueName"].documentation
    assert f"up to {QUEUE_NAME_MAX} characters" in queue_doc
    assert shape("eks", "ClusterName").metadata["max"] == 100


def longest_cluster_name(ending: str) -> str:
    """A valid EKS cluster name of the longest length EKS allows, ending in ``ending``."""
    limit = shape("eks", "ClusterName").metadata["max"]
    name = "inference-platform-" * 6
    name = name[: limit - len(ending)] + ending
    assert re.fullmatch(shape("eks", "ClusterName").metadata["pattern"].lstrip("^") + "$", name)
    return name


def names_of(cluster_name: str) -> dict[str, list[str]]:
    run = run_program(aws_config(cluster_name=cluster_name, public_access_cidrs=["203.0.113.7/32"]))
    return {
        "rules": [r.inputs["name"] for r in of_type(run.resources, "aws:cloudwatch/eventRule:EventRule")],
        "roles": [r.inputs["name"] for r in of_type(run.resources, "aws:iam/role:Role")],
        "policies": [r.inputs["name"] for r in of_type(run.resources, "aws:iam/policy:Policy")],
        "queues": [r.inputs["name"] for r in of_type(run.resources, "aws:sqs/queue:Queue")],
    }


def test_two_long_cluster_names_that_differ_only_at_the_end_get_distinct_valid_names() -> None:
    """Cut at 64 characters with no hash, the five interruption rules of two such clusters had the same names in
    the same region: the second cluster's up failed, or took over the first's rules."""
    one, two = names_of(longest_cluster_name("-a")), names_of(longest_cluster_name("-b"))
    rule_pattern = re.compile(shape("events", "RuleName").metadata["pattern"])
    for names in (one, two):
        assert len(names["rules"]) == len(set(names["rules"])) == 5
        assert all(len(n) <= EVENT_RULE_NAME_MAX and rule_pattern.fullmatch(n) for n in names["rules"])
        assert all(len(n) <= IAM_NAME_MAX for n in names["roles"])
        assert all(len(n) <= IAM_POLICY_NAME_MAX for n in names["policies"])
        assert all(len(n) <= QUEUE_NAME_MAX for n in names["queues"])
    for kind in one:
        assert not set(one[kind]) & set(two[kind]), kind


def test_short_names_are_kept_as_they_are() -> None:
    names = names_of("workshop")
    assert "workshop-spot-interruption" in names["rules"]
    assert names["queues"] == ["workshop"]
