"""vLLM's per-model load for the console's charts: TTFT quantiles from its histogram (local: two reads of
``/metrics``), and every figure from Prometheus on a cluster.

vLLM's ``/metrics`` text is written as vLLM 0.32 and prometheus_client 0.26 expose it (tests/support/local.py
cites both). The quantile estimate is Prometheus' ``histogram_quantile`` for classic buckets (prometheus/prometheus
promql/quantile.go, bucketQuantile, at 01381a8): rank q x count, the first bucket reaching it, linear inside it
from the bound below (0 below the first bucket), the highest finite bound for a rank in the +Inf bucket.

The cluster's Prometheus answers through the API server's service proxy of tests.support.kube.FakeCluster (no API
server or Prometheus runs here), in Prometheus' HTTP API shape (docs/querying/api.md, "Instant queries":
``{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {...}, "value": [t, "v"]}]}}``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.metrics import Histogram, parse_histograms, sum_by_label
from inferctl.targets.kubernetes import KubernetesTarget
from inferctl.views.latency import LatencyWindow
from tests.support.kube import FakeCluster, kubeconfig, serve
from tests.support.local import TTFT_BUCKETS, ttft_histogram, vllm_metrics

NS = "inferctl"


def test_a_histogram_is_read_per_model_and_summed_over_engines() -> None:
    text = (
        vllm_metrics("demo", running=1, waiting=0, kv_cache=0.1, generation_tokens=5, ttft_s=[0.03, 0.07])
        + ttft_histogram("demo", [0.2], engine="1")
        + ttft_histogram("other", [3.0])
    )
    found = parse_histograms(text)
    assert set(found) == {"demo", "other"}
    demo = found["demo"]
    assert demo.count == 3 and demo.sum == pytest.approx(0.3)
    assert [bound for bound, _ in demo.buckets] == [*TTFT_BUCKETS, math.inf]
    assert dict(demo.buckets)[0.04] == 1 and dict(demo.buckets)[0.08] == 2 and dict(demo.buckets)[0.25] == 3
    assert parse_histograms("vllm:num_requests_running 1\n") == {}


def test_quantiles_interpolate_inside_the_bucket_as_prometheus_does() -> None:
    # 10 first tokens: 4 under 40 ms, 4 more under 60 ms, 2 under 100 ms.
    histogram = parse_histograms(ttft_histogram("m", [0.03] * 4 + [0.05] * 4 + [0.09] * 2))["m"]
    # p50: rank 5 falls in (0.04, 0.06] holding ranks 4..8: 0.04 + 0.02 x (5 - 4) / 4.
    assert histogram.quantile(0.5) == pytest.approx(0.045)
    # p99: rank 9.9 in (0.08, 0.1] holding ranks 8..10: 0.08 + 0.02 x 1.9 / 2.
    assert histogram.quantile(0.99) == pytest.approx(0.099)
    # The first bucket interpolates from 0.
    assert parse_histograms(ttft_histogram("m", [0.0005] * 2))["m"].quantile(0.5) == pytest.approx(0.0005)
    # A rank in the +Inf bucket: the highest finite bound.
    assert parse_histograms(ttft_histogram("m", [9000.0]))["m"].quantile(0.5) == 2560.0
    assert parse_histograms(ttft_histogram("m", []))["m"].quantile(0.5) is None


def test_two_reads_give_what_happened_between_them_and_a_restart_gives_nothing() -> None:
    before = parse_histograms(ttft_histogram("m", [5.0] * 3))["m"]
    after = parse_histograms(ttft_histogram("m", [5.0] * 3 + [0.05, 0.05]))["m"]
    window = after.since(before)
    assert window is not None and window.count == 2 and window.mean() == pytest.approx(0.05)
    assert window.quantile(0.5) == pytest.approx(0.05)  # the 5 s of the earlier requests are not in it
    assert before.since(after) is None  # counts went down: the server restarted
    assert Histogram(((1.0, 1), (math.inf, 1)), 0.5).since(before) is None  # other buckets


def test_the_latency_window_reports_the_last_seconds_only() -> None:
    now = [0.0]
    window = LatencyWindow(window_s=30, clock=lambda: now[0])
    reads = {0: [], 10: [0.05], 20: [0.05, 0.05], 45: [0.05, 0.05, 2.0], 50: [0.05, 0.05, 2.0]}
    seen: dict[int, Any] = {}
    for at, observations in reads.items():
        now[0] = float(at)
        seen[at] = window.observe(parse_histograms(ttft_histogram("m", observations)))["m"]
    assert seen[0] is None  # one read: nothing to compare with
    assert seen[10] is not None and seen[10].requests == 1 and seen[10].p50_ms == pytest.approx(50.0)
    # At 45 s the baseline is the read at 10 s (the newest at least 30 s old): the 2 s request and one 50 ms one.
    assert seen[45].requests == 2
    assert seen[45].p99_ms is not None and seen[45].p99_ms > 1000
    # At 50 s the baseline is the read at 20 s: only the 2 s request came since.
    assert seen[50].requests == 1 and seen[50].p50_ms == pytest.approx(1750.0)
    now[0] = 51.0
    assert window.observe({"m": parse_histograms(ttft_histogram("m", [0.05]))["m"]})["m"] is None  # restarted


# --- clusters: Prometheus through the API server --------------------------------------------------------------


class FakePrometheus:
    """Answers the console's instant queries with one series per served model, by the metric each query reads
    (the expressions are inferctl's own; this stand-in does not evaluate PromQL). Records what it was asked."""

    def __init__(self, values: dict[str, dict[str, float]], *, status: int = 200) -> None:
        self.values = values  # metric or quantile -> model_name -> value
        self.status = status
        self.queries: list[str] = []

    def __call__(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        assert path == "api/v1/query", path
        expr = query["query"]
        self.queries.append(expr)
        if self.status != 200:
            return self.status, {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}
        key = next(k for k in self.values if k in expr)
        result = [{"metric": {"model_name": m}, "value": [1784541600.0, str(v)]} for m, v in self.values[key].items()]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


def cluster_config(tmp_path: Path, *, target: str = "kubernetes", url: str | None = None) -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": target,
            "models": [{"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct"}],
            "kubernetes": {"kubeconfig": str(kubeconfig(tmp_path / "kubeconfig")), "namespace": NS},
            "observability": {"prometheus_url": url},
        }
    )


