"""How a model pod leaves service without dropping requests: the preStop delay, vLLM's drain and the grace period.

What happens when Kubernetes stops a pod: it marks it Terminating (the Service's endpoints drop it, and on AWS the
Load Balancer Controller deregisters its IP target), runs ``preStop``, then sends SIGTERM, and kills whatever is
left once ``terminationGracePeriodSeconds`` (counted from the start) is over. So:

    grace >= preStop delay + vLLM's --shutdown-timeout + process teardown

* **preStop delay.** The pod must keep serving as long as anything may still send it *new* connections.
  Behind an AWS NLB with IP targets that is about two minutes after deregistration starts, whatever the
  target group's deregistration delay says: "deregistration takes at least 2 minutes regardless of the
  deregistration delay setting; during deregistration, the pod may still receive new requests/connections"
  (kubernetes-sigs/aws-load-balancer-controller issues #2366 and #3270, measured by users; the controller's own
  docs/guide/service/annotations.md documents only the ``deregistration_delay.timeout_seconds`` attribute). The
  controller itself is rate-limited on ``DeregisterTargets`` (4 per second, bursts of 20:
  docs/deploy/configurations.md at v2.14.0), so a rollout of many pods adds seconds before the call is made.
  Without an NLB only kube-proxy / the endpoints controller must catch up: a few seconds.
* **vLLM's drain.** vLLM 0.32's ``--shutdown-timeout`` (``vllm/engine/arg_utils.py``; ``VllmConfig.shutdown_timeout``:
  "Shutdown will be delayed for up to this amount of time to allow already-running requests to complete. Any
  remaining requests are aborted once the timeout is reached"; default 0 = abort at once). Two minutes lets a
  long streamed generation finish.
* **teardown.** The engine process frees the GPU and exits; vLLM's process manager gives it its own window.

Behind an NLB, the target group's deregistration delay must outlast every connection the pod may still accept
(until preStop ends) plus its drain, or the NLB resets them: it is set to the whole grace period.

A model that scales to zero is not behind an NLB itself: its Service is ClusterIP and the KEDA HTTP add-on's
interceptor sits behind the NLB instead (render.autoscaling). Its pods need only the in-cluster drain; the
interceptor pods get the NLB's. The interceptor (kedacore/http-add-on v0.15.0, ``interceptor/main.go`` and
``interceptor/config/serving.go``) has no preStop: on SIGTERM it keeps serving new connections for
``KEDA_HTTP_SHUTDOWN_DELAY`` (the NLB window, as preStop above), closes its listener, and waits up to
``KEDA_HTTP_DRAIN_TIMEOUT`` for in-flight requests. Those include requests *held* while a model wakes (up to the
route's readiness timeout, many minutes) and then streamed: the drain is as long as the NLB lets a deregistered
target keep a connection (the deregistration delay's maximum, 3600 s), less the delay and the exit margin. Go's
``http.Server.Shutdown`` returns as soon as the last request ends, so an idle interceptor still exits at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferctl.config.models import ModelDeployment, PlatformConfig

NLB_NEW_CONNECTIONS_S = 120  # an NLB IP target keeps getting new connections this long after deregistration
CONTROLLER_LAG_S = 15  # endpoint change -> the controller's rate-limited DeregisterTargets call
ENDPOINTS_LAG_S = 10  # endpoints / kube-proxy propagation inside the cluster
VLLM_SHUTDOWN_TIMEOUT_S = 120  # vLLM --shutdown-timeout: in-flight requests may finish
TEARDOWN_S = 15  # engine process exit and GPU memory release after the drain
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
        """``terminationGracePeriodSeconds``: preStop, then vLLM's drain, then teardown, end to end."""
        return self.prestop_s + self.shutdown_timeout_s + self.teardown_s


# Behind an AWS NLB: 120 + 15 = 135 s of preStop, + 120 s drain + 15 s teardown = 270 s grace.
NLB_DRAIN = DrainTimings(NLB_NEW_CONNECTIONS_S + CONTROLLER_LAG_S, VLLM_SHUTDOWN_TIMEOUT_S, TEARDOWN_S)
# Elsewhere (ClusterIP, port-forward, another load balancer in front of endpoints): 10 + 120 + 15 = 145 s.
IN_CLUSTER_DRAIN = DrainTimings(ENDPOINTS_LAG_S, VLLM_SHUTDOWN_TIMEOUT_S, TEARDOWN_S)
# The HTTP add-on's interceptor behind the entry NLB: prestop_s is its shutdown delay, shutdown_timeout_s its drain
# timeout; 135 + 3455 + 10 = 3600 s, all the NLB allows.
_INTERCEPTOR_DELAY_S = NLB_NEW_CONNECTIONS_S + CONTROLLER_LAG_S
INTERCEPTOR_DRAIN = DrainTimings(
    _INTERCEPTOR_DELAY_S,
    NLB_DEREGISTRATION_DELAY_MAX_S - _INTERCEPTOR_DELAY_S - INTERCEPTOR_EXIT_S,
    INTERCEPTOR_EXIT_S,
)


def behind_aws_nlb(config: PlatformConfig) -> bool:
    """The model's Service is an NLB made by the AWS Load Balancer Controller (see render.exposure)."""
    from inferctl.render.exposure import service_type  # exposure imports the workload: import at call time

    return config.traits.load_balancer_by_default and service_type(config) == "LoadBalancer"


def drain_timings(config: PlatformConfig, model: ModelDeployment | None = None) -> DrainTimings:
    """The drain of ``model``'s pods; one that scales to zero is behind the interceptor's ClusterIP route."""
    if model is not None and model.autoscaling is not None and model.autoscaling.scales_to_zero:
        return IN_CLUSTER_DRAIN
    return NLB_DRAIN if behind_aws_nlb(config) else IN_CLUSTER_DRAIN


def nlb_deregistration_delay_s(config: PlatformConfig) -> int:
    """The target group's ``deregistration_delay.timeout_seconds``: connections accepted until preStop ends may
    drain for the shutdown timeout, so the delay covers the whole grace period (NLB range 0-3600 s)."""
    return drain_timings(config).grace_s


__all__ = [
    "INTERCEPTOR_DRAIN",
    "IN_CLUSTER_DRAIN",
    "NLB_DRAIN",
    "DrainTimings",
    "behind_aws_nlb",
    "drain_timings",
    "nlb_deregistration_delay_s",
]
