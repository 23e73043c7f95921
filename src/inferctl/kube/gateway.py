"""The model gateway on a live cluster: wait for its rollout, read its state for ``status``, smoke-test it.

The gateway (render.gateway) is the platform's one entry: ``up`` waits until its pods are ready (their readiness
includes the registrar's, so every sleeping model is routable then) and asks it, through the API server's service
proxy, which models it serves (``GET /v1/models``: a public route in smg 1.13.0, ``model_gateway/src/server.rs``
``public_routes``, so no key is needed, and none could pass: the API server strips the caller's Authorization).
"""

from __future__ import annotations

import json
from typing import Any

from inferctl.config.models import PlatformConfig
from inferctl.errors import OperationError
from inferctl.kube.client import KubeClient
from inferctl.kube.objects import Object
from inferctl.kube.rollout import rollout_state
from inferctl.poller import Poller
from inferctl.progress import Reporter
from inferctl.render.gateway import gateway_name, gateway_selector

GATEWAY_ROLLOUT_S = 600  # two small pods of a ~1 GB image: minutes at most, even on a new node


def _waiting_reasons(client: KubeClient, config: PlatformConfig) -> list[str]:
    """Why the gateway's pods are not ready: each container's waiting reason (ImagePullBackOff, CrashLoopBackOff)."""
    reasons = []
    for pod in client.list("v1", "Pod", labels=gateway_selector(config)):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                message = f": {waiting['message']}" if waiting.get("message") else ""
                reasons.append(f"{pod['metadata']['name']} {status.get('name')} {waiting['reason']}{message}")
    return reasons


def wait_for_gateway(
    client: KubeClient, config: PlatformConfig, reporter: Reporter, poller: Poller, timeout_s: int = GATEWAY_ROLLOUT_S
) -> None:
    """Until the gateway Deployment has rolled out (kubectl's rules), or OperationError with what its pods wait on."""
    name = gateway_name(config)
    start = poller.clock()
    while True:
        deployment = client.get("apps/v1", "Deployment", name)
        if deployment is not None and rollout_state(deployment).done:
            return
        waited = poller.clock() - start
        message = rollout_state(deployment).message if deployment is not None else f"deployment {name} not found"
        reporter.phase("waiting for the gateway", f"{message} ({waited:.0f}s)")
        if waited >= timeout_s:
            found = _waiting_reasons(client, config)
            raise OperationError(
                f"the gateway {name} is not ready after {waited:.0f}s ({message}); see 'kubectl describe pods -n "
                f"{config.kubernetes.namespace} -l app.kubernetes.io/component=gateway'",
                details=found,
            )
        poller.pause()


def listed_models(client: KubeClient, config: PlatformConfig) -> list[str] | None:
    """The model ids the gateway lists (``GET /v1/models``), or None when it does not answer with a list."""
    code, body = client.proxy_get(gateway_name(config), "http", "v1/models")
    if code != 200:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        return None
    return sorted(str(m.get("id")) for m in data if isinstance(m, dict))


def smoke_through_gateway(client: KubeClient, config: PlatformConfig, reporter: Reporter) -> None:
    """Every configured model is listed by the gateway (a sleeping one through its wake worker)."""
    reporter.phase("smoke test", f"GET /v1/models on {gateway_name(config)}")
    listed = listed_models(client, config)
    wanted = [m.model_name for m in config.models]
    if listed is None:
        reporter.warn(f"smoke test: the gateway {gateway_name(config)} did not list its models; see 'kubectl logs'")
        return
    missing = [name for name in wanted if name not in listed]
    if missing:
        reporter.warn(f"smoke test: the gateway does not list {', '.join(missing)} yet (it lists {listed})")
        return
    reporter.info(f"smoke test: the gateway routes {', '.join(wanted)}")


def gateway_view(
    client: KubeClient, config: PlatformConfig, service: Object | None, endpoint: str | None
) -> dict[str, Any]:
    """For ``status``: the gateway's replicas and readiness, its Service's type, the endpoint, the models it lists."""
    name = gateway_name(config)
    deployment = client.get("apps/v1", "Deployment", name)
    view: dict[str, Any] = {"name": name}
    if deployment is None:
        return {**view, "state": "not deployed", "replicas": 0, "ready": 0, "endpoint": None}
    try:
        state = "ready" if rollout_state(deployment).done else "progressing"
    except OperationError:
        state = "failed"
    view |= {
        "state": state,
        "replicas": int((deployment.get("spec") or {}).get("replicas") or 0),
        "ready": int((deployment.get("status") or {}).get("readyReplicas") or 0),
        "service_type": (service or {}).get("spec", {}).get("type"),
        "endpoint": endpoint,
        "models": listed_models(client, config) if state != "failed" else None,
    }
    return view


__all__ = [
    "GATEWAY_ROLLOUT_S",
    "gateway_view",
    "listed_models",
    "smoke_through_gateway",
    "wait_for_gateway",
]
