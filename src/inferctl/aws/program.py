"""The inline Pulumi program: the whole AWS platform from one config, in dependency order.

``make_program(config)`` returns a function and creates nothing; the Automation API (``stack.py``) or the mocks
(``offline.py``) call it inside a Pulumi run. Outputs: what ``up`` needs to reach the cluster afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pulumi

from inferctl.aws.addons import build_autoscalers
from inferctl.aws.context import make_context
from inferctl.aws.eks import build_cluster
from inferctl.aws.karpenter import build_karpenter
from inferctl.aws.lb_controller import build_lb_controller
from inferctl.aws.model_cache import build_model_cache
from inferctl.aws.network import build_network
from inferctl.aws.storage import build_model_cache_storage
from inferctl.config.models import PlatformConfig

OUTPUT_KEYS = (
    "cluster_name",
    "endpoint",
    "certificate_authority",
    "region",
    "vpc_id",
    "kubeconfig",
    "interruption_queue",
    "node_role",
)


def build_platform(
    config: PlatformConfig, *, endpoint_probe: Callable[[str], Awaitable[None]] | None = None
) -> dict[str, pulumi.Input[str]]:
    """Create every resource of the platform; returns the stack outputs. ``endpoint_probe``: called with the
    cluster's endpoint before any Kubernetes resource (the real program's reachability check)."""
    ctx = make_context(config, endpoint_probe=endpoint_probe)
    network = build_network(ctx)
    cluster = build_cluster(ctx, network)
    # The controller first: its Service webhook fails every Service created before its pods answer.
    lb_controller = build_lb_controller(ctx, cluster, network)
    karpenter = build_karpenter(ctx, cluster, after=[lb_controller.release])
    build_model_cache_storage(ctx, cluster)
    build_autoscalers(ctx, cluster, after=[lb_controller.release])
    cache = build_model_cache(ctx, cluster)
    return {
        "cluster_name": cluster.name,
        "endpoint": cluster.endpoint,
        "certificate_authority": cluster.certificate_authority,
        "region": config.aws.region,
        "vpc_id": network.vpc_id,
        "kubeconfig": cluster.kubeconfig,
        "interruption_queue": karpenter.queue.name,
        "node_role": karpenter.node_role.name,
        **({"model_cache_bucket": cache.name} if cache else {}),
    }


def make_program(config: PlatformConfig, *, check_endpoint: bool = True) -> Callable[[], None]:
    """The Automation API's inline program for ``config``; ``check_endpoint``: check the endpoint is reachable
    from here before any Kubernetes resource (``up``; not ``destroy``, which must work from anywhere)."""

    def program() -> None:
        probe = _prober(config) if check_endpoint else None
        for key, value in build_platform(config, endpoint_probe=probe).items():
            pulumi.export(key, value)

    return program


def _prober(config: PlatformConfig) -> Callable[[str], Awaitable[None]]:
    """The endpoint reachability check; a failure is a RunError, which Pulumi reports as one line (no traceback)
    naming the fix for the endpoint this config makes the deployer use."""
    from inferctl.aws.endpoint_access import probe_endpoint, unreachable_fix
    from inferctl.errors import OperationError

    async def probe(endpoint: str) -> None:
        try:
            await probe_endpoint(endpoint, fix=unreachable_fix(config))
        except OperationError as exc:
            raise pulumi.RunError(exc.message) from None

    return probe
