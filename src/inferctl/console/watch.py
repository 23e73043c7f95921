"""The console's picture of the platform, read every few seconds and kept for the last minutes.

One read (:meth:`PlatformWatch.read_once`, blocking: the console runs it in a worker thread) asks the target what
``status --watch`` and ``nodes --watch`` ask (:mod:`inferctl.views`), plus per-model metrics: on a cluster from
its Prometheus (:class:`~inferctl.targets.base.ModelMetricsCapability`); locally the status report carries vLLM's
gauges and token counter, and the servers it lists are asked for their ``/metrics`` once more for the TTFT
histogram. As in the terminal's live views, a read that fails keeps the last good picture and records the error
with its time. The endpoints are kept without their API key: nothing a page is drawn from holds it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from inferctl.metrics import Histogram, ModelMetrics, ModelMetricsRead, parse_histograms
from inferctl.targets.base import ModelMetricsCapability, NodesCapability, Target
from inferctl.targets.status import LocalStatus, StatusReport
from inferctl.views.errors import one_line
from inferctl.views.latency import LatencyWindow
from inferctl.views.load import (
    ModelLoad,
    OutputRate,
    cluster_metrics,
    has_vllm_metrics,
    mean_known,
    model_loads,
    served_names,
    sum_known,
)

if TYPE_CHECKING:
    from inferctl.kube.views import NodesView

HISTORY_S = 300.0  # the charts show the last five minutes
METRICS_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class LoadPoint:
    """One model at one read (wall-clock seconds), for the charts."""

    at: float
    running: float | None
    waiting: float | None
    kv_cache_pct: float | None
    output_tokens_per_s: float | None
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None


@dataclass(frozen=True)
class EndpointView:
    """Where a model answers, as a page may show it: never the key."""

    model: str
    base_url: str
    key_required: bool


@dataclass
class Picture:
    """The last good read of each part, and the last error of each (cleared by the next read that works)."""

    report: StatusReport | None = None
    loads: list[ModelLoad] = field(default_factory=list)
    metrics_note: str | None = None  # why some figures are missing (a cluster without Prometheus)
    endpoints: list[EndpointView] = field(default_factory=list)
    endpoints_note: str | None = None
    nodes: NodesView | None = None  # clusters
    read_at: float | None = None
    errors: dict[str, tuple[str, float]] = field(default_factory=dict)  # part -> (one line, when)
    history: dict[str, deque[LoadPoint]] = field(default_factory=dict)


class PlatformWatch:
    """Reads ``target`` on demand and keeps a :class:`Picture`; thread-safe (reads replace it under a lock)."""

    def __init__(
        self,
        target: Target,
        *,
        history_s: float = HISTORY_S,
        clock: Callable[[], float] = time.time,
        scrape: Callable[[str], str | None] | None = None,
    ) -> None:
        self.target = target
        self.history_s = history_s
        self.clock = clock
        self.scrape = scrape or _scrape
        self._rate = OutputRate()
        self._latency = LatencyWindow()
        self._lock = threading.Lock()
        self._picture = Picture()

    @property
    def has_nodes(self) -> bool:
        return isinstance(self.target, NodesCapability)

    def picture(self) -> Picture:
        with self._lock:
            return replace(self._picture, history={k: deque(v) for k, v in self._picture.history.items()})

    def read_once(self) -> Picture:
        now = self.clock()
        errors: dict[str, tuple[str, float]] = {}
        report = loads = metrics = None
        try:
            report = self.target.status()
            metrics = self._metrics(report)
            loads = model_loads(report, self._rate.observe(report), metrics)
        except Exception as exc:  # any failure of one read: keep the last picture, say what failed
            errors["status"] = (one_line(exc), now)
        endpoints: list[EndpointView] | None = None
        endpoints_note = None
        try:
            endpoints = [EndpointView(e.model, e.base_url, e.api_key is not None) for e in self.target.endpoints()]
        except Exception as exc:  # nothing runs, or not yet: the overview says so
            endpoints, endpoints_note = [], one_line(exc)
        nodes = None
        if isinstance(self.target, NodesCapability):
            try:
                nodes = self.target.nodes()
            except Exception as exc:
                errors["nodes"] = (one_line(exc), now)
        with self._lock:
            picture = self._picture
            if report is not None and loads is not None and metrics is not None:
                picture.report, picture.loads = report, loads
                picture.metrics_note = metrics.problem
                self._remember(picture, now, loads, metrics, served_names(report))
                picture.read_at = now
            picture.endpoints, picture.endpoints_note = endpoints, endpoints_note
            if nodes is not None:
                picture.nodes = nodes
            picture.errors = errors
        return self.picture()

    def _metrics(self, report: StatusReport) -> ModelMetricsRead:
        if isinstance(report, LocalStatus):
            return ModelMetricsRead(self._local_ttft(report), "the model servers' /metrics")
        found = cluster_metrics(self.target, report)  # a failed read: its problem, the rest of the picture stays
        if found is not None or isinstance(self.target, ModelMetricsCapability):
            return found or ModelMetricsRead({})  # None: nothing deployed yet
        note = None if has_vllm_metrics(report) else "this target's status carries no vLLM metrics"
        return ModelMetricsRead({}, problem=note)

    def _local_ttft(self, report: LocalStatus) -> dict[str, ModelMetrics]:
        """TTFT per served model from each server's histogram (several replicas of a model add up)."""
        histograms: dict[str, Histogram] = {}
        for server in report.models:
            text = self.scrape(server.base_url.removesuffix("/v1")) if server.healthy else None
            for name, histogram in parse_histograms(text or "").items():
                histograms[name] = histograms[name].plus(histogram) if name in histograms else histogram
        return {
            name: ModelMetrics(ttft_p50_ms=latency.p50_ms, ttft_p99_ms=latency.p99_ms)
            for name, latency in self._latency.observe(histograms).items()
            if latency is not None
        }

    def _remember(
        self, picture: Picture, now: float, loads: list[ModelLoad], metrics: ModelMetricsRead, served: dict[str, str]
    ) -> None:
        for name, rows in _by_model(loads).items():
            figures = metrics.models.get(served.get(name, name), ModelMetrics())
            point = LoadPoint(
                at=now,
                running=_first(figures.running, sum_known(r.running for r in rows)),
                waiting=_first(figures.waiting, sum_known(r.waiting for r in rows)),
                kv_cache_pct=_first(figures.kv_cache_pct, mean_known(r.kv_cache_pct for r in rows)),
                output_tokens_per_s=_first(figures.output_tokens_per_s, sum_known(r.output_tokens_per_s for r in rows)),
                ttft_p50_ms=figures.ttft_p50_ms,
                ttft_p99_ms=figures.ttft_p99_ms,
            )
            points = picture.history.setdefault(name, deque())
            points.append(point)
            while points and now - points[0].at > self.history_s:
                points.popleft()
        for gone in set(picture.history) - {load.name for load in loads}:
            del picture.history[gone]


def _by_model(loads: list[ModelLoad]) -> dict[str, list[ModelLoad]]:
    """Rows by model name: a model served by several replicas is one chart."""
    out: dict[str, list[ModelLoad]] = {}
    for load in loads:
        out.setdefault(load.name, []).append(load)
    return out


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _scrape(address: str) -> str | None:
    """vLLM's ``/metrics`` text at a server's address (it needs no key), or None when it does not answer."""
    import httpx

    try:
        response = httpx.get(f"{address}/metrics", timeout=METRICS_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


__all__ = ["HISTORY_S", "EndpointView", "LoadPoint", "Picture", "PlatformWatch"]
