"""How a model pod leaves service without dropping requests: the preStop delay, vLLM's drain and the grace period.

What happens when Kubernetes stops a pod: it marks it Terminating (the Service's endpoints drop it, and on AWS the
Load Balancer Controller deregisters its IP target), runs ``preStop``, then sends SIGTERM, and kills whatever is
left once ``terminationGracePeriodSeconds`` (counted from the start) is over. So:

    grace >= preStop delay + vLLM's --shutdown-timeout + the API server's exit

* **preStop delay.** No *new* request may reach the pod once SIGTERM comes: vLLM 0.32's API server then stops its
  engine first (``entrypoints/launchers/launcher.py``, ``serve_http``: ``engine_client.shutdown(timeout)``) and only
  afterwards tells uvicorn to stop, and the engine core refuses every request added after SIGTERM
  (``v1/engine/core.py``, ``EngineCore._reject_add_in_shutdown``), while uvicorn keeps reading requests from
  open connections. New requests come two ways, and the delay must outlast both:

  - *new connections*: until the endpoints drop the pod everywhere (kube-proxy, a few seconds) and, behind an
    AWS NLB with IP targets, about two minutes after deregistration starts, whatever the target group's
    deregistration delay says ("deregistration takes at least 2 minutes regardless of the deregistration delay
    setting; during deregistration, the pod may still receive new requests/connections":
    kubernetes-sigs/aws-load-balancer-controller issues #2366 and #3270, measured by users). The controller is
    rate-limited on ``DeregisterTargets`` (4 per second, bursts of 20: docs/deploy/configurations.md at v2.14.0),
    so a rollout of many pods adds seconds before the call is made.
  - *reused connections*: a client's keep-alive connection through the NLB, or the HTTP add-on interceptor's
    pooled one (v0.15.0 proxies to ``<service>.<namespace>:<port>``, ``interceptor/middleware/routing.go``,
    through Go's transport with up to 200 idle connections per host, ``interceptor/config/timeouts.go``), stays on
    the pod it reached after the endpoints drop it, and is reused as long as requests keep coming. The preStop
    hook marks the pod draining, and :mod:`.drain_middleware` (loaded by ``vllm serve --middleware``) answers
    every request from then on with ``Connection: close``, as the interceptor does on its own shutdown
    (``pkg/http/drain.go``): each connection carries at most one more request. One left idle is closed by
    uvicorn after vLLM's keep-alive timeout (``VLLM_HTTP_TIMEOUT_KEEP_ALIVE``, 5 s: ``vllm/envs.py``, passed as
    uvicorn's ``timeout_keep_alive``), well inside any preStop delay here. A request that still arrives after the
    delay (a connection whose response began before draining and ended after) gets 503 with ``Connection:
    close``, which clients retry elsewhere, not the engine's refusal.
* **vLLM's drain.** ``--shutdown-timeout`` (``VllmConfig.shutdown_timeout``: "Shutdown will be delayed for up to
  this amount of time to allow already-running requests to complete"; default 0 = abort at once). It bounds the
  engine process's drain *and* its exit together: the process manager sends SIGTERM and kills the engine's
  process tree when this timeout is over (``v1/engine/utils.py`` ``CoreEngineProcManager.shutdown`` with
  ``get_engine_process_shutdown_timeout``, which keeps it except on ROCm with a zero timeout; ``v1/utils.py``
  ``shutdown``). Two minutes lets a long streamed generation finish.
* **the API server's exit.** Once the engine has stopped, uvicorn closes its listener and idle connections, waits
  for the responses still open and runs the app's shutdown (``uvicorn/server.py`` ``Server.shutdown``; vLLM sets
  no ``timeout_graceful_shutdown``), and the process exits.

Behind an NLB, the target group's deregistration delay must outlast every connection the pod may still accept
(until preStop ends) plus its drain, or the NLB resets them: it is set to the whole grace period.

Model pods are never behind an NLB: the platform's one NLB targets the model gateway (render.gateway), which
reaches the pods at their IPs, found through the Kubernetes API: a terminating pod leaves the gateway's workers
the moment its deletion starts (smg 1.13.0 ``model_gateway/src/service_discovery/kubernetes.rs``: "a terminating
Pod leaves the desired set at the start of its grace period"), and the interceptor reaches them through their
Service's endpoints. So model pods need only the in-cluster delay.

The gateway pods are the NLB's targets and drain like a model pod would behind it: a preStop wait for the NLB's
two minutes of new connections, then smg's own graceful shutdown on SIGTERM (``model_gateway/src/server.rs``:
readiness turns 503, the listener stays open a settle window of at most 5 s, then in-flight requests may finish
for the rest of ``--shutdown-grace-period-secs``). Those include requests held while a sleeping model wakes and
long streams: the drain lasts as long as the NLB lets a deregistered target keep a connection (the deregistration
delay's maximum, 3600 s) less the delay and the exit margin; off aws, the longest a request may last through the
gateway (sizing.request_timeouts). smg exits as soon as the last request ends, so an idle gateway stops at once.

The interceptor (kedacore/http-add-on v0.15.0, ``interceptor/main.go`` and ``interceptor/config/serving.go``) is
reached only in the cluster now, through each sleeping model's wake Service (render.wake). It has no preStop: on
SIGTERM it keeps serving new connections for ``KEDA_HTTP_SHUTDOWN_DELAY`` (the endpoints' lag), closes its
listener, and waits up to ``KEDA_HTTP_DRAIN_TIMEOUT`` for in-flight requests, which include requests held while
a model wakes (up to the route's readiness timeout, many minutes) and then streamed. Go's ``http.Server.Shutdown``
returns as soon as the last request ends, so an idle interceptor still exits at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.render import drain_middleware
from inferctl.render.meta import Object, model_metadata
from inferctl.sizing.request_timeouts import behind_aws_nlb

NLB_NEW_CONNECTIONS_S = 120  # an NLB IP target keeps getting new connections this long after deregistration
CONTROLLER_LAG_S = 15  # endpoint change -> the controller's rate-limited DeregisterTargets call
ENDPOINTS_LAG_S = 10  # endpoints / kube-proxy propagation inside the cluster
VLLM_SHUTDOWN_TIMEOUT_S = 120  # vLLM --shutdown-timeout: in-flight requests may finish
TEARDOWN_S = 15  # the API server's exit after the engine's: uvicorn's shutdown, the app's, the process
UVICORN_KEEP_ALIVE_S = 5  # vLLM 0.32 VLLM_HTTP_TIMEOUT_KEEP_ALIVE default: uvicorn closes a connection idle this long
NLB_DEREGISTRATION_DELAY_MAX_S = 3600  # deregistration_delay.timeout_seconds: 0-3600 (ELBv2 target group attributes)
# The chart's own margin between drain and SIGKILL: grace 45 s for 5 s delay + 30 s drain (kedacore/charts c4b92e9).
INTERCEPTOR_EXIT_S = 10


@dataclass(frozen=True)
class DrainTimings:
    prestop_s: int
    shutdown_timeout_s: int
    teardown_s: int

    @property
    def grace_s(self) -> int:
        """``terminationGracePeriodSeconds``: preStop, then vLLM's engine drain and exit, then the API server's exit."""
        return self.prestop_s + self.shutdown_timeout_s + self.teardown_s


# Model pods (behind the gateway and the interceptor, never an NLB): 10 + 120 + 15 = 145 s.
IN_CLUSTER_DRAIN = DrainTimings(ENDPOINTS_LAG_S, VLLM_SHUTDOWN_TIMEOUT_S, TEARDOWN_S)
# The HTTP add-on's interceptor behind the wake Services: prestop_s is its shutdown delay, shutdown_timeout_s its
# drain timeout; 10 + 3580 + 10 = 3600 s, as long as the gateway's NLB lets the held request's caller wait.
INTERCEPTOR_DRAIN = DrainTimings(
    ENDPOINTS_LAG_S,
    NLB_DEREGISTRATION_DELAY_MAX_S - ENDPOINTS_LAG_S - INTERCEPTOR_EXIT_S,
    INTERCEPTOR_EXIT_S,
)
# The gateway behind the NLB: 135 s of preStop, smg's shutdown grace for the rest of what the NLB keeps a
# deregistered target's connections (3600 s), 10 s to exit.
_NLB_DELAY_S = NLB_NEW_CONNECTIONS_S + CONTROLLER_LAG_S
GATEWAY_NLB_DRAIN = DrainTimings(
    _NLB_DELAY_S, NLB_DEREGISTRATION_DELAY_MAX_S - _NLB_DELAY_S - INTERCEPTOR_EXIT_S, INTERCEPTOR_EXIT_S
)


def drain_timings(config: PlatformConfig, model: ModelDeployment | None = None) -> DrainTimings:
    """The drain of a model's pods: behind the gateway, in the cluster, whatever the target."""
    return IN_CLUSTER_DRAIN


