"""At ``up`` on the kubernetes target: does the user's Prometheus answer KEDA's queries with data?

KEDA's prometheus trigger reads an empty result as 0 (``ignoreNullValues: true``, render.autoscaling), so a
Prometheus that scrapes the model pods without a ``namespace`` label, or does not scrape them at all, leaves a model
that never scales on load, silently. The queries select ``namespace="<kubernetes.namespace>"`` and vLLM's own
``model_name``. On aws inferctl's own scrape job adds that label (aws.addons.scrape_configs); on the kubernetes
target the Prometheus is the user's, so ``up`` asks it, through the API server's service proxy (the address is
usually a cluster-internal Service, ``http://<service>.<namespace>.svc[.cluster.local][:port]``):

1. the rendered ScaledObject's first query, as KEDA will send it: any series -> fine;
2. else the same gauge without the namespace matcher: series without a ``namespace`` label -> say to add one (a
   relabelling from ``__meta_kubernetes_namespace``, Prometheus' Kubernetes service discovery label);
3. else nothing about the model at all, after waiting for a scrape: say Prometheus does not scrape the pods.

Each outcome that is not fine is a warning: the model serves, only its autoscaling is blind. Prometheus' HTTP API
(prometheus/prometheus ``docs/querying/api.md``, the stable ``/api/v1``): ``GET /api/v1/query?query=<expr>``
answers ``{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {labels}, "value": [t,
"v"]}]}}``; an expression that matches nothing gives an empty ``result``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import InferctlError
from inferctl.kube.client import KubeClient
from inferctl.kube.objects import Object, labels_of
from inferctl.kube_names import LABEL_MODEL, LABEL_PLATFORM, PORT_NAME
from inferctl.poller import DEFAULT_POLLER, Poller
from inferctl.progress import Reporter
from inferctl.render.autoscaling import RUNNING
from inferctl.render.observability import PrometheusService

# Two of Prometheus' default 1-minute scrape intervals: a target found after the rollout is scraped by then.
SCRAPE_WAIT_S = 120.0


class PrometheusQueries:
    """Instant queries through the API server's service proxy; None when Prometheus did not answer one."""

    def __init__(self, client: KubeClient, where: PrometheusService) -> None:
        self.client = client
        self.where = where
        self.problem: str | None = None  # why the last query got no answer

    def series(self, expr: str) -> list[dict[str, str]] | None:
        found = self.samples(expr)
        return None if found is None else [labels for labels, _ in found]

    def samples(self, expr: str) -> list[tuple[dict[str, str], float]] | None:
        """Each series of an instant query with its value (``NaN`` as Prometheus sends it)."""
        service = self.where.service if self.where.scheme == "http" else f"https:{self.where.service}"
        try:
            code, body = self.client.proxy_get(
                service,
                self.where.port,
                f"{self.where.path}/api/v1/query",
                namespace=self.where.namespace,
                params={"query": expr},
            )
        except InferctlError as exc:
            self.problem = exc.message
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if code != 200 or not isinstance(answer, dict) or answer.get("status") != "success":
            # Prometheus' error envelope says "error"; the API server's Status (no endpoints...) says "message".
            detail = (answer.get("error") or answer.get("message")) if isinstance(answer, dict) else None
            self.problem = f"HTTP {code}" + (f": {detail}" if detail else "")
            return None
        result = (answer.get("data") or {}).get("result") or []
        return [(dict(item.get("metric") or {}), _value(item)) for item in result if isinstance(item, dict)]


def _value(item: Mapping[str, Any]) -> float:
    """An instant vector's sample is ``[<unix time>, "<value>"]``; anything else reads as NaN."""
    try:
        return float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return math.nan


def _first_query(scaled_object: Mapping[str, Any]) -> str | None:
    for trigger in scaled_object.get("spec", {}).get("triggers") or []:
        if trigger.get("type") == "prometheus":
            return str(trigger.get("metadata", {}).get("query") or "") or None
    return None


def _ready_replicas(client: KubeClient, name: str) -> int:
    deployment = client.get("apps/v1", "Deployment", name) or {}
    return int((deployment.get("status") or {}).get("readyReplicas") or 0)


