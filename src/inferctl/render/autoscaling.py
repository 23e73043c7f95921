"""Autoscaling objects: a KEDA ScaledObject per autoscaled model, and for a model that scales to zero the HTTP
add-on's InterceptorRoute plus the entry Service that puts the interceptor in the request path.

Facts from upstream at the pinned versions (cited where used):

* KEDA v2.20.2 (``kedacore/keda``, ``pkg/scalers/prometheus_scaler.go``): the prometheus trigger's metadata keys
  ``serverAddress``, ``query``, ``threshold``, ``activationThreshold``, ``ignoreNullValues`` (default true: an
  empty result, as at zero replicas, reads 0). ``pkg/scalers/external_scaler.go``: ``scalerAddress``.
* HTTP add-on v0.15.0 (``kedacore/http-add-on``): ``InterceptorRoute`` (``http.keda.sh/v1beta1``) replaces
  ``HTTPScaledObject``, which the operator now logs as deprecated (CHANGELOG v0.14.0). With an InterceptorRoute
  the ScaledObject is ours: an ``external-push`` trigger names the route (``pkg/k8s/scaledobject.go``:
  ``interceptorRoute``) at the add-on's scaler (``keda-add-ons-http-external-scaler.<ns>:9090``, the chart's
  ``scaler.service`` and ``scaler.grpcPort``). The interceptor answers 504 Gateway Timeout when the backend is
  not ready within the route's ``timeouts.readiness`` (``interceptor/middleware/endpoint_resolver.go``).
* The interceptor pods' labels and ports are the chart's (``kedacore/charts`` at ``c4b92e9``, the v0.15.0
  release commit, ``http-add-on/templates/_helpers.tpl`` and ``templates/interceptor/deployment.yaml``): proxy
  on 8080, ``/readyz`` on the admin port 9090.

Request path for a model at zero: load balancer -> entry Service (in the add-on's namespace, selecting the
interceptor pods) -> interceptor -> the model's ClusterIP Service -> vLLM. The interceptor proxies the request
unchanged, so vLLM still checks the API key; the load balancer's health check asks the interceptor's own
``/readyz``, which answers 200 while the model has no replica at all.
"""

from __future__ import annotations

from typing import Any

from inferctl.config.models import AutoscalingSettings, ModelDeployment, PlatformConfig, duration_seconds
from inferctl.errors import ConfigError
from inferctl.kube_names import APP_COMPONENT, APP_INSTANCE, APP_MANAGED_BY, APP_NAME, APP_PART_OF
from inferctl.render.drain import INTERCEPTOR_DRAIN
from inferctl.render.exposure import AWS_LB_CLASS, _nlb_annotations, service_type
from inferctl.render.meta import Object, metadata, model_labels, model_metadata
from inferctl.sizing.autoscaling import per_replica_target
from inferctl.sizing.placement import Placement
from inferctl.sizing.request_timeouts import behind_aws_nlb, request_timeouts

KEDA_NAMESPACE = "keda"  # KEDA and the HTTP add-on, as their install docs put them
HTTP_ADDON_RELEASE = "http-add-on"
HTTP_ADDON_CHART = "keda-add-ons-http"
EXTERNAL_SCALER = f"{HTTP_ADDON_CHART}-external-scaler.{KEDA_NAMESPACE}:9090"
INTERCEPTOR_PROXY_PORT = 8080
INTERCEPTOR_ADMIN_PORT = 9090
INTERCEPTOR_SELECTOR = {
    APP_COMPONENT: "interceptor",
    APP_NAME: "http-add-on",
    APP_PART_OF: HTTP_ADDON_CHART,
    APP_MANAGED_BY: "Helm",
    APP_INSTANCE: HTTP_ADDON_RELEASE,
}
# The Prometheus inferctl installs on aws: release "prometheus" of prometheus-community/prometheus, whose server
# Service is "<fullname>-server" on port 80 (charts/prometheus/templates/_helpers.tpl, values.yaml server.service).
PROMETHEUS_NAMESPACE = "prometheus"
INSTALLED_PROMETHEUS_URL = f"http://prometheus-server.{PROMETHEUS_NAMESPACE}.svc:80"
# vLLM's own gauges (vllm/v1/metrics/loggers.py in vLLM 0.32), labelled with model_name (the served name).
RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"
POLLING_INTERVAL_S = 15
# A GPU replica takes minutes to start: scale down only after load has stayed low this long.
SCALE_DOWN_STABILIZATION_S = 300


def autoscaled(config: PlatformConfig) -> list[ModelDeployment]:
    return [m for m in config.models if m.autoscaling is not None]


