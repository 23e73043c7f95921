"""A status report (any target) as per-model load: the rows ``status --watch`` and the console show.

:func:`model_loads` turns any report into :class:`ModelLoad` rows (a list of any length); :class:`OutputRate`
turns two reads of vLLM's generation-token counter into output tokens per second. The local report carries vLLM's
figures itself (each server's ``/metrics``); a cluster's report has replicas only, and its load comes from the
target's metrics store (:func:`cluster_metrics`: Prometheus, through
:class:`~inferctl.targets.base.ModelMetricsCapability`). What neither says is None.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from inferctl.metrics import ModelMetrics, ModelMetricsRead
from inferctl.targets.base import ModelMetricsCapability, Target
from inferctl.targets.status import AwsStatus, KubernetesStatus, LocalModelStatus, LocalStatus, StatusReport
from inferctl.views.errors import one_line


@dataclass(frozen=True)
class ModelLoad:
    """One model as the live views show it; None: the report does not say."""

    name: str
    state: str
    ready: int | None
    desired: int | None
    running: float | None
    waiting: float | None
    kv_cache_pct: float | None
    output_tokens_per_s: float | None
    where: str | None = None  # the instance type (clusters) or the address (local)
    note: str | None = None


@dataclass(frozen=True)
class StatusRead:
    """One read for a live view: the report, the output rate per model from two reads of the report's counters
    (None until two reads; local) and a cluster's load from its metrics store (None: the report carries it)."""

    report: StatusReport
    output_tokens_per_s: Mapping[str, float | None]
    metrics: ModelMetricsRead | None = None


