"""``inferctl status`` as data: one report type per target, each with :meth:`to_dict`, the JSON of
``--output json``. Its keys, their order and their values are a contract for scripts (pinned in
tests/unit/test_status_reports.py); the fields are what the CLI and callers read. Where :meth:`to_dict` starts
from ``asdict``, the order of the fields is the order of the keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LocalModelStatus:
    """One local model server (a replica of a model): its process, its address and what its ``/metrics`` said
    (None: not scraped). ``startup_phase`` is the phase of its start-up log while it has never answered (None once
    ready); ``uptime_s`` then is how long it has been starting (None once dead). ``note`` says what is wrong when the
    report alone does not (it never answered and the ``up`` that started it has exited; how a dead one ended).
    ``state``: healthy / starting / unhealthy / dead. ``routable``: the gateway has it registered and healthy (None:
    the gateway did not say); ``requests_routed``: requests the gateway sent it (``smg_worker_requests_total``)."""

    name: str
    served_model_name: str
    source: str
    pid: int
    port: int
    base_url: str
    uptime_s: float | None
    healthy: bool
    requests_running: float | None
    requests_waiting: float | None
    kv_cache_usage_pct: float | None
    generation_tokens_total: float | None
    startup_phase: str | None = None
    note: str | None = None
    server: str | None = None
    replica: int = 0
    state: str | None = None
    log_path: str | None = None
    routable: bool | None = None
    requests_routed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LocalStatus:
    """The local target: the gateway and one row per model server (``models``). ``state``: ``running`` (the
    gateway and every server answer), ``starting`` (a server has not answered yet and its ``up`` waits for it),
    ``degraded`` (some servers serve, others are dead or unhealthy), ``unhealthy`` (none serves: ready once, now
    failing; never answered with no ``up`` waiting; or the gateway is down), ``crashed`` (every server ended without
    ``down``), ``stopped``. Before the first server starts, while ``up`` prepares the models, ``starting`` with
    ``preparing`` (what ``up`` does: its phase, pid, how long so far). ``crashes``: the crash report of each server
    that ended on its own (keys of the local target's own); ``gateway``: its process, address and health."""

    target: str
    platform: str
    state: str
    models: list[LocalModelStatus] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    preparing: dict[str, Any] | None = None
    gateway: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "platform": self.platform,
            "state": self.state,
            "models": [m.to_dict() for m in self.models],
        }
        if self.crashes:
            out["crashes"] = self.crashes
        if self.preparing is not None:
            out["preparing"] = self.preparing
        if self.gateway is not None:
            out["gateway"] = self.gateway
        return out


@dataclass(frozen=True)
class KubeModelStatus:
    """One model's Deployment: ``not deployed`` / ``progressing`` / ``ready`` / ``failed``, its replicas and the
    address it answers on. ``deployed`` False: no Deployment (the JSON then has neither ``instance_type`` nor
    ``autoscaling``); ``autoscaling`` is KEDA's view when the model scales to zero."""

    name: str
    model: str
    state: str
    replicas: int
    ready: int
    endpoint: str | None
    deployed: bool = True
    instance_type: str | None = None
    autoscaling: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"name": self.name, "model": self.model}
        if not self.deployed:
            return {**head, "state": self.state, "replicas": self.replicas, "ready": self.ready, "endpoint": None}
        return {
            **head,
            **({"autoscaling": self.autoscaling} if self.autoscaling is not None else {}),
            "state": self.state,
            "replicas": self.replicas,
            "ready": self.ready,
            "instance_type": self.instance_type,
            "endpoint": self.endpoint,
        }


@dataclass(frozen=True)
class KubernetesStatus:
    """The platform's gateway (its one entry: ``name``, ``state``, ``replicas``, ``ready``, ``service_type``,
    ``endpoint`` and the ``models`` it lists; kube.gateway.gateway_view), the models in a namespace, the cluster's
    Karpenter NodePools and the last cold starts ``up`` measured."""

    target: str
    platform: str
    context: str | None
    namespace: str
    models: list[KubeModelStatus]
    nodepools: list[dict[str, Any]]
    last_cold_start: list[dict[str, Any]]
    gateway: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        # The gateway (the platform's entry) before the models; each model as its own to_dict says.
        head = {"target": self.target, "platform": self.platform, "context": self.context, "namespace": self.namespace}
        entry = {} if self.gateway is None else {"gateway": self.gateway}
        return {
            **head,
            **entry,
            "models": [m.to_dict() for m in self.models],
            "nodepools": self.nodepools,
            "last_cold_start": self.last_cold_start,
        }


@dataclass(frozen=True)
class AwsStatus:
    """The aws target: ``not deployed`` (no saved stack outputs) or ``deployed`` with the cluster's workload
    (``cluster_status``), the stack's ``endpoint`` output and what the platform costs this hour (``cost_now``:
    :class:`inferctl.aws.cost_now.CostNow`'s dict, from the nodes that run)."""

    target: str
    platform: str
    cluster: str
    region: str
    state: str
    cluster_status: KubernetesStatus | None = None
    endpoint: str | None = None
    cost_now: dict[str, Any] | None = None

    @property
    def models(self) -> list[KubeModelStatus]:
        return [] if self.cluster_status is None else self.cluster_status.models

    def to_dict(self) -> dict[str, Any]:
        base = {"target": self.target, "platform": self.platform, "cluster": self.cluster, "region": self.region}
        if self.cluster_status is None:
            return {**base, "state": self.state, "models": []}
        cost = {} if self.cost_now is None else {"cost_now": self.cost_now}
        return {**self.cluster_status.to_dict(), **base, "state": self.state, "endpoint": self.endpoint, **cost}


StatusReport = LocalStatus | KubernetesStatus | AwsStatus