def gateway_drain(config: PlatformConfig, longest_request_s: int) -> DrainTimings:
    """The gateway pods' drain: behind the NLB all it allows; elsewhere the longest a request may last through
    the gateway (``longest_request_s``: its longest hop, sizing.request_timeouts)."""
    if behind_aws_nlb(config):
        return GATEWAY_NLB_DRAIN
    return DrainTimings(ENDPOINTS_LAG_S, longest_request_s, INTERCEPTOR_EXIT_S)


def nlb_deregistration_delay_s(config: PlatformConfig) -> int:
    """The gateway target group's ``deregistration_delay.timeout_seconds``: connections accepted until preStop
    ends may drain for the shutdown grace, so the delay covers the whole grace period (NLB range 0-3600 s)."""
    return GATEWAY_NLB_DRAIN.grace_s


# --- the drain middleware in the pod --------------------------------------------------------------------------

MIDDLEWARE_MODULE = "inferctl_drain"  # the name the ConfigMap gives drain_middleware.py on the server's path
MIDDLEWARE = f"{MIDDLEWARE_MODULE}.{drain_middleware.DrainMiddleware.__name__}"
MIDDLEWARE_DIR = "/opt/inferctl"
MIDDLEWARE_VOLUME = "drain"


def middleware_source() -> str:
    """drain_middleware.py as shipped to the pod (the same file the tests import)."""
    return files("inferctl.render").joinpath("drain_middleware.py").read_text(encoding="utf-8")


