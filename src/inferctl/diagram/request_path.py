"""A cluster platform's request path in the architecture graph: one entry per platform (the model gateway behind
its Service, on aws behind the one NLB), the gateway straight to every model's pods, and for a model asleep at
zero its wake path: the gateway's wake worker -> the KEDA HTTP add-on's interceptor -> the model's Service -> its
pods. Shared by the aws and kubernetes pictures (diagram.architecture); the parts are render.gateway's and
render.wake's.
"""

from __future__ import annotations

from collections.abc import Mapping

from inferctl.config.models import PlatformConfig
from inferctl.diagram.graph import GraphBuilder, part_id
from inferctl.engine import CONTAINER_PORT
from inferctl.gateway import GATEWAY_VERSION
from inferctl.render.gateway import gateway_name
from inferctl.render.meta import SERVICE_PORT
from inferctl.render.wake import KEDA_NAMESPACE, sleeping_models
from inferctl.sizing.system_pods import GATEWAY_REPLICAS


def client_edge_label(config: PlatformConfig) -> str:
    return "OpenAI API · Bearer key" if config.endpoint.api_key.enabled else "OpenAI API (no key)"


def draw_gateway(builder: GraphBuilder, config: PlatformConfig, parent: str, *, replicas: int | None = None) -> str:
    """The model gateway (every target's): its version, its replicas (a cluster's), whether it checks the key."""
    checks = ["checks the API key"] if config.endpoint.api_key.enabled else []
    middle = [" · ".join([f"{replicas} replicas", *checks])] if replicas else checks
    label = "\n".join([f"model gateway smg {GATEWAY_VERSION}", *middle, "routes by model · cache-aware"])
    return builder.node("gateway", label, "gateway", parent)


def draw_entry(
    builder: GraphBuilder,
    config: PlatformConfig,
    clients: str,
    *,
    gateway_parent: str,
    service_parent: str,
    nlb_parent: str | None = None,
    lb_controller: str | None = None,
) -> str:
    """Clients -> [the NLB] -> the gateway's Service -> the gateway; returns the gateway's node id."""
    exposure = config.endpoint.exposure
    kind = config.endpoint_service_type
    name = gateway_name(config)
    service = builder.node("svc_gateway", f"Service {name}\n{kind} :{SERVICE_PORT} → :8080", "service", service_parent)
    gateway = draw_gateway(builder, config, gateway_parent, replicas=GATEWAY_REPLICAS)
    if nlb_parent is not None and kind == "LoadBalancer":
        allow = f"\nallow {', '.join(exposure.source_ranges)}" if exposure.scheme == "internet-facing" else ""
        label = f"NLB {config.name}\n{exposure.scheme}{allow}\none per platform"
        nlb = builder.node("nlb", label, "load_balancer", nlb_parent)
        builder.edge(clients, nlb, client_edge_label(config))
        builder.edge(nlb, service)
        if lb_controller is not None:
            builder.edge(lb_controller, nlb, "manages", "control", constraint=False)
    elif kind == "LoadBalancer":
        builder.edge(clients, service, f"{client_edge_label(config)}\nload balancer · {exposure.scheme}")
    else:
        builder.edge(clients, service, f"{client_edge_label(config)}\nport-forward or in-cluster")
    builder.edge(service, gateway)
    return gateway


def draw_models(
    builder: GraphBuilder,
    config: PlatformConfig,
    gateway: str,
    pods: Mapping[str, str],
    *,
    interceptor_parent: str,
    service_parent: str,
) -> None:
    """The gateway to every model's pods (their IPs, discovered); a sleeping model's wake path beside it."""
    for model in config.models:
        builder.edge(gateway, pods[model.name], f"pod IPs :{CONTAINER_PORT}\nmodel {model.model_name}")
    sleeping = sleeping_models(config)
    if not sleeping:
        return
    interceptor = builder.node(
        "interceptor",
        f"KEDA HTTP add-on interceptor\nnamespace {KEDA_NAMESPACE}\nholds requests while a model wakes",
        "interceptor",
        interceptor_parent,
    )
    builder.edge(gateway, interceptor, "wake route " + ", ".join(m.name for m in sleeping))
    for model in sleeping:
        service = builder.node(
            part_id("svc", model.name),
            f"Service {model.name}\nClusterIP :{SERVICE_PORT} → :{CONTAINER_PORT}",
            "service",
            service_parent,
        )
        builder.edge(interceptor, service, "once awake")
        builder.edge(service, pods[model.name], f":{CONTAINER_PORT}")


__all__ = ["client_edge_label", "draw_entry", "draw_gateway", "draw_models"]
