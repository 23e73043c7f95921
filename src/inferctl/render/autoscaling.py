"""Autoscaling objects: a KEDA ScaledObject per autoscaled model; for a model that scales to zero, its wake route
(render.wake) is one of the ScaledObject's triggers.

Facts from upstream at the pinned versions (cited where used):

* KEDA v2.20.2 (``kedacore/keda``, ``pkg/scalers/prometheus_scaler.go``): the prometheus trigger's metadata keys
  ``serverAddress``, ``query``, ``threshold``, ``activationThreshold`` (default 0: the trigger is active while
  the query is above it), ``ignoreNullValues`` (default true: an empty result, as at zero replicas, reads 0).
  ``pkg/scalers/external_scaler.go``: ``scalerAddress``. A ScaledObject is active, and a model at zero wakes or
  one at one replica stays, while any trigger is active (``pkg/scaling/executor/scale_scaledobjects.go``).
* HTTP add-on v0.15.0 (``kedacore/http-add-on``): ``InterceptorRoute`` (``http.keda.sh/v1beta1``) replaces
  ``HTTPScaledObject``, which the operator now logs as deprecated (CHANGELOG v0.14.0). With an InterceptorRoute
  the ScaledObject is ours: an ``external-push`` trigger names the route (``pkg/k8s/scaledobject.go``:
  ``interceptorRoute``) at the add-on's scaler (``keda-add-ons-http-external-scaler.<ns>:9090``, the chart's
  ``scaler.service`` and ``scaler.grpcPort``), which counts only the requests of that route
  (``scaler/handlers.go``, ``GetMetrics``).

A model that is awake is reached by the gateway straight at its pods (render.gateway), past the interceptor, so
the interceptor's trigger sees only the few requests the gateway sends its wake worker. vLLM's own metrics see
them all: running + waiting requests (the queue trigger), and a trigger on vLLM's finished-request counter that
is active while any request finished within :data:`RECENT_WINDOW` and asks for one replica, no more. A model in
use therefore never scales to zero between requests; it sleeps once no request ran for that window plus
``autoscaling.scale_to_zero_after``.
"""

from __future__ import annotations

from typing import Any

from inferctl.config.models import AutoscalingSettings, ModelDeployment, PlatformConfig, duration_seconds
from inferctl.errors import ConfigError
from inferctl.render.meta import Object, model_metadata
from inferctl.render.wake import (
    HTTP_ADDON_CHART,
    HTTP_ADDON_RELEASE,
    INTERCEPTOR_ADMIN_PORT,
    INTERCEPTOR_PROXY_PORT,
    INTERCEPTOR_SELECTOR,
    KEDA_NAMESPACE,
    render_wake,
    sleeping_models,
    wake_route_name,
)
from inferctl.sizing.autoscaling import per_replica_target
from inferctl.sizing.placement import Placement

# The Prometheus inferctl installs on aws: release "prometheus" of prometheus-community/prometheus, whose server
# Service is "<fullname>-server" on port 80 (charts/prometheus/templates/_helpers.tpl, values.yaml server.service).
PROMETHEUS_NAMESPACE = "prometheus"
INSTALLED_PROMETHEUS_URL = f"http://prometheus-server.{PROMETHEUS_NAMESPACE}.svc:80"
# vLLM's own gauges (vllm/v1/metrics/loggers.py in vLLM 0.32), labelled with model_name (the served name).
RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"
# vLLM's counter of finished requests (vllm/v1/metrics/loggers.py in vLLM 0.32: "vllm:request_success", labelled
# model_name and finished_reason; Prometheus' client adds "_total" to a counter).
REQUEST_SUCCESS = "vllm:request_success_total"
# A request finished within this window keeps a model that scales to zero awake (8 scrapes at 15 s).
RECENT_WINDOW = "2m"
EXTERNAL_SCALER = f"{HTTP_ADDON_CHART}-external-scaler.{KEDA_NAMESPACE}:9090"
POLLING_INTERVAL_S = 15
# A GPU replica takes minutes to start: scale down only after load has stayed low this long.
SCALE_DOWN_STABILIZATION_S = 300


def autoscaled(config: PlatformConfig) -> list[ModelDeployment]:
    return [m for m in config.models if m.autoscaling is not None]


def prometheus_url(config: PlatformConfig) -> str:
    return config.observability.prometheus_url or INSTALLED_PROMETHEUS_URL


