"""Service (NLB on AWS, internal by default), PodDisruptionBudget and NetworkPolicy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferctl.render import render_exposure
from inferctl.render.exposure import render_network_policy, render_service
from tests.support.render import workshop_config

ANN = "service.beta.kubernetes.io/aws-load-balancer-"


def test_aws_default_is_an_internal_nlb() -> None:
    config = workshop_config()
    service = render_service(config, config.models[0])
    annotations = service["metadata"]["annotations"]
    assert annotations[f"{ANN}type"] == "external"
    assert annotations[f"{ANN}nlb-target-type"] == "ip"
    assert annotations[f"{ANN}scheme"] == "internal"
    assert annotations[f"{ANN}healthcheck-path"] == "/health"
    assert "inferctl.io/platform=genai" in annotations[f"{ANN}additional-resource-tags"]
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert "loadBalancerSourceRanges" not in spec


def test_internet_facing_carries_source_ranges() -> None:
    config = workshop_config(
        endpoint={"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24", "198.51.100.7/32"]}}
    )
    service = render_service(config, config.models[0])
    assert service["metadata"]["annotations"][f"{ANN}scheme"] == "internet-facing"
    assert service["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_internet_facing_without_ranges_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="source_ranges"):
        workshop_config(endpoint={"exposure": {"scheme": "internet-facing"}})


def test_plain_cluster_gets_cluster_ip_or_a_plain_load_balancer() -> None:
    config = workshop_config(target="kubernetes")
    service = render_service(config, config.models[0])
    assert service["spec"]["type"] == "ClusterIP"
    assert "annotations" not in service["metadata"]
    config = workshop_config(target="kubernetes", endpoint={"exposure": {"service_type": "LoadBalancer"}})
    service = render_service(config, config.models[0])
    assert service["spec"]["type"] == "LoadBalancer"
    assert "loadBalancerClass" not in service["spec"] and "annotations" not in service["metadata"]


def test_aws_cluster_ip_when_asked() -> None:
    config = workshop_config(endpoint={"exposure": {"service_type": "ClusterIP"}})
    service = render_service(config, config.models[0])
    assert service["spec"]["type"] == "ClusterIP" and "annotations" not in service["metadata"]


def test_pdb_never_blocks_a_single_replica_drain() -> None:
    config = workshop_config()
    network_policy, pdb, service = render_exposure(config, config.models[0])
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert network_policy["kind"] == "NetworkPolicy"


def test_network_policy_admits_only_the_server_port() -> None:
    config = workshop_config()
    policy = render_network_policy(config, config.models[0])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8000}]}]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "inferctl.io/platform": "genai",
        "inferctl.io/model": "llama-3-8b-instruct",
    }
