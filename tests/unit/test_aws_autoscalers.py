"""KEDA, the HTTP add-on and Prometheus in the AWS program, under Pulumi's own mocks (no AWS account or cluster
exists here: the engine and providers are the seam; the program code runs for real).

Chart names, versions and values keys: ``kedacore/charts`` tag v2.20.2 (``keda/Chart.yaml``, ``keda/values.yaml``),
``kedacore/charts`` commit c4b92e9 "release v0.15.0" (``http-add-on/Chart.yaml``, ``http-add-on/values.yaml``),
``prometheus-community/helm-charts`` tag prometheus-29.27.0 (``charts/prometheus/Chart.yaml``, ``values.yaml``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferctl.aws.offline import offline_plan
from inferctl.render.autoscaling import EXTERNAL_SCALER, INSTALLED_PROMETHEUS_URL
from tests.support.aws import aws_config, one, run_program

RELEASE = "kubernetes:helm.sh/v3:Release"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "helm"
CONFIG = aws_config()
# (release, chart, version, namespace, repository) as the upstream charts name them at the pinned versions
EXPECTED = {
    "keda": ("keda", "2.20.2", "keda", "https://kedacore.github.io/charts"),
    "keda-http-add-on": ("keda-add-ons-http", "0.15.0", "keda", "https://kedacore.github.io/charts"),
    "prometheus": ("prometheus", "29.27.0", "prometheus", "https://prometheus-community.github.io/helm-charts"),
}


def test_the_three_releases_are_pinned_and_on_the_system_nodes() -> None:
    run = run_program(CONFIG)
    group = one(run.resources, "aws:eks/nodeGroup:NodeGroup").inputs["nodeGroupName"]
    for resource_name, (chart, version, namespace, repo) in EXPECTED.items():
        release = one(run.resources, RELEASE, resource_name).inputs
        assert (release["chart"], release["version"], release["namespace"]) == (chart, version, namespace)
        assert release["repositoryOpts"]["repo"] == repo
        values = release["values"]
        selectors = (
            [values["nodeSelector"]]
            if chart == "keda"
            else [values[p]["nodeSelector"] for p in ("operator", "scaler", "interceptor")]
            if chart == "keda-add-ons-http"
            else [values["server"]["nodeSelector"]]
        )
        for selector in selectors:
            assert selector == {"kubernetes.io/os": "linux", "eks.amazonaws.com/nodegroup": group}


def test_the_interceptor_keeps_serving_through_the_endpoints_lag_and_drains_held_requests() -> None:
    """Chart defaults (kedacore/charts c4b92e9 "release v0.15.0", http-add-on/values.yaml): shutdownDelay 5s,
    drainTimeout 30s, terminationGracePeriodSeconds 45; templates/interceptor/deployment.yaml passes the first two
    as KEDA_HTTP_SHUTDOWN_DELAY / KEDA_HTTP_DRAIN_TIMEOUT (kedacore/http-add-on v0.15.0,
    interceptor/config/serving.go: Go durations). The interceptor is reached through the wake Services inside the
    cluster (the NLB fronts the gateway): new connections stop once the endpoints let go of a pod, and a request
    held while a model wakes lasts minutes (render/drain.py)."""
    interceptor = one(run_program(CONFIG).resources, RELEASE, "keda-http-add-on").inputs["values"]["interceptor"]
    assert interceptor["shutdownDelay"] == "10s"  # the endpoints' lag in the cluster
    assert interceptor["drainTimeout"] == "3580s"
    assert interceptor["terminationGracePeriodSeconds"] == 3600  # as long as the gateway's NLB lets a caller wait
    defaults = _defaults("keda-add-ons-http-0.15.0-values.yaml")["interceptor"]
    assert (defaults["shutdownDelay"], defaults["drainTimeout"], defaults["terminationGracePeriodSeconds"]) == (
        "5s",
        "30s",
        45,
    )


def test_the_add_on_lives_where_the_scaled_objects_look_for_its_scaler() -> None:
    release = one(run_program(CONFIG).resources, RELEASE, "keda-http-add-on").inputs
    # Service "<chart>-<scaler.service>" in the release namespace, port scaler.grpcPort (9090 by default)
    assert f"{release['chart']}-external-scaler.{release['namespace']}:9090" == EXTERNAL_SCALER


def test_prometheus_is_small_and_scrapes_this_platforms_vllm_and_gateway_pods() -> None:
    release = one(run_program(CONFIG).resources, RELEASE, "prometheus").inputs
    values = release["values"]
    assert values["server"]["retention"] == "2d" and values["server"]["persistentVolume"] == {"enabled": False}
    for sub_chart in ("alertmanager", "prometheus-pushgateway", "prometheus-node-exporter", "kube-state-metrics"):
        assert values[sub_chart] == {"enabled": False}
    vllm, gateway = yaml.safe_load(values["extraScrapeConfigs"])
    keep = {tuple(r["source_labels"]): r["regex"] for r in vllm["relabel_configs"] if r.get("action") == "keep"}
    assert keep == {
        ("__meta_kubernetes_pod_label_inferctl_io_platform",): CONFIG.name,
        ("__meta_kubernetes_pod_label_inferctl_io_model",): ".+",  # model pods only: the gateway's port is "http" too
        ("__meta_kubernetes_pod_container_port_name",): "http",
    }
    keep = {tuple(r["source_labels"]): r["regex"] for r in gateway["relabel_configs"] if r.get("action") == "keep"}
    assert keep == {
        ("__meta_kubernetes_pod_label_inferctl_io_platform",): CONFIG.name,
        ("__meta_kubernetes_pod_label_app_kubernetes_io_component",): "gateway",
        ("__meta_kubernetes_pod_container_port_name",): "metrics",  # smg's --prometheus-port
    }
    for job in (vllm, gateway):
        assert {"namespace", "pod"} <= {r.get("target_label") for r in job["relabel_configs"]}
    # the rendered ScaledObjects read "prometheus-server" (chart: <release>-<server.name>) in this namespace, port 80
    assert f"http://{release['name']}-server.{release['namespace']}.svc:80" == INSTALLED_PROMETHEUS_URL


def test_the_offline_plan_shows_the_releases_with_versions_and_values() -> None:
    plan = offline_plan(CONFIG)
    listed = {r["name"]: r["properties"] for r in plan["resources"] if r["type"] == RELEASE}
    for resource_name, (chart, version, namespace, _) in EXPECTED.items():
        assert (listed[resource_name]["chart"], listed[resource_name]["version"]) == (chart, version)
        assert listed[resource_name]["namespace"] == namespace
        assert listed[resource_name]["values"]
    assert plan["components"]["autoscaling"] == {
        "keda": {"chart": "keda", "version": "2.20.2"},
        "http-add-on": {"chart": "keda-add-ons-http", "version": "0.15.0"},
        "prometheus": {"chart": "prometheus", "version": "29.27.0"},
    }


def _key_paths(values: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key inferctl sets; a dict under a key the chart leaves empty (``{}``) is one value."""
    out: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict) and key not in {"nodeSelector", "resources"}:
            out |= _key_paths(value, path + ".")
    return out


def _defaults(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _has(defaults: dict[str, Any], path: str) -> bool:
    node: Any = defaults
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_value_inferctl_sets_is_a_key_of_the_pinned_chart() -> None:
    """A misspelt values key is silently ignored by Helm; here it fails (see tests/fixtures/helm/README.md)."""
    run = run_program(CONFIG)
    files = {
        "keda": "keda-2.20.2-values.yaml",
        "keda-http-add-on": "keda-add-ons-http-0.15.0-values.yaml",
        "prometheus": "prometheus-29.27.0-values.yaml",
    }
    for resource_name, values_file in files.items():
        defaults = _defaults(values_file)
        values = one(run.resources, RELEASE, resource_name).inputs["values"]
        unknown = sorted(p for p in _key_paths(values) if not _has(defaults, p))
        assert not unknown, f"{resource_name}: {unknown} are not keys of {values_file}"
    assert not _has(_defaults("prometheus-29.27.0-values.yaml"), "server.retentionSizes")  # the check can fail