def check_prometheus_data(
    client: KubeClient,
    config: PlatformConfig,
    rendered: Sequence[Object],
    reporter: Reporter,
    *,
    poller: Poller = DEFAULT_POLLER,
    wait_s: float = SCRAPE_WAIT_S,
) -> None:
    """Warn, per autoscaled model with a ready replica, when the user's Prometheus has no data for KEDA's query,
    saying what to change. Only for the kubernetes target (on aws the Prometheus and its scrape job are inferctl's)."""
    url = config.observability.prometheus_url
    if config.traits.owns_infrastructure or url is None:
        return
    models = {m.name: m for m in config.models if m.autoscaling is not None}
    scaled = {labels_of(o).get(LABEL_MODEL): o for o in rendered if o.get("kind") == "ScaledObject"}
    pending = [(models[name], q) for name, o in scaled.items() if name in models and (q := _first_query(o))]
    pending = [(m, q) for m, q in pending if _ready_replicas(client, m.name) > 0]  # at zero: nothing to scrape
    if not pending:
        return
    where = PrometheusService.from_url(url)
    if where is None:
        reporter.info(
            f"autoscaling reads {url}, which is not a cluster Service address: up cannot check from here that it "
            "has the model's metrics"
        )
        return
    queries = PrometheusQueries(client, where)
    start = poller.clock()
    while pending:
        for model, query in list(pending):
            verdict = _verdict(queries, config, model, query)
            if verdict == "":
                reporter.info(f"autoscaling of {model.name}: Prometheus at {url} answers KEDA's query with data")
                pending.remove((model, query))
            elif verdict is not None:
                reporter.warn(verdict)
                pending.remove((model, query))
        waited = poller.clock() - start
        if not pending:
            return
        if waited >= wait_s:
            for model, query in pending:
                reporter.warn(_not_scraped(config, model, query, url, waited))
            return
        reporter.phase("checking autoscaling metrics", f"waiting for Prometheus to scrape the model ({waited:.0f}s)")
        poller.pause()


def _verdict(queries: PrometheusQueries, config: PlatformConfig, model: ModelDeployment, query: str) -> str | None:
    """'' when KEDA's query has data; a warning when it never will as configured; None to ask again later."""
    url = config.observability.prometheus_url
    found = queries.series(query)
    if found is None:
        return (
            f"autoscaling of {model.name} cannot read Prometheus at {url} ({queries.problem}): KEDA will not scale "
            "it; check observability.prometheus_url names a Prometheus Service that answers /api/v1/query"
        )
    if found:
        return ""
    loose = queries.series(f'{RUNNING}{{model_name="{model.model_name}"}}') or []
    if not loose:
        return None  # not scraped yet, or not at all: wait
    namespace = config.kubernetes.namespace
    seen = sorted({s.get("namespace", "") for s in loose})
    if seen == [""]:
        problem = "its series have no namespace label"
    else:
        problem = f"its series carry namespace={','.join(v or '(none)' for v in seen)}, not {namespace}"
    return (
        f"autoscaling of {model.name} reads nothing: Prometheus at {url} scrapes {RUNNING} of model "
        f'{model.model_name} but {problem}, and KEDA\'s query selects namespace="{namespace}" (an empty result reads '
        "as 0 load, so the model never scales up); add a relabelling from __meta_kubernetes_namespace to the label "
        "namespace in the scrape job that finds the model pods"
    )


def _not_scraped(config: PlatformConfig, model: ModelDeployment, query: str, url: str, waited: float) -> str:
    how = (
        "check that your Prometheus Operator selects its PodMonitor (observability.monitor_labels must match the "
        "Prometheus' podMonitorSelector, and its podMonitorNamespaceSelector the namespace)"
        if config.observability.prometheus
        else "set observability.prometheus: true (a PodMonitor, for the Prometheus Operator) or add a scrape job "
        f"for the pods labelled {LABEL_PLATFORM}={config.name} (port {PORT_NAME}, path /metrics)"
    )
    return (
        f"autoscaling of {model.name} reads nothing: after {waited:.0f}s Prometheus at {url} has no {RUNNING} series "
        f"of model {model.model_name} (KEDA's query: {query}), so it does not scrape the model pods and KEDA reads 0 "
        f"load; {how}"
    )


__all__ = ["SCRAPE_WAIT_S", "PrometheusService", "check_prometheus_data"]
