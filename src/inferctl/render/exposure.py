"""How a model is reached inside the cluster: its ClusterIP Service, a PodDisruptionBudget and a NetworkPolicy.

Clients never reach a model directly: the platform's one entry is the model gateway (render.gateway), whose
Service is the only one of type LoadBalancer. The gateway reaches each replica at its pod IP (it discovers the
pods; cache-aware routing needs each replica, not a Service's balancing); the KEDA HTTP add-on's interceptor reaches
a sleeping model through its Service (render.wake). The NetworkPolicy admits exactly those callers, and the
Prometheus that scrapes vLLM's ``/metrics``, on vLLM's port.
"""

from __future__ import annotations

from typing import Any, Literal

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import CONTAINER_PORT
from inferctl.kube_names import PORT_NAME
from inferctl.render.gateway import gateway_selector
from inferctl.render.meta import SERVICE_PORT, Object, model_metadata, selector_labels
from inferctl.render.observability import NAMESPACE_NAME, scraper_peer
from inferctl.render.wake import INTERCEPTOR_SELECTOR, KEDA_NAMESPACE


def service_type(config: PlatformConfig) -> Literal["ClusterIP", "LoadBalancer"]:
    """The type of the platform's entry (the gateway's Service); model Services are always ClusterIP."""
    return config.endpoint_service_type


def render_service(config: PlatformConfig, model: ModelDeployment) -> Object:
    """In the cluster only: the interceptor's target for a model that scales to zero, and a stable name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": model_metadata(config, model),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(config, model),
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def render_disruption_budget(config: PlatformConfig, model: ModelDeployment) -> Object:
    """At most one replica away at a time for voluntary disruptions (drains, upgrades).

    ``maxUnavailable: 1`` rather than ``minAvailable``: a single replica must not block node drains forever.
    Pods still loading may be evicted (``AlwaysAllow``) so a stuck start never blocks maintenance.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": model_metadata(config, model),
        "spec": {
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": selector_labels(config, model)},
        },
    }


def callers(config: PlatformConfig, model: ModelDeployment) -> list[dict[str, Any]]:
    """Who may reach the model's pods: the gateway's pods; the interceptor's, when the model sleeps at zero; the
    Prometheus that scrapes them (render.observability). The kubelet's probes come from the node, which a
    NetworkPolicy always admits ("traffic to and from the node where a Pod is running is always allowed":
    kubernetes.io, Concepts, "Network Policies")."""
    peers: list[dict[str, Any]] = [{"podSelector": {"matchLabels": gateway_selector(config)}}]
    if model.autoscaling is not None and model.autoscaling.scales_to_zero:
        peers.append(
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: KEDA_NAMESPACE}},
                "podSelector": {"matchLabels": dict(INTERCEPTOR_SELECTOR)},
            }
        )
    scraper = scraper_peer(config)
    if scraper is not None:
        peers.append(scraper)
    return peers


def render_network_policy(config: PlatformConfig, model: ModelDeployment) -> Object:
    """Ingress to the model's pods only from :func:`callers`, only on the server port (API, /health, /metrics).
    Egress stays open: the pod downloads weights from the hub."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": model_metadata(config, model),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(config, model)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": callers(config, model), "ports": [{"protocol": "TCP", "port": CONTAINER_PORT}]},
            ],
        },
    }


def render_exposure(config: PlatformConfig, model: ModelDeployment) -> list[Object]:
    """NetworkPolicy, PodDisruptionBudget and Service of ``model``."""
    return [
        render_network_policy(config, model),
        render_disruption_budget(config, model),
        render_service(config, model),
    ]
