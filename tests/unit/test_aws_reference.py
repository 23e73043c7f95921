"""The Karpenter facts packaged in ``inferctl.aws.karpenter_reference`` match Karpenter's v1.14.1 template.

Reads ``<repo>/../shared/reference/karpenter-v1.14.1/getting-started-cloudformation.yaml`` and skips when
that shared folder is absent (the package never reads it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from inferctl.aws import karpenter_reference as ref
from tests.support.aws import KARPENTER_REFERENCE


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Sub, !GetAtt, !Ref) kept as {"!Tag": value}."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return {"!" + suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {"!" + suffix: loader.construct_sequence(node)}
    assert isinstance(node, yaml.MappingNode)
    return {"!" + suffix: loader.construct_mapping(node)}


_CloudFormationLoader.add_multi_constructor("!", _tagged)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    if not KARPENTER_REFERENCE.is_file():
        pytest.skip(f"shared reference not present at {KARPENTER_REFERENCE}")
    loaded: dict[str, Any] = yaml.load(KARPENTER_REFERENCE.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    resources: dict[str, Any] = loaded["Resources"]
    return resources


def test_the_six_controller_policies_are_the_templates(template: dict[str, Any]) -> None:
    expected = {
        name: json.loads(resource["Properties"]["PolicyDocument"]["!Sub"])
        for name, resource in template.items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }
    assert expected == ref.CONTROLLER_POLICIES


def test_the_five_rules_are_the_templates(template: dict[str, Any]) -> None:
    expected = {
        name: resource["Properties"]["EventPattern"]
        for name, resource in template.items()
        if resource["Type"] == "AWS::Events::Rule"
    }
    assert expected == ref.INTERRUPTION_RULES
    for name, resource in template.items():
        if resource["Type"] == "AWS::Events::Rule":
            assert resource["Properties"]["Targets"][0]["Id"] == ref.QUEUE_TARGET_ID, name


def test_queue_node_role_and_queue_policy_are_the_templates(template: dict[str, Any]) -> None:
    queue = template["KarpenterInterruptionQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == ref.QUEUE_MESSAGE_RETENTION_S
    assert queue["SqsManagedSseEnabled"] is ref.QUEUE_SSE_ENABLED
    arns = template["KarpenterNodeRole"]["Properties"]["ManagedPolicyArns"]
    assert tuple(a["!Sub"].rsplit("/", 1)[-1] for a in arns) == ref.NODE_ROLE_MANAGED_POLICIES
    expected = template["KarpenterInterruptionQueuePolicy"]["Properties"]["PolicyDocument"]
    ours = ref.queue_policy("QUEUE_ARN")
    assert ours["Id"] == expected["Id"]
    for mine, theirs in zip(ours["Statement"], expected["Statement"], strict=True):
        assert mine == {**theirs, "Resource": "QUEUE_ARN"}  # theirs: !GetAtt KarpenterInterruptionQueue.Arn


def test_substitute_fills_every_placeholder_and_nothing_else() -> None:
    document = {"Resource": "arn:${AWS::Partition}:eks:${AWS::Region}::cluster/${ClusterName}", "n": 1}
    filled = ref.substitute(document, {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "ClusterName": "c"})
    assert filled == {"Resource": "arn:aws:eks:eu-west-1::cluster/c", "n": 1}
