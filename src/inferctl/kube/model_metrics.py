"""vLLM's load per model on a cluster, read from Prometheus: requests running and waiting, KV cache, output
tokens/s and TTFT (p50, p99 from vLLM's histogram). The console's live charts on the kubernetes and aws targets.

Which Prometheus: ``observability.prometheus_url``, else on aws the one inferctl installs
(:data:`inferctl.render.autoscaling.INSTALLED_PROMETHEUS_URL`); on kubernetes without one there are no metrics
and the read says so. It is asked through the API server's service proxy (:class:`PrometheusQueries`), so it
needs no port-forward; a URL that is not a cluster Service is not reached from here.

Series are vLLM 0.32's (vllm/v1/metrics/loggers.py): each carries ``model_name`` (the served name) and ``engine``;
the scrape job adds ``namespace`` (on aws inferctl's own job; elsewhere the user's, see kube.prometheus). Rates
look one minute back: four of the 15 s scrapes inferctl configures (aws.addons, render.observability).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from inferctl.config.models import PlatformConfig
from inferctl.kube.client import KubeClient
from inferctl.kube.prometheus import PrometheusQueries, PrometheusService
from inferctl.metrics import TTFT_SECONDS, ModelMetrics, ModelMetricsRead
from inferctl.render.autoscaling import KV_CACHE_USAGE, RUNNING, WAITING, prometheus_url

RATE_WINDOW = "1m"
GENERATION_TOKENS = "vllm:generation_tokens_total"


def prometheus_address(config: PlatformConfig) -> str | None:
    """The Prometheus that has the model pods' metrics: the configured one, else the one the aws target installs."""
    if config.observability.prometheus_url or config.traits.owns_infrastructure:
        return prometheus_url(config)
    return None


def queries(namespace: str) -> dict[str, str]:
    """One PromQL expression per figure, each answering one series per served model (``model_name``)."""
    where = f'{{namespace="{namespace}"}}'
    ttft = f"sum by (model_name, le) (rate({TTFT_SECONDS}_bucket{where}[{RATE_WINDOW}]))"
    return {
        "running": f"sum by (model_name) ({RUNNING}{where})",
        "waiting": f"sum by (model_name) ({WAITING}{where})",
        "kv_cache": f"avg by (model_name) ({KV_CACHE_USAGE}{where})",
        "output_tokens_per_s": f"sum by (model_name) (rate({GENERATION_TOKENS}{where}[{RATE_WINDOW}]))",
        "ttft_p50": f"histogram_quantile(0.5, {ttft})",
        "ttft_p99": f"histogram_quantile(0.99, {ttft})",
    }


def read_model_metrics(client: KubeClient, config: PlatformConfig) -> ModelMetricsRead:
    """Every served model's load from Prometheus, or no models and the reason."""
    url = prometheus_address(config)
    if url is None:
        return ModelMetricsRead(
            {}, problem="no Prometheus: set observability.prometheus_url to one that scrapes the model pods"
        )
    where = PrometheusService.from_url(url)
    if where is None:
        return ModelMetricsRead({}, url, f"{url} is not a cluster Service address; it is not read from here")
    prometheus = PrometheusQueries(client, where)
    figures: dict[str, dict[str, float]] = {}
    for figure, expr in queries(config.kubernetes.namespace).items():
        found = prometheus.samples(expr)
        if found is None:
            return ModelMetricsRead({}, url, f"Prometheus at {url} did not answer: {prometheus.problem}")
        figures[figure] = {labels.get("model_name", ""): value for labels, value in found if not math.isnan(value)}
    names = sorted({name for values in figures.values() for name in values if name})
    return ModelMetricsRead({name: _model(figures, name) for name in names}, url)


def _model(figures: Mapping[str, Mapping[str, float]], name: str) -> ModelMetrics:
    def get(figure: str, scale: float = 1.0) -> float | None:
        value = figures[figure].get(name)
        return None if value is None or math.isinf(value) else value * scale

    return ModelMetrics(
        running=get("running"),
        waiting=get("waiting"),
        kv_cache_pct=get("kv_cache", 100.0),
        output_tokens_per_s=get("output_tokens_per_s"),
        ttft_p50_ms=get("ttft_p50", 1000.0),
        ttft_p99_ms=get("ttft_p99", 1000.0),
    )


__all__ = ["RATE_WINDOW", "prometheus_address", "queries", "read_model_metrics"]
