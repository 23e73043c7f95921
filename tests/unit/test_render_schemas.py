"""Every rendered object validates against the real schemas.

Core kinds: kubernetes-validate's strict OpenAPI schemas (unknown fields are errors) for the configured
``kubernetes.kubernetes_version`` (or the closest packaged older version). Karpenter kinds: the v1.14.1 CRDs'
``openAPIV3Schema`` from ``<repo>/../shared`` (skipped with a reason when absent), made strict the same way,
plus their CEL rules checked by hand. KEDA and HTTP add-on kinds: their v2.20.2 / v0.15.0 CRDs, the same way
(``tests.support.keda``). PodMonitor: structurally (no Prometheus Operator CRD is available here).
"""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest

from inferctl.render import render_platform
from tests.support.keda import KEDA_KINDS, validate_keda
from tests.support.render import (
    CORE_KINDS,
    by_kind,
    crd_schema,
    node_class_cel,
    node_pool_cel,
    placements_for,
    schema_version,
    validate_core,
    validate_karpenter,
    validate_pod_monitor,
    variant_configs,
    workshop_config,
)

VARIANTS = variant_configs()


def _rendered(name: str) -> list[dict]:
    config = VARIANTS[name]
    return render_platform(config, placements_for(config))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_validates(variant: str) -> None:
    config = VARIANTS[variant]
    objects = _rendered(variant)
    kinds = {o["kind"] for o in objects}
    assert kinds <= CORE_KINDS | {"NodePool", "EC2NodeClass", "PodMonitor"} | KEDA_KINDS, kinds
    for obj in objects:
        if obj["kind"] in KEDA_KINDS:
            validate_keda(obj)
        elif obj["kind"] in CORE_KINDS:
            validate_core(obj, config.kubernetes.kubernetes_version)
        elif obj["kind"] == "PodMonitor":
            validate_pod_monitor(obj, _monitored(objects, obj))
        else:
            validate_karpenter(obj)


def _monitored(objects: list[dict], monitor: dict) -> list[dict]:
    """The Deployments a PodMonitor is for: the gateway's for the gateway's, the model servers' for vLLM's."""
    gateway = monitor["metadata"]["name"].endswith("-gateway")
    return [
        d
        for d in by_kind(objects, "Deployment")
        if (d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway") == gateway
    ]


def test_variants_cover_every_kind() -> None:
    kinds = {o["kind"] for name in VARIANTS for o in _rendered(name)}
    assert kinds == CORE_KINDS | {"NodePool", "EC2NodeClass", "PodMonitor", "ScaledObject", "InterceptorRoute"}


def test_schema_version_picks_closest_packaged() -> None:
    assert schema_version("1.33") == "1.33"
    assert schema_version("1.99") == schema_version("1.98")  # the newest packaged
    assert schema_version("1.10") == schema_version("1.11")  # the oldest packaged


def test_core_validation_catches_a_typo() -> None:
    config = workshop_config()
    deployment = by_kind(render_platform(config, placements_for(config)), "Deployment")[0]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_core(broken, "1.33")


def test_karpenter_validation_catches_a_typo_and_a_bad_value() -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config))
    pool = copy.deepcopy(by_kind(objects, "NodePool")[0])
    pool["spec"]["disruption"]["consolidateafter"] = "1h"
    with pytest.raises(jsonschema.ValidationError):
        validate_karpenter(pool)
    node_class = copy.deepcopy(by_kind(objects, "EC2NodeClass")[0])
    node_class["spec"]["blockDeviceMappings"][0]["ebs"]["volumeType"] = "gp9"
    with pytest.raises(jsonschema.ValidationError):
        validate_karpenter(node_class)
    assert "required" in crd_schema("NodePool")["properties"]["spec"]


def test_hand_checked_cel_rules_catch_violations() -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config))
    node_class = copy.deepcopy(by_kind(objects, "EC2NodeClass")[0]["spec"])
    node_class["instanceProfile"] = "x"
    node_class["amiSelectorTerms"].append({"id": "ami-123"})
    node_class["tags"]["karpenter.sh/nodepool"] = "x"
    assert len(node_class_cel(node_class)) == 3
    pool = copy.deepcopy(by_kind(objects, "NodePool")[0]["spec"])
    pool["template"]["spec"]["requirements"].append({"key": "karpenter.sh/nodepool", "operator": "In", "values": []})
    pool["disruption"]["budgets"].append({"nodes": "1", "schedule": "@daily"})
    assert len(node_pool_cel(pool)) == 3


def test_pod_monitor_check_fails_when_it_selects_nothing() -> None:
    config = VARIANTS["aws-internet-al2023-prometheus"]
    objects = render_platform(config, placements_for(config))
    for original in by_kind(objects, "PodMonitor"):
        monitor = copy.deepcopy(original)
        monitor["spec"]["selector"]["matchLabels"]["inferctl.io/platform"] = "other"
        with pytest.raises(AssertionError):
            validate_pod_monitor(monitor, _monitored(objects, original))
