"""Autoscaling add-ons on the system nodes: KEDA, the KEDA HTTP add-on and a small Prometheus, as pinned Helm
releases.

Installed on every aws platform (2.16 vCPU of requests on the system nodes, most of it the HTTP add-on's seven
250m pods: sizing.system_pods), so turning ``autoscaling`` on
for a model is a config change, not an infrastructure one, and the rendered Grafana dashboard has a Prometheus
to read. Chart versions and values keys come from the charts at these versions:

* KEDA: ``kedacore/charts`` tag ``v2.20.2``, ``keda/Chart.yaml`` (version 2.20.2) and ``keda/values.yaml``
  (``nodeSelector``).
* HTTP add-on: ``kedacore/charts`` commit ``c4b92e9`` ("release v0.15.0"), ``http-add-on/Chart.yaml`` (chart
  ``keda-add-ons-http`` 0.15.0) and ``http-add-on/values.yaml`` (``operator|scaler|interceptor.nodeSelector``).
  It installs into KEDA's namespace, where its scaler's address ``keda-add-ons-http-external-scaler.keda:9090``
  is what the rendered ScaledObjects name. Its interceptor drains as long as a request it holds while a model
  wakes may last (``interceptor.shutdownDelay``, ``interceptor.drainTimeout``,
  ``interceptor.terminationGracePeriodSeconds`` in ``http-add-on/values.yaml``; ``templates/interceptor/
  deployment.yaml`` passes the first two as the env variables ``KEDA_HTTP_SHUTDOWN_DELAY`` /
  ``KEDA_HTTP_DRAIN_TIMEOUT`` that ``kedacore/http-add-on`` v0.15.0 ``interceptor/config/serving.go`` reads; chart
  defaults 5s / 30s / 45, far short of a wake: see inferctl.render.drain).
* Prometheus: ``prometheus-community/helm-charts`` tag ``prometheus-29.27.0``, ``charts/prometheus/values.yaml``
  (``server.retention``, ``server.persistentVolume.enabled``, ``server.nodeSelector``, ``extraScrapeConfigs``,
  and the sub-charts' ``enabled`` switches). It scrapes the vLLM pods and the model gateway's pods of the platform
  (``kubernetes_sd_configs`` role ``pod``, Prometheus' ``__meta_kubernetes_pod_*`` discovery labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from inferctl.aws.context import ProgramContext
from inferctl.aws.eks import NODEGROUP_LABEL, Cluster
from inferctl.kube_names import APP_COMPONENT, LABEL_MODEL, LABEL_PLATFORM, PORT_NAME
from inferctl.render.autoscaling import HTTP_ADDON_CHART, HTTP_ADDON_RELEASE, KEDA_NAMESPACE, PROMETHEUS_NAMESPACE
from inferctl.render.drain import INTERCEPTOR_DRAIN
from inferctl.render.gateway import COMPONENT as GATEWAY_COMPONENT
from inferctl.render.gateway import METRICS_PORT_NAME as GATEWAY_METRICS_PORT
from inferctl.sizing.system_pods import (
    PROMETHEUS_RELOADER_MEMORY_LIMIT_MIB,
    PROMETHEUS_RELOADER_REQUESTS,
    PROMETHEUS_SERVER_MEMORY_LIMIT_MIB,
    PROMETHEUS_SERVER_REQUESTS,
    container_resources,
)

KEDA_REPO = "https://kedacore.github.io/charts"
KEDA_CHART = "keda"
KEDA_VERSION = "2.20.2"
HTTP_ADDON_VERSION = "0.15.0"
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_CHART = "prometheus"
PROMETHEUS_VERSION = "29.27.0"
# Autoscaling looks minutes back, the dashboard a day: two days of samples is plenty. No volume: the EBS CSI
# driver is not a dependency, and losing samples on a restart costs a few minutes of history, nothing more.
PROMETHEUS_RETENTION = "2d"
PROMETHEUS_RETENTION_SIZE = "4GB"
VLLM_SCRAPE_JOB = "inferctl-vllm"
GATEWAY_SCRAPE_JOB = "inferctl-gateway"


def _label(key: str) -> str:
    """Prometheus' name for a pod label in service discovery (non-alphanumerics become ``_``)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in key)


def _pod_job(name: str, platform: str, port: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
    """A scrape job of this platform's pods on their port named ``port``, labelled with their namespace and pod."""
    return {
        "job_name": name,
        "scrape_interval": "15s",
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [_label(LABEL_PLATFORM)], "regex": platform, "action": "keep"},
            *extra,
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
    }


