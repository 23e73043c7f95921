"""How long each hop of a request may stay silent before the answer's first byte: one chain, from the config.

A request crosses, outermost first: the client -> the load balancer (on aws an NLB) -> [the model gateway, when
there is one] -> the KEDA HTTP add-on's interceptor (a model that scales to zero) -> vLLM. Each hop gives up on
its own clock. An outer hop that gives up first turns the inner hop's answer (the interceptor's 504 after its
wake timeout, a long non-streaming completion) into a silent reset, so every hop outlasts the one inside it.
Render (the InterceptorRoute's timeouts, the NLB listeners' idle timeouts), ``plan``, ``chat`` and ``bench``
all read their numbers from :func:`request_timeouts`.

* **vLLM**: a non-streaming completion sends nothing until it is done: ``endpoint.first_byte_timeout``.
* **interceptor** (``kedacore/http-add-on`` v0.15.0): holds the request up to the route's ``timeouts.readiness``
  for a ready replica (``interceptor/middleware/endpoint_resolver.go``), then dials the model's Service, retrying
  for at most a minute when the request has no deadline (``pkg/net/dial_context.go``, ``maxRetryDuration``; the
  route sets no ``timeouts.request``), then waits up to ``timeouts.responseHeader`` for the response headers
  (``interceptor/handler/upstream.go``; without it the global ``KEDA_HTTP_RESPONSE_HEADER_TIMEOUT``, 300s by
  default: ``interceptor/config/timeouts.go``). Silent at most readiness + 60 s + response header.
* **load balancer**: an NLB closes a TCP flow silent for longer than its listener's ``tcp.idle_timeout.seconds``:
  350 s by default, 60-6000 s (AWS ELB user guide, "Update the TCP idle timeout for your Network Load Balancer
  listener"), set through the AWS Load Balancer Controller's annotation
  ``service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-<port>`` (v2.14.0,
  ``docs/guide/service/annotations.md``). The 6000 s ceiling bounds the whole chain behind it: the wake
  timeout gives way when a long first-byte timeout needs the room.
* **client**: ``inferctl chat`` and ``bench``'s wake-up request wait longer than the outermost hop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig, duration_seconds
from inferctl.errors import InferctlError
from inferctl.sizing.autoscaling import WAKE_MARGIN, cold_start_estimate
from inferctl.sizing.placement import Placement

NLB_IDLE_TIMEOUT_DEFAULT_S = 350
NLB_IDLE_TIMEOUT_MAX_S = 6000
# The interceptor's dial retries after readiness (http-add-on v0.15.0 pkg/net/dial_context.go maxRetryDuration).
INTERCEPTOR_DIAL_S = 60
# Each hop outlasts the one inside it by this much, so the inner hop's own answer (a 504) gets out first.
HOP_MARGIN_S = 30


@dataclass(frozen=True)
class RequestTimeouts:
    """Seconds of silence each hop of one model's request path allows, innermost first."""

    first_byte_s: int  # vLLM: request in, first byte out (the interceptor's timeouts.responseHeader)
    readiness_s: int | None  # the interceptor's wait for a replica (timeouts.readiness); None: no wake route
    load_balancer_s: int | None  # the NLB listener's idle timeout inferctl sets; None: no NLB of inferctl's
    client_s: int  # what inferctl's own clients wait

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
            "load_balancer_idle_s": self.load_balancer_s,
            "client_s": self.client_s,
        }


def behind_aws_nlb(config: PlatformConfig) -> bool:
    """The request path starts at an NLB that inferctl's Services ask the AWS Load Balancer Controller for."""
    return config.traits.load_balancer_by_default and config.endpoint_service_type == "LoadBalancer"


def _wanted_wake_s(model: ModelDeployment, placement: Placement | None) -> int:
    settings = model.autoscaling
    if settings is not None and settings.wake_timeout is not None:
        return duration_seconds(settings.wake_timeout)
    if placement is None:
        # Sizing could not run (chat, bench): take the longest wait the chain may allow behind an NLB.
        return NLB_IDLE_TIMEOUT_MAX_S
    # The cold-start estimate with a margin, rounded up to a whole minute.
    return math.ceil(cold_start_estimate(placement).total_s * WAKE_MARGIN / 60) * 60


def request_timeouts(config: PlatformConfig, model: ModelDeployment, placement: Placement | None) -> RequestTimeouts:
    """The chain of ``model``'s request path. ``placement`` (sizing's) estimates the wake from zero when
    ``autoscaling.wake_timeout`` is unset; None when sizing cannot run, which takes the longest wake allowed."""
    first_byte = duration_seconds(config.endpoint.first_byte_timeout)
    nlb = behind_aws_nlb(config)
    readiness: int | None = None
    if config.traits.cluster and model.autoscaling is not None and model.autoscaling.scales_to_zero:
        readiness = _wanted_wake_s(model, placement)  # the interceptor holds the request (a cluster's only)
        if nlb:  # the NLB's ceiling holds the whole chain behind it
            ceiling = NLB_IDLE_TIMEOUT_MAX_S - HOP_MARGIN_S - INTERCEPTOR_DIAL_S - first_byte
            readiness = min(readiness, ceiling)
    inner = first_byte if readiness is None else readiness + INTERCEPTOR_DIAL_S + first_byte
    load_balancer = None
    if nlb:
        # Never below AWS's default: the listener keeps what it would have had without the annotation.
        load_balancer = max(inner + HOP_MARGIN_S, NLB_IDLE_TIMEOUT_DEFAULT_S)
    outermost = inner if load_balancer is None else load_balancer
    return RequestTimeouts(first_byte, readiness, load_balancer, outermost + HOP_MARGIN_S)


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
    "HOP_MARGIN_S",
    "INTERCEPTOR_DIAL_S",
    "NLB_IDLE_TIMEOUT_DEFAULT_S",
    "NLB_IDLE_TIMEOUT_MAX_S",
    "RequestTimeouts",
    "behind_aws_nlb",
    "client_timeouts",
    "request_timeouts",
]
