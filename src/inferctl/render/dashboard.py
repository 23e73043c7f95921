"""A Grafana dashboard for vLLM's and the model gateway's Prometheus metrics, built as data (deterministic JSON).

Metric names are vLLM 0.32's (``vllm/v1/metrics/loggers.py``): every series carries ``model_name`` (the served
model name) and ``engine``; counters get Prometheus' ``_total`` suffix. The gateway's are smg 1.13.0's
(``crates/external_router/src/metrics.rs``: ``smg_router_requests_total``, ``smg_router_request_duration_seconds``
and ``smg_router_request_errors_total``, labelled ``model``, ``endpoint`` and, for errors, ``error_type``;
``model_gateway/src/observability/metrics.rs``: ``smg_http_responses_total`` by ``status_code``,
``smg_worker_requests_active``, ``smg_worker_health`` and ``smg_worker_cb_state`` (0 closed, 1 open, 2 half open)
by ``worker``, the worker's URL). A model asleep at zero has no vLLM series, so the gateway's panels do not filter
on ``$model``: they show every model the gateway routes, a sleeping one's wake worker included.
"""

from __future__ import annotations

from typing import Any

from inferctl.config.models import PlatformConfig

_SEL = '{model_name=~"$model"}'
_RATE = "$__rate_interval"


def _quantiles(metric: str) -> list[tuple[str, str]]:
    return [
        (
            f"p{int(q * 100)} {{{{model_name}}}}",
            f"histogram_quantile({q}, sum by (le, model_name) (rate({metric}_bucket{_SEL}[{_RATE}])))",
        )
        for q in (0.5, 0.95, 0.99)
    ]


# (title, unit, [(legend, PromQL)])
PANELS: tuple[tuple[str, str, list[tuple[str, str]]], ...] = (
    (
        "Requests running / waiting",
        "short",
        [
            ("running {{model_name}}", f"sum by (model_name) (vllm:num_requests_running{_SEL})"),
            ("waiting {{model_name}}", f"sum by (model_name) (vllm:num_requests_waiting{_SEL})"),
        ],
    ),
    (
        "KV-cache usage",
        "percentunit",
        [("{{model_name}} {{pod}}", f"max by (model_name, pod) (vllm:kv_cache_usage_perc{_SEL})")],
    ),
    ("Time to first token", "s", _quantiles("vllm:time_to_first_token_seconds")),
    ("Inter-token latency", "s", _quantiles("vllm:inter_token_latency_seconds")),
    (
        "Tokens per second",
        "short",
        [
            ("generated {{model_name}}", f"sum by (model_name) (rate(vllm:generation_tokens_total{_SEL}[{_RATE}]))"),
            ("prompt {{model_name}}", f"sum by (model_name) (rate(vllm:prompt_tokens_total{_SEL}[{_RATE}]))"),
        ],
    ),
    ("End-to-end request latency", "s", _quantiles("vllm:e2e_request_latency_seconds")),
    (
        "Finished requests per second",
        "reqps",
        [
            (
                "{{finished_reason}}",
                f"sum by (finished_reason) (rate(vllm:request_success_total{_SEL}[{_RATE}]))",
            )
        ],
    ),
    (
        "Preemptions per second (KV cache too small)",
        "short",
        [("{{model_name}}", f"sum by (model_name) (rate(vllm:num_preemptions_total{_SEL}[{_RATE}]))")],
    ),
)


GATEWAY_PANELS: tuple[tuple[str, str, list[tuple[str, str]]], ...] = (
    (
        "Gateway requests per second",
        "reqps",
        [("{{model}}", f"sum by (model) (rate(smg_router_requests_total[{_RATE}]))")],
    ),
    (
        "Gateway request duration",
        "s",
        [
            (
                f"p{int(q * 100)} {{{{model}}}}",
                f"histogram_quantile({q}, sum by (le, model) "
                f"(rate(smg_router_request_duration_seconds_bucket[{_RATE}])))",
            )
            for q in (0.5, 0.95, 0.99)
        ],
    ),
    (
        "Gateway errors per second",
        "reqps",
        [
            (
                "{{model}} {{error_type}}",
                f"sum by (model, error_type) (rate(smg_router_request_errors_total[{_RATE}]))",
            ),
            (
                "HTTP {{status_code}}",
                f'sum by (status_code) (rate(smg_http_responses_total{{status_code!~"2.."}}[{_RATE}]))',
            ),
        ],
    ),
    (
        "Gateway workers: requests in flight, health, circuit breaker",
        "short",
        [
            ("in flight {{worker}}", "sum by (worker) (smg_worker_requests_active)"),
            ("healthy {{worker}}", "min by (worker) (smg_worker_health)"),
            ("breaker {{worker}}", "max by (worker) (smg_worker_cb_state)"),
        ],
    ),
)


def _panel(index: int, title: str, unit: str, queries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": expr,
                "legendFormat": legend,
            }
            for n, (legend, expr) in enumerate(queries)
        ],
    }


def dashboard_uid(config: PlatformConfig) -> str:
    return f"inferctl-vllm-{config.name}"[:40]  # Grafana caps uids at 40 characters


def grafana_dashboard(config: PlatformConfig) -> dict[str, Any]:
    """The dashboard model (Grafana's JSON), one panel per signal that matters when serving LLMs: the model
    servers', then the gateway's."""
    return {
        "uid": dashboard_uid(config),
        "title": f"inferctl / {config.name} / vLLM",
        "tags": ["inferctl", "vllm", "gateway"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
                {
                    "name": "model",
                    "label": "Model",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": "label_values(vllm:num_requests_running, model_name)",
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "panels": [
            _panel(i, title, unit, queries) for i, (title, unit, queries) in enumerate((*PANELS, *GATEWAY_PANELS))
        ],
    }
