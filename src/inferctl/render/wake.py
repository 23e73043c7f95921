"""How the gateway reaches a model that sleeps at zero replicas: its own wake host on the KEDA HTTP add-on's
interceptor, split in two routes, and the worker the gateway knows it by.

Per model with ``autoscaling.min_replicas: 0``:

* a **wake Service** in the add-on's namespace, ClusterIP, selecting the interceptor pods (a Service selects pods
  of its own namespace only). Its DNS name ``<service>.keda.svc`` is the model's wake host: the gateway's worker
  URL is ``http://<wake host>:8080``, so every request it sends there carries that Host, which is how the
  interceptor tells the models apart. The interceptor matches the host without its port
  (``kedacore/http-add-on`` v0.15.0, ``pkg/routing/table.go`` ``Route``: ``stripPort(req.Host)``; rule hosts are
  stripped the same way in ``pkg/routing/key.go``).
* a **wake route** (InterceptorRoute ``<model>-wake``): the host, every path, to the model's ClusterIP Service.
  The model's ScaledObject names it (render.autoscaling), so a request here counts (``interceptor/middleware/
  counting.go``, keyed by route) and wakes the model; the interceptor holds it up to ``timeouts.readiness``.
* a **status route** (``<model>-status``): the same host and target, only the paths the gateway polls by itself
  (:data:`inferctl.gateway.HOUSEKEEPING_PATHS`), with ``coldStart.placeholder``: while the model has no ready
  endpoint the interceptor answers them at once (``interceptor/middleware/placeholder.go``) with the model's
  OpenAI model list; awake, it proxies them to the pods. No ScaledObject reads it, so the gateway's registration,
  health and load polls never wake the model. Routing takes the longest host + path prefix
  (``pkg/routing/tablememory.go`` ``Route``; keys are ``host/segment/.../``, so ``/health`` does not match
  ``/health_generate``), and a route's placeholder sits behind its counting (``interceptor/proxy.go``).
* a **wake worker** for the gateway: smg's ``WorkerSpec`` for the wake URL (:func:`inferctl.gateway.
  wake_worker_spec`), registered by the gateway pod's registrar (render.wake_registrar).
"""

from __future__ import annotations

import json
from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.gateway import HOUSEKEEPING_PATHS, wake_worker_spec
from inferctl.kube_names import (
    APP_COMPONENT,
    APP_INSTANCE,
    APP_MANAGED_BY,
    APP_NAME,
    APP_PART_OF,
    PORT_NAME,
    bounded_name,
)
from inferctl.render.meta import Object, metadata, model_labels, model_metadata
from inferctl.sizing.autoscaling import per_replica_target
from inferctl.sizing.placement import Placement
from inferctl.sizing.request_timeouts import request_timeouts

KEDA_NAMESPACE = "keda"  # KEDA and the HTTP add-on, as their install docs put them
HTTP_ADDON_RELEASE = "http-add-on"
HTTP_ADDON_CHART = "keda-add-ons-http"
# The interceptor pods' labels and ports are the chart's (kedacore/charts at c4b92e9, the v0.15.0 release commit,
# http-add-on/templates/_helpers.tpl and templates/interceptor/deployment.yaml): proxy on 8080, named "proxy";
# /readyz on the admin port 9090.
INTERCEPTOR_PROXY_PORT = 8080
INTERCEPTOR_PROXY_PORT_NAME = "proxy"
INTERCEPTOR_ADMIN_PORT = 9090
INTERCEPTOR_SELECTOR = {
    APP_COMPONENT: "interceptor",
    APP_NAME: "http-add-on",
    APP_PART_OF: HTTP_ADDON_CHART,
    APP_MANAGED_BY: "Helm",
    APP_INSTANCE: HTTP_ADDON_RELEASE,
}
NAME_MAX = 63  # a Service's name is a DNS label; an InterceptorRoute's a DNS subdomain, kept to a label too


def sleeping_models(config: PlatformConfig) -> list[ModelDeployment]:
    """The models that scale to zero behind their wake routes (any number)."""
    return [m for m in config.models if m.autoscaling is not None and m.autoscaling.scales_to_zero]