def scrape_configs(platform: str) -> list[dict[str, Any]]:
    """Two scrape jobs for this platform: its vLLM pods (their ``http`` port serves ``/metrics``), labelled with the
    namespace the KEDA queries select on (vLLM's own ``model_name`` label names the served model), and its model
    gateway's pods on their metrics port (smg's ``--prometheus-port``: ``smg_*`` families)."""
    model_pods = [{"source_labels": [_label(LABEL_MODEL)], "regex": ".+", "action": "keep"}]
    vllm = _pod_job(VLLM_SCRAPE_JOB, platform, PORT_NAME, model_pods)
    vllm["relabel_configs"].append({"source_labels": [_label(LABEL_MODEL)], "target_label": "model"})
    gateway = _pod_job(
        GATEWAY_SCRAPE_JOB,
        platform,
        GATEWAY_METRICS_PORT,
        [{"source_labels": [_label(APP_COMPONENT)], "regex": GATEWAY_COMPONENT, "action": "keep"}],
    )
    return [vllm, gateway]


def prometheus_values(platform: str, system_nodes: pulumi.Input[dict[str, str]]) -> dict[str, Any]:
    return {
        "server": {
            "retention": PROMETHEUS_RETENTION,
            "retentionSize": PROMETHEUS_RETENTION_SIZE,
            "persistentVolume": {"enabled": False},
            "nodeSelector": system_nodes,
            # The chart requests nothing for either container (server.resources, configmapReload.prometheus.resources
            # are {}): inferctl's requests, which size the system node group (sizing.system_pods).
            "resources": container_resources(
                PROMETHEUS_SERVER_REQUESTS, memory_limit_mib=PROMETHEUS_SERVER_MEMORY_LIMIT_MIB
            ),
        },
        "configmapReload": {
            "prometheus": {
                "resources": container_resources(
                    PROMETHEUS_RELOADER_REQUESTS, memory_limit_mib=PROMETHEUS_RELOADER_MEMORY_LIMIT_MIB
                )
            }
        },
        # Only the server: no alertmanager, no pushgateway, and no node exporter DaemonSet on the GPU nodes.
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "extraScrapeConfigs": yaml.safe_dump(scrape_configs(platform), sort_keys=False),
    }


def http_addon_values(system_nodes: pulumi.Input[dict[str, str]]) -> dict[str, Any]:
    """All three parts on the system nodes; the interceptor drains the requests it holds (render.drain)."""
    values: dict[str, Any] = {part: {"nodeSelector": system_nodes} for part in ("operator", "scaler", "interceptor")}
    values["interceptor"] |= {
        "shutdownDelay": f"{INTERCEPTOR_DRAIN.prestop_s}s",  # Go durations (time.Duration from env)
        "drainTimeout": f"{INTERCEPTOR_DRAIN.shutdown_timeout_s}s",
        "terminationGracePeriodSeconds": INTERCEPTOR_DRAIN.grace_s,  # no preStop: SIGTERM comes at once
    }
    return values


@dataclass(frozen=True)
class Autoscalers:
    keda: k8s.helm.v3.Release
    http_addon: k8s.helm.v3.Release
    prometheus: k8s.helm.v3.Release


def build_autoscalers(ctx: ProgramContext, cluster: Cluster, *, after: Sequence[pulumi.Resource] = ()) -> Autoscalers:
    """KEDA first (its CRDs), then the HTTP add-on (whose interceptor scales itself with a ScaledObject).
    ``after``: the load balancer controller's release, whose Service webhook must answer before a chart creates
    a Service (see inferctl.aws.lb_controller's CHART)."""
    system_nodes = {"kubernetes.io/os": "linux", NODEGROUP_LABEL: cluster.node_group_name}
    after_nodes = pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cluster.node_group, *after])
    keda = k8s.helm.v3.Release(
        "keda",
        name="keda",
        chart=KEDA_CHART,
        version=KEDA_VERSION,
        namespace=KEDA_NAMESPACE,
        create_namespace=True,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KEDA_REPO),
        values={"nodeSelector": system_nodes},
        opts=after_nodes,
    )
    http_addon = k8s.helm.v3.Release(
        "keda-http-add-on",
        name=HTTP_ADDON_RELEASE,
        chart=HTTP_ADDON_CHART,
        version=HTTP_ADDON_VERSION,
        namespace=KEDA_NAMESPACE,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=KEDA_REPO),
        values=http_addon_values(system_nodes),
        opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cluster.node_group, keda, *after]),
    )
    prometheus = k8s.helm.v3.Release(
        "prometheus",
        name="prometheus",
        chart=PROMETHEUS_CHART,
        version=PROMETHEUS_VERSION,
        namespace=PROMETHEUS_NAMESPACE,
        create_namespace=True,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=PROMETHEUS_REPO),
        values=prometheus_values(ctx.config.name, system_nodes),
        opts=after_nodes,
    )
    return Autoscalers(keda=keda, http_addon=http_addon, prometheus=prometheus)