def waking_model(config: PlatformConfig) -> ModelDeployment | None:
    """The model that scales to zero behind the interceptor, if any (the config allows at most one)."""
    return next((m for m in autoscaled(config) if m.autoscaling and m.autoscaling.scales_to_zero), None)


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
        triggers.append(
            {
                "type": "external-push",
                "name": "interceptor",
                "metadata": {"scalerAddress": EXTERNAL_SCALER, "interceptorRoute": model.name},
            }
        )
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


def render_interceptor_route(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    """Every request reaching the interceptor ("*": the load balancer's own host name is not known when this
    renders) goes to the model's Service; it waits up to the wake timeout for a ready replica (then 504), and
    up to the first-byte timeout for the answer's headers (sizing.request_timeouts)."""
    timeouts = request_timeouts(config, model, placement)
    return {
        "apiVersion": "http.keda.sh/v1beta1",
        "kind": "InterceptorRoute",
        "metadata": model_metadata(config, model),
        "spec": {
            "target": {"service": model.name, "portName": "http"},
            "rules": [{"hosts": ["*"]}],
            "scalingMetric": {"concurrency": {"targetValue": per_replica_target(model, placement)}},
            "timeouts": {"readiness": f"{timeouts.readiness_s}s", "responseHeader": f"{timeouts.first_byte_s}s"},
        },
    }


def entry_service_name(config: PlatformConfig, model: ModelDeployment) -> str:
    return f"{config.name}-{model.name}"[:63].rstrip("-")


def render_entry_service(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    """The Service clients reach for a model that scales to zero: the interceptor's pods, in the add-on's
    namespace (a Service selects pods of its own namespace only). On aws an NLB whose health check asks the
    interceptor's ``/readyz`` on its admin port, so targets stay healthy while the model has no replica, and whose
    TCP idle timeout outlasts the interceptor's wake and first-byte wait (sizing.request_timeouts)."""
    kind = service_type(config)
    on_aws_lb = behind_aws_nlb(config)
    annotations = None
    if on_aws_lb:
        annotations = _nlb_annotations(config, request_timeouts(config, model, placement))
        prefix = "service.beta.kubernetes.io/aws-load-balancer-"
        annotations[f"{prefix}healthcheck-path"] = "/readyz"
        annotations[f"{prefix}healthcheck-port"] = str(INTERCEPTOR_ADMIN_PORT)
        # Its targets are interceptor pods: deregistration lasts their drain (render.drain), not the model's.
        annotations[f"{prefix}target-group-attributes"] = (
            f"deregistration_delay.timeout_seconds={INTERCEPTOR_DRAIN.grace_s}"
        )
    spec: dict[str, Any] = {
        "type": kind,
        "selector": dict(INTERCEPTOR_SELECTOR),
        "ports": [{"name": "http", "port": 80, "targetPort": "proxy", "protocol": "TCP"}],
    }
    if on_aws_lb:
        spec["loadBalancerClass"] = AWS_LB_CLASS
    if kind == "LoadBalancer" and config.endpoint.exposure.source_ranges:
        spec["loadBalancerSourceRanges"] = list(config.endpoint.exposure.source_ranges)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            entry_service_name(config, model),
            namespace=KEDA_NAMESPACE,
            labels=model_labels(config, model),
            annotations=annotations,
        ),
        "spec": spec,
    }


def render_autoscaling(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> list[Object]:
    """The autoscaling objects of ``model`` ([] without ``autoscaling``)."""
    if model.autoscaling is None:
        return []
    objects = [render_scaled_object(config, model, placement)]
    if model.autoscaling.scales_to_zero:
        objects += [render_interceptor_route(config, model, placement), render_entry_service(config, model, placement)]
    return objects


def without_fixed_replicas(deployment: Object) -> Object:
    """The Deployment without ``spec.replicas``: KEDA's HPA owns the count, and every ``up`` would otherwise
    reset it (server-side apply)."""
    spec = {k: v for k, v in deployment["spec"].items() if k != "replicas"}
    return {**deployment, "spec": spec}


def behind_interceptor(service: Object) -> Object:
    """The model's own Service as the interceptor's target: in-cluster only (the entry Service is public)."""
    spec = {k: v for k, v in service["spec"].items() if k not in {"loadBalancerClass", "loadBalancerSourceRanges"}}
    spec["type"] = "ClusterIP"
    meta = {k: v for k, v in service["metadata"].items() if k != "annotations"}
    return {**service, "metadata": meta, "spec": spec}
