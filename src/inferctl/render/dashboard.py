"""A Grafana dashboard for vLLM's Prometheus metrics, built as data (deterministic JSON).

Metric names are vLLM 0.32's (``vllm/v1/metrics/loggers.py``): every series carries ``model_name`` (the served
model name) and ``engine``; counters get Prometheus' ``_total`` suffix.
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
    """The dashboard model (Grafana's JSON), one panel per signal that matters when serving LLMs."""
    return {
        "uid": dashboard_uid(config),
        "title": f"inferctl / {config.name} / vLLM",
        "tags": ["inferctl", "vllm"],
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
        "panels": [_panel(i, title, unit, queries) for i, (title, unit, queries) in enumerate(PANELS)],
    }
