"""How long each hop of a request may stay silent before the answer's first byte: one chain, from the config.

A request crosses, outermost first: the client -> the load balancer (on aws the platform's one NLB) -> the model
gateway (smg, every target) -> the KEDA HTTP add-on's interceptor (a model asleep at zero, through its wake route)
or the model's pod -> vLLM. Each hop gives up on its own clock. An outer hop that gives up first turns the inner
hop's answer (the interceptor's 504 after its wake timeout, a long non-streaming completion) into a silent reset,
so every hop outlasts the one inside it. Render (the InterceptorRoutes' timeouts, the gateway's flags and its wake
workers' timeouts, the NLB listener's idle timeout), ``plan``, ``chat`` and ``bench`` all read their numbers from
:func:`request_timeouts` (per model) and :func:`gateway_timeouts` (the platform's one gateway and NLB).

* **vLLM**: a non-streaming completion sends nothing until it is done: ``endpoint.first_byte_timeout``.
* **interceptor** (``kedacore/http-add-on`` v0.15.0): holds the request up to the route's ``timeouts.readiness``
  for a ready replica (``interceptor/middleware/endpoint_resolver.go``), then dials the model's Service, retrying
  for at most a minute when the request has no deadline (``pkg/net/dial_context.go``, ``maxRetryDuration``; the
  route sets no ``timeouts.request``), then waits up to ``timeouts.responseHeader`` for the response headers
  (``interceptor/handler/upstream.go``; without it the global ``KEDA_HTTP_RESPONSE_HEADER_TIMEOUT``, 300s by
  default: ``interceptor/config/timeouts.go``). Silent at most readiness + 60 s + response header.
* **gateway** (smg 1.13.0): its upstream HTTP client gives up on a worker's request after ``--request-timeout-secs``
  (1800 s by default), or a worker's own ``http_pool.timeout_secs`` (``model_gateway/src/worker/http_client.rs``,
  ``WorkerHttpClientCache::key``). It is reqwest's whole-request timeout, so it bounds a streamed answer as well
  as the silence before it: never below smg's default, so no stream is cut sooner than smg alone would cut it.
  Pod workers get the global flag (the first byte inside); a sleeping model's wake worker its own (the
  interceptor inside). ``--idle-connection-timeout-secs`` (default 90 s) must stay above the idle timeout of a load
  balancer in front ("keep it above the idle timeout of any proxy or load balancer in front of the gateway":
  ``model_gateway/src/main.rs``, ``CliArgs``).
* **load balancer**: an NLB closes a TCP flow silent for longer than its listener's ``tcp.idle_timeout.seconds``:
  350 s by default, 60-6000 s (AWS ELB user guide, "Update the TCP idle timeout for your Network Load Balancer
  listener"), set through the AWS Load Balancer Controller's annotation
  ``service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-<port>`` (v2.14.0,
  ``docs/guide/service/annotations.md``). One NLB fronts every model, so its timeout outlasts the longest chain;
  its 6000 s ceiling bounds the whole chain behind it: the wake timeout gives way when a long first-byte timeout
  needs the room.
* **client**: ``inferctl chat`` and ``bench``'s wake-up request wait longer than the outermost hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inferctl.cache.coldstart import model_cold_start
from inferctl.config.models import ModelDeployment, PlatformConfig, duration_seconds
from inferctl.errors import InferctlError
from inferctl.sizing.autoscaling import estimated_wake_s
from inferctl.sizing.placement import Placement

NLB_IDLE_TIMEOUT_DEFAULT_S = 350
NLB_IDLE_TIMEOUT_MAX_S = 6000
# The interceptor's dial retries after readiness (http-add-on v0.15.0 pkg/net/dial_context.go maxRetryDuration).
INTERCEPTOR_DIAL_S = 60
# smg 1.13.0's --request-timeout-secs default (src/smg/router_args.py RouterArgs.request_timeout_secs,
# model_gateway/src/config/types.rs RouterConfig::default): the floor of the gateway's own timeouts.
GATEWAY_REQUEST_TIMEOUT_DEFAULT_S = 1800
# Each hop outlasts the one inside it by this much, so the inner hop's own answer (a 504) gets out first.
HOP_MARGIN_S = 30

# Where the wake timeout comes from: the model's cold-start estimate, autoscaling.wake_timeout, the longest the chain
# allows when sizing could not run (chat, bench), or the NLB's ceiling that cut one of those.
WakeFrom = Literal["estimate", "wake_timeout", "unsized", "nlb_limit"]


@dataclass(frozen=True)
class RequestTimeouts:
    """Seconds of silence each hop of one model's request path allows, innermost first."""

    first_byte_s: int  # vLLM: request in, first byte out (the interceptor's timeouts.responseHeader)
    readiness_s: int | None  # the interceptor's wait for a replica (timeouts.readiness); None: no wake route
    gateway_s: int  # the gateway's timeout for this model's worker (its wake worker's, when it sleeps)
    load_balancer_s: int | None  # the NLB idle timeout this model needs; None: no NLB of inferctl's
    client_s: int  # what inferctl's own clients wait
    wake_from: WakeFrom | None = None  # where readiness_s comes from; None: no wake route

    @property
    def interceptor_s(self) -> int | None:
        """The longest the interceptor stays silent: readiness, its dial retries, the response header."""
        if self.readiness_s is None:
            return None
        return self.readiness_s + INTERCEPTOR_DIAL_S + self.first_byte_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_byte_s": self.first_byte_s,
            "wake_s": self.readiness_s,
            "interceptor_s": self.interceptor_s,
            "gateway_s": self.gateway_s,
            "load_balancer_idle_s": self.load_balancer_s,
            "client_s": self.client_s,
        }