class OutputRate:
    """Output tokens per second per model, from two reads of ``vllm:generation_tokens_total`` (a counter): the
    difference over the time between the reads. None on the first read, without the counter, or when it went
    down (the server restarted)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, tuple[float, float]] = {}

    def observe(self, report: StatusReport) -> dict[str, float | None]:
        now = self._clock()
        rates: dict[str, float | None] = {}
        seen: dict[str, tuple[float, float]] = {}
        for name, counter in _counters(report).items():
            rates[name] = None
            if counter is None:
                continue
            before = self._last.get(name)
            if before is not None and now > before[1] and counter >= before[0]:
                rates[name] = (counter - before[0]) / (now - before[1])
            seen[name] = (counter, now)
        self._last = seen
        return rates

    def read(self, report: StatusReport, metrics: ModelMetricsRead | None = None) -> StatusRead:
        return StatusRead(report, self.observe(report), metrics)


def cluster_metrics(target: Target, report: StatusReport) -> ModelMetricsRead | None:
    """The per-model load of a target that reads it from a metrics store (a cluster's Prometheus), or None where
    the status report carries it (local) or nothing is deployed (aws before ``up``). A read that raises becomes a
    read with its ``problem``: the rest of a view still shows."""
    if not isinstance(target, ModelMetricsCapability):
        return None
    if isinstance(report, AwsStatus) and report.cluster_status is None:
        return None
    try:
        return target.model_metrics()
    except Exception as exc:  # a metrics store that fails is one line in the view, never the whole read
        return ModelMetricsRead({}, problem=one_line(exc))


def read_status(target: Target, rate: OutputRate) -> StatusRead:
    """One read of a live view: the target's status and, on a cluster, its load."""
    report = target.status()
    return rate.read(report, cluster_metrics(target, report))


def _counters(report: StatusReport) -> dict[str, float | None]:
    if isinstance(report, LocalStatus):  # a model's replicas (one row per server) add up
        return {name: sum_known(m.generation_tokens_total for m in rows) for name, rows in _servers(report).items()}
    return {m.name: None for m in report.models}


def _servers(report: LocalStatus) -> dict[str, list[LocalModelStatus]]:
    """The local report's rows (one per model server) by model, in order."""
    out: dict[str, list[LocalModelStatus]] = {}
    for row in report.models:
        out.setdefault(row.name, []).append(row)
    return out


def sum_known(values: Iterable[float | None]) -> float | None:
    """The sum of the values that are known; None when none is."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def mean_known(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are known; None when none is."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def has_vllm_metrics(report: StatusReport) -> bool:
    """The report carries vLLM's metrics (requests, KV cache, the token counter): the local one does."""
    return isinstance(report, LocalStatus)


def model_loads(
    report: StatusReport,
    rates: Mapping[str, float | None] | None = None,
    metrics: ModelMetricsRead | None = None,
) -> list[ModelLoad]:
    """Per model: state, replicas ready/desired, requests running/waiting, KV cache use, output tok/s. On a
    cluster the load is ``metrics``' (by served model name), all replicas of a model together."""
    rates = rates or {}
    if isinstance(report, LocalStatus):
        loads = []
        for name, rows in _servers(report).items():
            healthy = [m for m in rows if m.healthy]
            loads.append(
                ModelLoad(
                    name=name,
                    state="running" if len(healthy) == len(rows) else rows[0].state or report.state,
                    ready=len(healthy),
                    desired=len(rows),
                    running=sum_known(m.requests_running for m in rows),
                    waiting=sum_known(m.requests_waiting for m in rows),
                    kv_cache_pct=mean_known(m.kv_cache_usage_pct for m in rows),
                    output_tokens_per_s=rates.get(name),
                    where=rows[0].base_url if len(rows) == 1 else f"{len(rows)} servers",
                    note=next((m.note or m.startup_phase for m in rows if m.note or m.startup_phase), None),
                )
            )
        return loads
    out = []
    measured = {} if metrics is None else metrics.models
    for k in report.models:
        scaler = k.autoscaling or {}
        figures = measured.get(k.model, ModelMetrics())
        rate = rates.get(k.name)
        out.append(
            ModelLoad(
                name=k.name,
                state=k.state,
                ready=k.ready if k.deployed else None,
                desired=k.replicas if k.deployed else None,
                running=figures.running,
                waiting=figures.waiting,
                kv_cache_pct=figures.kv_cache_pct,
                output_tokens_per_s=figures.output_tokens_per_s if rate is None else rate,
                where=k.instance_type,
                note=f"autoscaling: {scaler['state']}" if scaler.get("state") else None,
            )
        )
    return out


def load_to_dict(report: StatusReport, metrics: ModelMetricsRead) -> dict[str, Any]:
    """``status --output json``'s ``load`` on a cluster: where the figures come from (``source``), why there are
    none (``problem``), and one row per model of the report (its ``name``) with what vLLM measured across its
    replicas (None: no series, e.g. a model at zero). TTFT is the last minute's p50/p99 from vLLM's histogram."""
    rows = []
    if metrics.problem is None:
        served = served_names(report)
        for model in report.models:
            rows.append({"name": model.name, **asdict(metrics.models.get(served[model.name], ModelMetrics()))})
    return {"source": metrics.source, "problem": metrics.problem, "models": rows}


def served_names(report: StatusReport) -> dict[str, str]:
    """Each model's name (a deployment's) -> the name clients and vLLM's ``model_name`` label use."""
    if isinstance(report, LocalStatus):
        return {m.name: m.served_model_name for m in report.models}
    return {m.name: m.model for m in report.models}


def headline(report: StatusReport) -> str:
    """Which platform, where, in what state: a live view's first line."""
    if isinstance(report, LocalStatus):
        return f"platform {report.platform} · target local · {report.state}"
    if isinstance(report, AwsStatus):
        return f"platform {report.platform} · target aws · cluster {report.cluster} ({report.region}) · {report.state}"
    return f"platform {report.platform} · target {report.target} · context {report.context} · {report.namespace}"


def footer(report: StatusReport) -> list[str]:
    """What else the report says, one short line each."""
    lines: list[str] = []
    if isinstance(report, LocalStatus):
        if report.preparing:
            prep = report.preparing
            detail = f" {prep['detail']}" if prep.get("detail") else ""
            lines.append(f"'up' is {prep['phase']}{detail} ({prep.get('elapsed_s', 0):.0f} s)")
        if report.gateway:
            lines.append(f"gateway: {report.gateway.get('base_url')} ({report.gateway.get('state')})")
        for crash in report.crashes:
            lines.append(
                f"{crash.get('server')} crashed: {crash.get('how')}; see 'inferctl logs --model {crash.get('model')}'"
            )
        if len(report.models) == 1 and report.models[0].log_path:
            lines.append(f"log: {report.models[0].log_path}")
        if report.state == "stopped":
            lines.append("nothing runs; start it with 'inferctl up'")
        return lines
    cluster = report.cluster_status if isinstance(report, AwsStatus) else report
    if isinstance(cluster, KubernetesStatus) and cluster.gateway:
        lines.append(gateway_line(cluster.gateway))
    if isinstance(report, AwsStatus) and report.endpoint:
        lines.append(f"endpoint: {report.endpoint}")
    if isinstance(report, AwsStatus) and report.cost_now:
        cost = report.cost_now
        lines.append(f"costs now: ${cost['usd_per_hour']:,.3f}/h (~${cost['usd_per_month_at_this_rate']:,.0f} a month)")
    if isinstance(cluster, KubernetesStatus) and cluster.nodepools:
        pools = ", ".join(
            f"{p['name']} {p['nodes']} node{'s' if p['nodes'] != 1 else ''}"
            + ("" if p.get("ready") == "True" else " (not ready)")
            for p in cluster.nodepools
        )
        lines.append(f"node pools: {pools}")
    return lines


def gateway_line(gateway: Mapping[str, Any]) -> str:
    """A cluster's one entry (kube.gateway.gateway_view) in a line: its state, ready replicas and endpoint."""
    line = f"gateway {gateway.get('name')}: {gateway.get('state')}"
    if gateway.get("replicas"):
        line += f", {gateway.get('ready', 0)}/{gateway['replicas']} replicas ready"
    if gateway.get("endpoint"):
        line += f" · {gateway['endpoint']}"
    return line


def number_text(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def percent_text(value: float | None) -> str:
    """12% / 0.4%: a small model's KV cache fills by fractions of a percent."""
    if value is None:
        return "-"
    return f"{value:.1f}%" if 0 < value < 10 else f"{value:.0f}%"


__all__ = [
    "ModelLoad",
    "OutputRate",
    "StatusRead",
    "cluster_metrics",
    "footer",
    "gateway_line",
    "has_vllm_metrics",
    "headline",
    "load_to_dict",
    "model_loads",
    "number_text",
    "percent_text",
    "read_status",
    "served_names",
]