def check_prometheus_configured(config: PlatformConfig) -> None:
    """Outside aws inferctl installs no Prometheus: KEDA must be told where the user's is."""
    if not config.traits.owns_infrastructure and autoscaled(config) and config.observability.prometheus_url is None:
        raise ConfigError(
            "autoscaling reads vLLM's metrics from Prometheus: set observability.prometheus_url to one that scrapes "
            "the model pods (e.g. http://prometheus-server.monitoring.svc), or remove models[].autoscaling"
        )


def _settings(model: ModelDeployment) -> AutoscalingSettings:
    if model.autoscaling is None:
        raise ValueError(f"model {model.name!r} has no autoscaling settings")
    return model.autoscaling


def _selector(config: PlatformConfig, model: ModelDeployment) -> str:
    return f'{{namespace="{config.kubernetes.namespace}",model_name="{model.model_name}"}}'


def render_scaled_object(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    """KEDA scales the model's Deployment on vLLM's queue (running + waiting per replica against the sizing
    target), on KV-cache usage, and, for scale to zero, on the interceptor's pending requests."""
    settings = _settings(model)
    selector = _selector(config, model)
    server = prometheus_url(config)
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "vllm-requests",
            "metricType": "AverageValue",  # the sum divided by replicas, against the per-replica target
            "metadata": {
                "serverAddress": server,
                "query": f"sum({RUNNING}{selector}) + sum({WAITING}{selector})",
                "threshold": str(per_replica_target(model, placement)),
                "ignoreNullValues": "true",
            },
        },
        {
            "type": "prometheus",
            "name": "vllm-kv-cache",
            "metricType": "Value",  # HPA: replicas x average usage / target
            "metadata": {
                "serverAddress": server,
                "query": f"avg({KV_CACHE_USAGE}{selector})",
                "threshold": f"{settings.kv_cache_target:g}",
                "ignoreNullValues": "true",
            },
        },
    ]
    if settings.scales_to_zero:
        triggers += [
            {
                "type": "prometheus",
                "name": "vllm-recent-requests",
                # 1 while a request finished within the window, else 0 (or nothing at zero replicas): active while
                # the model is in use, asking for one replica; the queue trigger asks for more.
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": server,
                    "query": f"sum(increase({REQUEST_SUCCESS}{selector}[{RECENT_WINDOW}])) > bool 0",
                    "threshold": "1",
                    "ignoreNullValues": "true",
                },
            },
            {
                "type": "external-push",
                "name": "interceptor",
                "metadata": {"scalerAddress": EXTERNAL_SCALER, "interceptorRoute": wake_route_name(model)},
            },
        ]
    idle_s = duration_seconds(settings.scale_to_zero_after)
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.name},
        "minReplicaCount": settings.min_replicas,
        "maxReplicaCount": settings.max_replicas,
        "pollingInterval": POLLING_INTERVAL_S,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_STABILIZATION_S}}
            }
        },
        "triggers": triggers,
    }
    if settings.scales_to_zero:
        spec["cooldownPeriod"] = idle_s  # KEDA applies it only to the last step, 1 -> 0
        # Counted from the ScaledObject's creation while it was never active (KEDA v2.20.2 scale_scaledobjects.go
        # scaleToZeroOrIdle): a model's first up keeps its replica this long; later rollouts get no such grace.
        spec["initialCooldownPeriod"] = idle_s
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": model_metadata(config, model),
        "spec": spec,
    }


def render_autoscaling(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> list[Object]:
    """The autoscaling objects of ``model`` ([] without ``autoscaling``)."""
    if model.autoscaling is None:
        return []
    return [render_scaled_object(config, model, placement), *render_wake(config, model, placement)]


def without_fixed_replicas(deployment: Object) -> Object:
    """The Deployment without ``spec.replicas``: KEDA's HPA owns the count, and every ``up`` would otherwise
    reset it (server-side apply)."""
    spec = {k: v for k, v in deployment["spec"].items() if k != "replicas"}
    return {**deployment, "spec": spec}


__all__ = [
    "EXTERNAL_SCALER",
    "HTTP_ADDON_CHART",
    "HTTP_ADDON_RELEASE",
    "INTERCEPTOR_ADMIN_PORT",
    "INTERCEPTOR_PROXY_PORT",
    "INTERCEPTOR_SELECTOR",
    "KEDA_NAMESPACE",
    "PROMETHEUS_NAMESPACE",
    "autoscaled",
    "check_prometheus_configured",
    "prometheus_url",
    "render_autoscaling",
    "render_scaled_object",
    "sleeping_models",
    "without_fixed_replicas",
]
