"""How a model is reached: its Service, a PodDisruptionBudget and a NetworkPolicy.

On AWS the Service is an NLB made by the AWS Load Balancer Controller (``loadBalancerClass`` makes the choice
explicit, so the legacy in-tree controller never races it), IP targets, scheme internal unless the config asks
for internet-facing (then with source ranges, which the config requires). Elsewhere: ClusterIP, or a plain
LoadBalancer when asked.
"""

from __future__ import annotations

from typing import Any, Literal

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import CONTAINER_PORT
from inferctl.kube_names import LABEL_PLATFORM, PORT_NAME
from inferctl.render.drain import nlb_deregistration_delay_s
from inferctl.render.meta import SERVICE_PORT, Object, model_metadata, selector_labels
from inferctl.render.workload import HEALTH_PATH
from inferctl.sizing.placement import Placement
from inferctl.sizing.request_timeouts import RequestTimeouts, request_timeouts

AWS_LB_CLASS = "service.k8s.aws/nlb"
_ANN = "service.beta.kubernetes.io/aws-load-balancer-"


def service_type(config: PlatformConfig) -> Literal["ClusterIP", "LoadBalancer"]:
    return config.endpoint_service_type


def _nlb_annotations(config: PlatformConfig, timeouts: RequestTimeouts) -> dict[str, str]:
    tags = {LABEL_PLATFORM: config.name, **config.aws.tags}
    return {
        f"{_ANN}type": "external",
        f"{_ANN}nlb-target-type": "ip",
        f"{_ANN}scheme": config.endpoint.exposure.scheme,
        f"{_ANN}healthcheck-protocol": "http",
        f"{_ANN}healthcheck-path": HEALTH_PATH,
        f"{_ANN}healthcheck-port": "traffic-port",
        # Connections of a terminating pod may live as long as its drain; no longer (render/drain.py).
        f"{_ANN}target-group-attributes": f"deregistration_delay.timeout_seconds={nlb_deregistration_delay_s(config)}",
        # A flow silent this long is closed: longer than the answer's first byte may take (sizing.request_timeouts).
        f"{_ANN}listener-attributes.TCP-{SERVICE_PORT}": f"tcp.idle_timeout.seconds={timeouts.load_balancer_s}",
        # Tagged so teardown can find a load balancer that outlived its Service.
        f"{_ANN}additional-resource-tags": ",".join(f"{k}={v}" for k, v in sorted(tags.items())),
    }


def render_service(config: PlatformConfig, model: ModelDeployment, placement: Placement | None = None) -> Object:
    """``placement`` matters only to a model that scales to zero (its wake timeout), whose Service goes behind
    the interceptor without these annotations (render.autoscaling.behind_interceptor)."""
    kind = service_type(config)
    exposure = config.endpoint.exposure
    on_aws_lb = kind == "LoadBalancer" and config.traits.load_balancer_by_default
    spec: dict[str, Any] = {
        "type": kind,
        "selector": selector_labels(config, model),
        "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }
    if on_aws_lb:
        spec["loadBalancerClass"] = AWS_LB_CLASS
    if kind == "LoadBalancer" and exposure.source_ranges:
        spec["loadBalancerSourceRanges"] = list(exposure.source_ranges)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": model_metadata(
            config,
            model,
            annotations=_nlb_annotations(config, request_timeouts(config, model, placement)) if on_aws_lb else None,
        ),
        "spec": spec,
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


def render_network_policy(config: PlatformConfig, model: ModelDeployment) -> Object:
    """Ingress to the model's pods only on the server port (API, /health, /metrics). Egress stays open: the
    pod downloads weights from the hub."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": model_metadata(config, model),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(config, model)},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": CONTAINER_PORT}]}],
        },
    }


def render_exposure(config: PlatformConfig, model: ModelDeployment, placement: Placement | None = None) -> list[Object]:
    """NetworkPolicy, PodDisruptionBudget and Service of ``model``."""
    return [
        render_network_policy(config, model),
        render_disruption_budget(config, model),
        render_service(config, model, placement),
    ]
