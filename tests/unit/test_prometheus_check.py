"""``up --target kubernetes`` asks the user's Prometheus whether KEDA's query returns data, and says what to change.

The Prometheus answers through the API server's service proxy of tests.support.kube.FakeCluster (no API server or
Prometheus runs here), in the shape of Prometheus' stable HTTP API (prometheus/prometheus ``docs/querying/api.md``,
"Instant queries" and "Instant vectors": ``{"status": "success", "data": {"resultType": "vector", "result":
[{"metric": {...}, "value": [<unix_time>, "<sample_value>"]}]}}``; nothing matched: an empty ``result``). Series
are vLLM 0.32's gauge ``vllm:num_requests_running`` with its ``model_name`` label (vllm/v1/metrics/loggers.py), plus
what a scrape job adds (``namespace``, ``pod``; ``__meta_kubernetes_namespace`` is Prometheus' Kubernetes service
discovery label for it, docs/configuration/configuration.md ``kubernetes_sd_config``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.kube.prometheus import SCRAPE_WAIT_S, PrometheusService, check_prometheus_data
from inferctl.render import render_platform
from inferctl.sizing import plan_platform
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.kube import Clock, FakeCluster, RecordingReporter, connect, kubeconfig, make_pod, serve, set_rollout

NS = "inferctl"
PROMETHEUS = "http://prometheus-server.monitoring.svc"
SOURCE = "meta-llama/Meta-Llama-3-8B-Instruct"
SERVED = "llama"  # vLLM's model_name label is the served name: models[].served_model_name, else models[].name
MATCHER = re.compile(r"\{([^}]*)\}")


def config(tmp_path: Path, *, url: str | None = PROMETHEUS, target: str = "kubernetes", **observability: Any) -> Any:
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": target,
            "models": [{"name": "llama", "source": SOURCE, "autoscaling": {"min_replicas": 1, "max_replicas": 2}}],
            "kubernetes": {"kubeconfig": str(path), "namespace": NS},
            "observability": {"prometheus_url": url, **observability},
        }
    )


def vector(series: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": s, "value": [1784541600.0, "0"]} for s in series]},
    }


class FakePrometheus:
    """Answers instant queries from the series it holds: a selector's ``label="value"`` matchers must all hold
    (sum() of matching series: one unlabelled sample when any matches, as Prometheus answers an aggregation)."""

    def __init__(self, series: list[dict[str, str]] | None = None) -> None:
        self.series = series or []
        self.queries: list[str] = []

    def __call__(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        assert path == "api/v1/query", path
        expr = query["query"]
        self.queries.append(expr)
        matchers = dict(re.findall(r'(\w+)="([^"]*)"', MATCHER.search(expr).group(1)))  # type: ignore[union-attr]
        found = [s for s in self.series if all(s.get(k) == v for k, v in matchers.items())]
        if expr.startswith("sum("):
            return 200, vector([{}] if found else [])
        return 200, vector(found)


def scraped(namespace: str | None = NS) -> list[dict[str, str]]:
    labels = {"__name__": "vllm:num_requests_running", "model_name": SERVED, "pod": "llama-6d4cf56db6-x2x9p"}
    if namespace is not None:
        labels["namespace"] = namespace
    return [labels]


def cluster(prometheus: Any = None) -> FakeCluster:
    fake = FakeCluster(namespaces=["default", NS, "monitoring"])
    if prometheus is not None:
        fake.proxy[("monitoring", "prometheus-server")] = prometheus
    return fake


def run(fake: FakeCluster, cfg: PlatformConfig, tmp_path: Path, *, ready: int = 1) -> tuple[RecordingReporter, Clock]:
    fake.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "llama", "namespace": NS, "generation": 1},
            "spec": {"selector": {"matchLabels": {}}, "template": {"spec": {"containers": []}}},
        }
    )
    set_rollout(fake, "llama", NS, ready=ready, replicas=ready)
    objects = render_platform(cfg, plan_platform(cfg).placements)
    reporter, clock = RecordingReporter(), Clock()
    check_prometheus_data(connect(fake, tmp_path), cfg, objects, reporter, poller=clock.poller(15))
    return reporter, clock


def test_keda_query_with_data_is_confirmed_at_once(tmp_path: Path) -> None:
    prometheus = FakePrometheus(scraped())
    reporter, clock = run(cluster(prometheus), config(tmp_path), tmp_path)
    assert reporter.warnings == [] and clock.now == 0
    assert reporter.infos == [f"autoscaling of llama: Prometheus at {PROMETHEUS} answers KEDA's query with data"]
    # The query asked is the ScaledObject's own, namespace matcher included.
    assert prometheus.queries[0].startswith('sum(vllm:num_requests_running{namespace="inferctl",model_name=')


def test_series_without_a_namespace_label_are_named_with_the_relabelling_to_add(tmp_path: Path) -> None:
    reporter, clock = run(cluster(FakePrometheus(scraped(namespace=None))), config(tmp_path), tmp_path)
    (warning,) = reporter.warnings
    assert "autoscaling of llama reads nothing" in warning and "its series have no namespace label" in warning
    assert 'KEDA\'s query selects namespace="inferctl"' in warning
    assert "add a relabelling from __meta_kubernetes_namespace to the label namespace" in warning
    assert clock.now == 0  # conclusive without waiting for another scrape


def test_series_of_another_namespace_are_named(tmp_path: Path) -> None:
    reporter, _ = run(cluster(FakePrometheus(scraped(namespace="ml"))), config(tmp_path), tmp_path)
    (warning,) = reporter.warnings
    assert "its series carry namespace=ml, not inferctl" in warning


@pytest.mark.parametrize("pod_monitor", [False, True])
def test_a_prometheus_that_never_scrapes_the_pods_is_reported_after_waiting_for_a_scrape(
    tmp_path: Path, pod_monitor: bool
) -> None:
    reporter, clock = run(cluster(FakePrometheus()), config(tmp_path, prometheus=pod_monitor), tmp_path)
    assert SCRAPE_WAIT_S <= clock.now < SCRAPE_WAIT_S + 15
    (warning,) = reporter.warnings
    assert f"Prometheus at {PROMETHEUS} has no vllm:num_requests_running series of model {SERVED}" in warning
    if pod_monitor:
        assert "podMonitorSelector" in warning
    else:
        assert "set observability.prometheus: true" in warning and "inferctl.io/platform=genai" in warning
    assert any(name == "checking autoscaling metrics" for name, _ in reporter.phases)  # progress while waiting


def test_data_that_arrives_with_the_first_scrape_ends_the_wait(tmp_path: Path) -> None:
    prometheus = FakePrometheus()
    fake = cluster(prometheus)
    calls = 0

    def later(path: str, query: dict[str, str]) -> tuple[int, Any]:
        nonlocal calls
        calls += 1
        if calls > 4:  # after two polls: the pod was scraped
            prometheus.series = scraped()
        return prometheus(path, query)

    fake.proxy[("monitoring", "prometheus-server")] = later
    reporter, clock = run(fake, config(tmp_path), tmp_path)
    assert reporter.warnings == [] and 0 < clock.now < SCRAPE_WAIT_S


def test_an_unreachable_prometheus_is_named(tmp_path: Path) -> None:
    reporter, _ = run(cluster(None), config(tmp_path), tmp_path)  # the proxy: no endpoints (503)
    (warning,) = reporter.warnings
    assert f"cannot read Prometheus at {PROMETHEUS} (HTTP 503" in warning and "observability.prometheus_url" in warning


def test_nothing_is_asked_at_zero_replicas_on_aws_or_outside_the_cluster(tmp_path: Path) -> None:
    prometheus = FakePrometheus(scraped())
    reporter, _ = run(cluster(prometheus), config(tmp_path), tmp_path, ready=0)
    assert prometheus.queries == [] and reporter.warnings == []
    reporter, _ = run(cluster(prometheus), config(tmp_path, target="aws"), tmp_path)
    assert prometheus.queries == [] and reporter.infos == []
    # outside the cluster: its scraper's namespace must be named (render.observability.scraper_peer)
    outside = config(tmp_path, url="https://prometheus.example.com", prometheus_namespace="monitoring")
    reporter, _ = run(cluster(prometheus), outside, tmp_path)
    assert prometheus.queries == [] and "cannot check from here" in reporter.infos[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://prometheus-server.monitoring.svc", ("http", "prometheus-server", "monitoring", 80, "")),
        ("http://prometheus-operated.monitoring.svc:9090", ("http", "prometheus-operated", "monitoring", 9090, "")),
        (
            "https://kps-prometheus.obs.svc.cluster.local:9090/prom/",
            ("https", "kps-prometheus", "obs", 9090, "/prom"),
        ),
        ("http://prometheus.example.com:9090", None),
    ],
)
def test_the_service_a_prometheus_url_names(url: str, expected: tuple[Any, ...] | None) -> None:
    where = PrometheusService.from_url(url)
    got = None if where is None else (where.scheme, where.service, where.namespace, where.port, where.path)
    assert got == expected


def test_up_on_the_kubernetes_target_warns_when_the_query_has_no_namespace_label(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Through the target: after the rollout and the smoke test, the check runs on what up applied."""
    fake = serve(cluster(FakePrometheus(scraped(namespace=None))), monkeypatch, tmp_path)

    def rolled_out(cluster: FakeCluster) -> None:
        labels = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
        cluster.put(make_pod("llama-1", NS, labels, node="n1", phase="Running", ready=True, container={"state": {}}))
        set_rollout(cluster, "llama", NS, ready=1)

    fake.frames = [rolled_out]
    reporter = RecordingReporter()
    clock = Clock()
    KubernetesTarget(config(tmp_path), Home.from_env(), poller=clock.poller(1)).up(reporter)
    assert any("its series have no namespace label" in w for w in reporter.warnings), reporter.warnings