def prestop_command(timings: DrainTimings) -> list[str]:
    """Mark the pod draining, wait the delay, mark it stopping (SIGTERM follows once preStop returns)."""
    script = f"touch {drain_middleware.DRAINING}; sleep {timings.prestop_s}; touch {drain_middleware.STOPPING}"
    return ["/bin/sh", "-c", script]


def render_drain_config_map(config: PlatformConfig, model: ModelDeployment) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": model_metadata(config, model),
        "data": {f"{MIDDLEWARE_MODULE}.py": middleware_source()},
    }


def drain_volume(model: ModelDeployment) -> dict[str, Any]:
    return {"name": MIDDLEWARE_VOLUME, "configMap": {"name": model.name, "defaultMode": 0o444}}


def drain_mount() -> dict[str, Any]:
    return {"name": MIDDLEWARE_VOLUME, "mountPath": MIDDLEWARE_DIR, "readOnly": True}


def drain_server_args() -> list[str]:
    """Where the server gets the middleware (the mount is on ``PYTHONPATH``) and how long it drains."""
    return ["--middleware", MIDDLEWARE, "--shutdown-timeout", str(VLLM_SHUTDOWN_TIMEOUT_S)]


__all__ = [
    "GATEWAY_NLB_DRAIN",
    "INTERCEPTOR_DRAIN",
    "IN_CLUSTER_DRAIN",
    "MIDDLEWARE",
    "MIDDLEWARE_DIR",
    "DrainTimings",
    "drain_mount",
    "drain_server_args",
    "drain_timings",
    "drain_volume",
    "gateway_drain",
    "middleware_source",
    "nlb_deregistration_delay_s",
    "prestop_command",
    "render_drain_config_map",
]
