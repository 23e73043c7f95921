"""A model's own Service (ClusterIP everywhere: the gateway is the platform's entry), PodDisruptionBudget and
NetworkPolicy (only the gateway, the interceptor of a sleeping model and Prometheus reach the pods)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferctl.errors import ConfigError
from inferctl.render import render_exposure
from inferctl.render.exposure import render_network_policy, render_service
from inferctl.render.gateway import gateway_selector
from inferctl.render.observability import INSTALLED_PROMETHEUS_PODS, NAMESPACE_NAME
from inferctl.render.wake import INTERCEPTOR_SELECTOR
from tests.support.render import LLAMA3_8B, workshop_config

ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"endpoint": {"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}}},
        {"target": "kubernetes", "endpoint": {"exposure": {"service_type": "LoadBalancer"}}},
    ],
    ids=["aws", "aws-internet-facing", "kubernetes-load-balancer"],
)
def test_a_models_service_is_cluster_ip_whatever_the_exposure(overrides: dict[str, object]) -> None:
    """One load balancer per platform, the gateway's (test_render_gateway): never one per model."""
    config = workshop_config(**overrides)
    service = render_service(config, config.models[0])
    assert service["spec"]["type"] == "ClusterIP" and "annotations" not in service["metadata"]
    assert "loadBalancerClass" not in service["spec"] and "loadBalancerSourceRanges" not in service["spec"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_internet_facing_without_ranges_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="source_ranges"):
        workshop_config(endpoint={"exposure": {"scheme": "internet-facing"}})


def test_pdb_never_blocks_a_single_replica_drain() -> None:
    config = workshop_config()
    network_policy, pdb, service = render_exposure(config, config.models[0])
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert network_policy["kind"] == "NetworkPolicy"


def test_network_policy_admits_only_the_gateway_and_prometheus_on_the_server_port() -> None:
    """On aws: the gateway's pods (same namespace), and the server pods of the Prometheus inferctl installs
    (namespace ``prometheus``). The kubelet's probes come from the node, which a NetworkPolicy always admits."""
    config = workshop_config()
    policy = render_network_policy(config, config.models[0])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "inferctl.io/platform": "genai",
        "inferctl.io/model": "llama-3-8b-instruct",
    }
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": gateway_selector(config)}},
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "prometheus"}},
            "podSelector": {"matchLabels": INSTALLED_PROMETHEUS_PODS},
        },
    ]


def test_a_sleeping_model_admits_the_interceptor_too() -> None:
    config = workshop_config(models=[ZERO])
    peers = render_network_policy(config, config.models[0])["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "keda"}},
        "podSelector": {"matchLabels": INTERCEPTOR_SELECTOR},
    } in peers


def test_on_kubernetes_prometheus_is_admitted_from_its_namespace_or_refused_when_unknown() -> None:
    # the Service a URL names (its grammar and cases: test_prometheus_check, test_the_service_a_prometheus_url_names)
    by_url = workshop_config(
        target="kubernetes", models=[ZERO], observability={"prometheus_url": "http://prom.monitoring.svc:9090"}
    )
    peers = render_network_policy(by_url, by_url.models[0])["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "monitoring"}}} in peers
    named = workshop_config(target="kubernetes", observability={"prometheus": True, "prometheus_namespace": "obs"})
    peers = render_network_policy(named, named.models[0])["spec"]["ingress"][0]["from"]
    assert peers[-1] == {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "obs"}}}
    # nothing scrapes: only the gateway
    plain = workshop_config(target="kubernetes")
    assert render_network_policy(plain, plain.models[0])["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": gateway_selector(plain)}}
    ]
    for observability in ({"prometheus": True}, {"prometheus_url": "http://prometheus.example.com:9090"}):
        unknown = workshop_config(target="kubernetes", models=[ZERO], observability=observability)
        with pytest.raises(ConfigError, match=r"set observability\.prometheus_namespace"):
            render_network_policy(unknown, unknown.models[0])