@dataclass(frozen=True)
class GatewayTimeouts:
    """The platform's one gateway and its load balancer: smg's ``--request-timeout-secs`` (pod workers),
    ``--idle-connection-timeout-secs`` (None: smg's default, no NLB of inferctl's in front) and the NLB listener's
    idle timeout (None: no NLB), which outlasts every model's chain."""

    request_s: int
    idle_connection_s: int | None
    load_balancer_s: int | None


def behind_aws_nlb(config: PlatformConfig) -> bool:
    """The request path starts at an NLB that inferctl's gateway Service asks the AWS Load Balancer Controller for."""
    return config.traits.load_balancer_by_default and config.endpoint_service_type == "LoadBalancer"


def _wanted_wake(config: PlatformConfig, model: ModelDeployment, placement: Placement | None) -> tuple[int, WakeFrom]:
    settings = model.autoscaling
    if settings is not None and settings.wake_timeout is not None:
        return duration_seconds(settings.wake_timeout), "wake_timeout"
    if placement is None:
        # Sizing could not run (chat, bench): take the longest wait the chain may allow behind an NLB.
        return NLB_IDLE_TIMEOUT_MAX_S, "unsized"
    # The model's cold start on the path its pods take, its high bound with a margin (inferctl.sizing.autoscaling).
    return estimated_wake_s(model_cold_start(config, model, placement)), "estimate"


def _gateway_s(inner_s: int) -> int:
    """The gateway outlasts the hop inside it, and never cuts sooner than smg's own default."""
    return max(inner_s + HOP_MARGIN_S, GATEWAY_REQUEST_TIMEOUT_DEFAULT_S)


def request_timeouts(config: PlatformConfig, model: ModelDeployment, placement: Placement | None) -> RequestTimeouts:
    """The chain of ``model``'s request path. ``placement`` (sizing's) estimates the wake from zero when
    ``autoscaling.wake_timeout`` is unset; None when sizing cannot run, which takes the longest wake allowed."""
    first_byte = duration_seconds(config.endpoint.first_byte_timeout)
    nlb = behind_aws_nlb(config)
    readiness: int | None = None
    wake_from: WakeFrom | None = None
    if config.traits.cluster and model.autoscaling is not None and model.autoscaling.scales_to_zero:
        readiness, wake_from = _wanted_wake(config, model, placement)  # the interceptor holds it (a cluster's only)
        if nlb:  # the NLB's ceiling holds the whole chain behind it: the gateway, then the interceptor
            ceiling = NLB_IDLE_TIMEOUT_MAX_S - 2 * HOP_MARGIN_S - INTERCEPTOR_DIAL_S - first_byte
            if readiness > ceiling:
                readiness, wake_from = ceiling, "nlb_limit"
    inner = first_byte if readiness is None else readiness + INTERCEPTOR_DIAL_S + first_byte
    gateway = _gateway_s(inner)
    load_balancer = None
    if nlb:
        # Never below AWS's default: the listener keeps what it would have had without the annotation.
        load_balancer = min(max(gateway + HOP_MARGIN_S, NLB_IDLE_TIMEOUT_DEFAULT_S), NLB_IDLE_TIMEOUT_MAX_S)
    outermost = gateway if load_balancer is None else load_balancer
    return RequestTimeouts(first_byte, readiness, gateway, load_balancer, outermost + HOP_MARGIN_S, wake_from)


def gateway_timeouts(config: PlatformConfig, placements: Mapping[str, Placement | None]) -> GatewayTimeouts:
    """The gateway's global timeouts and the NLB's: its pod workers' chain (the first byte inside), and a load
    balancer idle timeout that outlasts every model's chain (one NLB fronts them all), with the gateway's idle
    connections kept longer still."""
    first_byte = duration_seconds(config.endpoint.first_byte_timeout)
    chains = [request_timeouts(config, m, placements.get(m.name)) for m in config.models]
    needs = [c.load_balancer_s for c in chains if c.load_balancer_s is not None]
    load_balancer = max(needs) if needs else None
    idle = None if load_balancer is None else load_balancer + HOP_MARGIN_S
    return GatewayTimeouts(_gateway_s(first_byte), idle, load_balancer)


def client_timeouts(config: PlatformConfig, model: ModelDeployment) -> RequestTimeouts:
    """The chain as ``chat`` and ``bench`` see it: sizes the model (a profile lookup) only when its wake timeout
    is the cold-start estimate; when sizing fails, the longest wake the chain allows."""
    from inferctl.sizing.instance_choice import place_model  # the one step here that may do I/O

    settings = model.autoscaling
    placement = None
    if config.traits.cluster and settings is not None and settings.scales_to_zero and settings.wake_timeout is None:
        try:
            placement = place_model(config, model)
        except InferctlError:
            placement = None
    return request_timeouts(config, model, placement)


__all__ = [
    "GATEWAY_REQUEST_TIMEOUT_DEFAULT_S",
    "HOP_MARGIN_S",
    "INTERCEPTOR_DIAL_S",
    "NLB_IDLE_TIMEOUT_DEFAULT_S",
    "NLB_IDLE_TIMEOUT_MAX_S",
    "GatewayTimeouts",
    "RequestTimeouts",
    "WakeFrom",
    "behind_aws_nlb",
    "client_timeouts",
    "gateway_timeouts",
    "request_timeouts",
]