LOAD = {
    "vllm:num_requests_running": {"llama": 3.0},
    "vllm:num_requests_waiting": {"llama": 1.0},
    "vllm:kv_cache_usage_perc": {"llama": 0.25},
    "vllm:generation_tokens_total": {"llama": 812.5},
    "histogram_quantile(0.5,": {"llama": 0.12},
    "histogram_quantile(0.99,": {"llama": float("nan")},  # Prometheus' answer without observations in the window
}


def test_cluster_load_comes_from_the_configured_prometheus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = serve(FakeCluster(namespaces=["default", NS, "monitoring"]), monkeypatch, tmp_path)
    prometheus = FakePrometheus(LOAD)
    fake.proxy[("monitoring", "prometheus-server")] = prometheus
    cfg = cluster_config(tmp_path, url="http://prometheus-server.monitoring.svc")
    read = KubernetesTarget(cfg, Home.from_env()).model_metrics()
    assert read.problem is None and read.source == "http://prometheus-server.monitoring.svc"
    llama = read.models["llama"]
    assert (llama.running, llama.waiting, llama.kv_cache_pct) == (3.0, 1.0, 25.0)
    assert llama.output_tokens_per_s == 812.5 and llama.ttft_p50_ms == pytest.approx(120.0)
    assert llama.ttft_p99_ms is None
    assert len(prometheus.queries) == 6
    assert all(f'{{namespace="{NS}"}}' in q and "by (model_name" in q for q in prometheus.queries)
    assert any(q.startswith("histogram_quantile(0.99, sum by (model_name, le) (rate(") for q in prometheus.queries)


def test_aws_reads_the_prometheus_it_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = serve(FakeCluster(namespaces=["default", NS, "prometheus"]), monkeypatch, tmp_path)
    fake.proxy[("prometheus", "prometheus-server")] = FakePrometheus(LOAD)
    cfg = cluster_config(tmp_path, target="aws")
    read = KubernetesTarget(cfg, Home.from_env()).model_metrics()  # what AwsTarget.model_metrics delegates to
    assert read.source == "http://prometheus-server.prometheus.svc:80" and read.models["llama"].running == 3.0


def test_without_prometheus_there_are_no_metrics_and_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = serve(FakeCluster(namespaces=["default", NS, "monitoring"]), monkeypatch, tmp_path)
    read = KubernetesTarget(cluster_config(tmp_path), Home.from_env()).model_metrics()
    assert read.models == {} and read.problem is not None and "observability.prometheus_url" in read.problem
    assert not [r for r in fake.requests if "proxy" in r.path]  # nothing was asked

    fake.proxy[("monitoring", "prometheus-server")] = FakePrometheus(LOAD, status=503)
    cfg = cluster_config(tmp_path, url="http://prometheus-server.monitoring.svc")
    read = KubernetesTarget(cfg, Home.from_env()).model_metrics()
    assert read.models == {} and read.problem is not None
    assert "did not answer: HTTP 503: TSDB not ready" in read.problem

    cfg = cluster_config(tmp_path, url="https://prometheus.example.com")
    read = KubernetesTarget(cfg, Home.from_env()).model_metrics()
    assert read.models == {} and read.problem == (
        "https://prometheus.example.com is not a cluster Service address; it is not read from here"
    )


def test_a_counter_is_summed_per_value_of_one_label() -> None:
    """smg's ``smg_worker_requests_total`` (smg 1.13.0's own /metrics, read from the pinned binary on this machine:
    ``# HELP ... Requests dispatched to a worker by worker (URL) and model``; series
    ``{worker="http://127.0.0.1:PORT",model="demo"}``): the requests the gateway sent each server, summed over
    its other labels; other metrics and series without the label are left out."""
    text = (
        "# HELP smg_worker_requests_total Requests dispatched to a worker by worker (URL) and model, counted at "
        "each send\n"
        "# TYPE smg_worker_requests_total counter\n"
        'smg_worker_requests_total{worker="http://127.0.0.1:8001",model="demo"} 3\n'
        'smg_worker_requests_total{worker="http://127.0.0.1:8001",model="demo-alias"} 2\n'
        'smg_worker_requests_total{worker="http://127.0.0.1:8002",model="smollm2"} 1\n'
        'smg_worker_requests_total_created{worker="http://127.0.0.1:8002"} 1.7e9\n'
        "smg_worker_requests_total 9\n"
    )
    assert sum_by_label(text, "smg_worker_requests_total", "worker") == {
        "http://127.0.0.1:8001": 5.0,
        "http://127.0.0.1:8002": 1.0,
    }