def wake_service_name(config: PlatformConfig, model: ModelDeployment) -> str:
    return bounded_name(f"{config.name}-{model.name}-wake", NAME_MAX)


def wake_host(config: PlatformConfig, model: ModelDeployment) -> str:
    """The wake Service's DNS name, as the gateway's pods resolve it (``<service>.<namespace>.svc``)."""
    return f"{wake_service_name(config, model)}.{KEDA_NAMESPACE}.svc"


def wake_url(config: PlatformConfig, model: ModelDeployment) -> str:
    return f"http://{wake_host(config, model)}:{INTERCEPTOR_PROXY_PORT}"


def wake_route_name(model: ModelDeployment) -> str:
    return bounded_name(f"{model.name}-wake", NAME_MAX)


def status_route_name(model: ModelDeployment) -> str:
    return bounded_name(f"{model.name}-status", NAME_MAX)


def model_list_body(model: ModelDeployment) -> str:
    """What the status route answers while the model sleeps: an OpenAI model list naming it (vLLM's shape)."""
    card = {"id": model.model_name, "object": "model", "owned_by": "vllm"}
    return json.dumps({"object": "list", "data": [card]}, separators=(",", ":"))


def render_wake_service(config: PlatformConfig, model: ModelDeployment) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            wake_service_name(config, model), namespace=KEDA_NAMESPACE, labels=model_labels(config, model)
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(INTERCEPTOR_SELECTOR),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": INTERCEPTOR_PROXY_PORT,
                    "targetPort": INTERCEPTOR_PROXY_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def _route(config: PlatformConfig, model: ModelDeployment, placement: Placement, name: str) -> Object:
    return {
        "apiVersion": "http.keda.sh/v1beta1",
        "kind": "InterceptorRoute",
        "metadata": {**model_metadata(config, model), "name": name},
        "spec": {
            "target": {"service": model.name, "portName": PORT_NAME},
            "rules": [{"hosts": [wake_host(config, model)]}],
            "scalingMetric": {"concurrency": {"targetValue": per_replica_target(model, placement)}},
        },
    }


def render_wake_route(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    """Every path of the wake host: the requests that wake the model. Held up to the wake timeout for a ready
    replica (then 504), and up to the first-byte timeout for the answer's headers (sizing.request_timeouts)."""
    route = _route(config, model, placement, wake_route_name(model))
    timeouts = request_timeouts(config, model, placement)
    route["spec"]["timeouts"] = {"readiness": f"{timeouts.readiness_s}s", "responseHeader": f"{timeouts.first_byte_s}s"}
    return route


def render_status_route(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    """The gateway's own polls of the wake host, answered without waking the model while it sleeps."""
    route = _route(config, model, placement, status_route_name(model))
    route["spec"]["rules"][0]["paths"] = [{"value": path} for path in HOUSEKEEPING_PATHS]
    route["spec"]["coldStart"] = {
        "placeholder": {
            "response": {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": model_list_body(model),
            }
        }
    }
    return route


def wake_worker(config: PlatformConfig, model: ModelDeployment, placement: Placement | None) -> dict[str, Any]:
    """The gateway's worker for the sleeping ``model``: its wake URL, with the gateway hop's timeout."""
    timeouts = request_timeouts(config, model, placement)
    return wake_worker_spec(wake_url(config, model), model.model_name, timeout_s=timeouts.gateway_s)


def render_wake(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> list[Object]:
    """The wake Service and both routes of a model that scales to zero ([] for any other)."""
    if model.autoscaling is None or not model.autoscaling.scales_to_zero:
        return []
    return [
        render_wake_service(config, model),
        render_wake_route(config, model, placement),
        render_status_route(config, model, placement),
    ]


__all__ = [
    "HTTP_ADDON_CHART",
    "HTTP_ADDON_RELEASE",
    "INTERCEPTOR_ADMIN_PORT",
    "INTERCEPTOR_PROXY_PORT",
    "INTERCEPTOR_SELECTOR",
    "KEDA_NAMESPACE",
    "model_list_body",
    "render_status_route",
    "render_wake",
    "render_wake_route",
    "render_wake_service",
    "sleeping_models",
    "status_route_name",
    "wake_host",
    "wake_route_name",
    "wake_service_name",
    "wake_url",
    "wake_worker",
]
