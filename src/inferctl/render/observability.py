"""Observability objects: a PodMonitor for vLLM's ``/metrics`` (Prometheus Operator) and a Grafana dashboard
ConfigMap that Grafana's dashboard sidecar picks up by its ``grafana_dashboard`` label."""

from __future__ import annotations

import json

from inferctl.config.models import PlatformConfig
from inferctl.kube_names import APP_NAME, LABEL_PLATFORM, PORT_NAME
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


def render_pod_monitor(config: PlatformConfig) -> Object:
    """Scrape every model server of the platform on its named port (vLLM serves /metrics unauthenticated)."""
    labels = {**platform_labels(config), **config.observability.monitor_labels}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(f"{config.name}-vllm", namespace=config.kubernetes.namespace, labels=labels),
        "spec": {
            "selector": {"matchLabels": {LABEL_PLATFORM: config.name, APP_NAME: "vllm"}},
            "podMetricsEndpoints": [{"port": PORT_NAME, "path": "/metrics", "interval": "15s"}],
        },
    }


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
