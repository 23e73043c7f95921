"""A status report (any target) as per-model load: the rows ``status --watch`` and the console show.

:func:`model_loads` turns any report into :class:`ModelLoad` rows (a list of any length); :class:`OutputRate`
turns two reads of vLLM's generation-token counter into output tokens per second. What a report does not carry is
None (the Kubernetes report has replicas but no vLLM metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from inferctl.targets.status import AwsStatus, KubernetesStatus, LocalModelStatus, LocalStatus, StatusReport


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
    """One read for a live view: the report and the output rate per model (None until two reads)."""

    report: StatusReport
    output_tokens_per_s: Mapping[str, float | None]


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

    def read(self, report: StatusReport) -> StatusRead:
        return StatusRead(report, self.observe(report))


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


def model_loads(report: StatusReport, rates: Mapping[str, float | None] | None = None) -> list[ModelLoad]:
    """Per model: state, replicas ready/desired, requests running/waiting, KV cache use, output tok/s."""
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
    for k in report.models:
        scaler = k.autoscaling or {}
        out.append(
            ModelLoad(
                name=k.name,
                state=k.state,
                ready=k.ready if k.deployed else None,
                desired=k.replicas if k.deployed else None,
                running=None,
                waiting=None,
                kv_cache_pct=None,
                output_tokens_per_s=rates.get(k.name),
                where=k.instance_type,
                note=f"autoscaling: {scaler['state']}" if scaler.get("state") else None,
            )
        )
    return out


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
    "footer",
    "has_vllm_metrics",
    "headline",
    "model_loads",
    "number_text",
    "percent_text",
    "served_names",
]
