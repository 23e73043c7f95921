"""Observability objects: PodMonitors for vLLM's and the gateway's ``/metrics`` (Prometheus Operator), a Grafana
dashboard ConfigMap that Grafana's dashboard sidecar picks up by its ``grafana_dashboard`` label, and who may
scrape: the NetworkPolicies of the model and gateway pods admit the Prometheus :func:`scraper_peer` names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.kube_names import APP_COMPONENT, APP_INSTANCE, APP_NAME, LABEL_PLATFORM, PORT_NAME
from inferctl.render.autoscaling import PROMETHEUS_NAMESPACE, autoscaled
from inferctl.render.dashboard import grafana_dashboard
from inferctl.render.meta import Object, metadata, platform_labels

# The Grafana Helm chart's dashboard sidecar watches ConfigMaps labelled ``sidecar.dashboards.label``, default
# ``grafana_dashboard``; its ``labelValue`` defaults to "" (any value; the chart then sets no LABEL_VALUE), so "1"
# (the value kube-prometheus-stack uses) matches both. The sidecar itself is off by default
# (``sidecar.dashboards.enabled: false``) and searches only Grafana's namespace (``searchNamespace: null``).
# Source: grafana-community/helm-charts charts/grafana (chart 12.11.1) values.yaml and templates/_pod.tpl; the same
# defaults in grafana/helm-charts up to chart 10.5.15, before the chart moved there.
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
DASHBOARD_FILE = "inferctl-vllm.json"
# The label every namespace carries with its own name (the API server sets it: KEP 2161, NamespaceDefaultLabelName,
# on by default since Kubernetes 1.21 and GA in 1.22).
NAMESPACE_NAME = "kubernetes.io/metadata.name"
# The server pods of the Prometheus inferctl installs on aws (prometheus-community/helm-charts prometheus-29.27.0,
# charts/prometheus/templates/_helpers.tpl: prometheus.server.matchLabels, with values.yaml ``server.name: server``,
# the chart's name "prometheus" and the release "prometheus" of aws/addons.py).
INSTALLED_PROMETHEUS_PODS = {APP_NAME: "prometheus", APP_INSTANCE: "prometheus", APP_COMPONENT: "server"}


_SERVICE_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<service>[a-z0-9-]+)\.(?P<namespace>[a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?"
    r"(?::(?P<port>\d+))?(?P<path>/.*)?$"
)


@dataclass(frozen=True)
class PrometheusService:
    """The in-cluster Service a Prometheus URL names: ``http(s)://<service>.<namespace>.svc[.cluster.local][:port]``."""

    scheme: str
    service: str
    namespace: str
    port: int
    path: str  # a prefix before /api/v1 ("" for none)

    @classmethod
    def from_url(cls, url: str) -> PrometheusService | None:
        """The in-cluster Service a Prometheus URL names, or None for any other address."""
        found = _SERVICE_URL.match(url.strip())
        if found is None:
            return None
        scheme = found["scheme"]
        port = int(found["port"] or (443 if scheme == "https" else 80))
        return cls(scheme, found["service"], found["namespace"], port, (found["path"] or "").rstrip("/"))


def scraper_peer(config: PlatformConfig) -> dict[str, Any] | None:
    """The NetworkPolicy peer of the Prometheus that scrapes this platform's pods, or None when nothing scrapes
    them. ConfigError when something must (a PodMonitor, autoscaling's queries) but its namespace is unknown."""
    observability = config.observability
    if observability.prometheus_namespace is not None:
        return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: observability.prometheus_namespace}}}
    if config.traits.owns_infrastructure:  # the Prometheus aws/addons.py installs
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: PROMETHEUS_NAMESPACE}},
            "podSelector": {"matchLabels": dict(INSTALLED_PROMETHEUS_PODS)},
        }
    service = PrometheusService.from_url(observability.prometheus_url) if observability.prometheus_url else None
    if service is not None:
        return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: service.namespace}}}
    if observability.prometheus or autoscaled(config):
        raise ConfigError(
            "the model pods admit only the gateway and Prometheus, and Prometheus' namespace is unknown: set "
            "observability.prometheus_namespace to the namespace of the Prometheus that scrapes them"
        )
    return None


def render_pod_monitor(config: PlatformConfig) -> Object:
    """Scrape every model server of the platform on its named port (vLLM serves /metrics unauthenticated)."""
    return _pod_monitor(config, f"{config.name}-vllm", {LABEL_PLATFORM: config.name, APP_NAME: "vllm"}, PORT_NAME)


def _pod_monitor(config: PlatformConfig, name: str, selector: dict[str, str], port: str) -> Object:
    labels = {**platform_labels(config), **config.observability.monitor_labels}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(name, namespace=config.kubernetes.namespace, labels=labels),
        "spec": {
            "selector": {"matchLabels": selector},
            "podMetricsEndpoints": [{"port": port, "path": "/metrics", "interval": "15s"}],
        },
    }


def render_gateway_pod_monitor(config: PlatformConfig, selector: dict[str, str], port: str) -> Object:
    """Scrape the gateway's Prometheus listener (smg ``--prometheus-port``, unauthenticated, its own port)."""
    return _pod_monitor(config, f"{config.name}-gateway", selector, port)


def render_dashboard_config_map(config: PlatformConfig) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            f"{config.name}-vllm-dashboard",
            namespace=config.kubernetes.namespace,
            labels={**platform_labels(config), DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE},
        ),
        "data": {DASHBOARD_FILE: json.dumps(grafana_dashboard(config), indent=2, sort_keys=True) + "\n"},
    }


def render_observability(config: PlatformConfig) -> list[Object]:
    """The dashboard ConfigMap and the PodMonitor, each when the config enables it."""
    objects: list[Object] = []
    if config.observability.grafana_dashboard:
        objects.append(render_dashboard_config_map(config))
    if config.observability.prometheus:
        objects.append(render_pod_monitor(config))
    return objects
