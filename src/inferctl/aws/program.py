"""The inline Pulumi program: the whole AWS platform from one config, in dependency order.

``make_program(config)`` returns a function and creates nothing; the Automation API (``stack.py``) or the mocks
(``offline.py``) call it inside a Pulumi run. Outputs: what ``up`` needs to reach the cluster afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from inferctl.aws.context import make_context
from inferctl.aws.eks import build_cluster
from inferctl.aws.karpenter import build_karpenter
from inferctl.aws.lb_controller import build_lb_controller
from inferctl.aws.model_cache import build_model_cache
from inferctl.aws.network import build_network
from inferctl.config.models import PlatformConfig

OUTPUT_KEYS = ("cluster_name", "endpoint", "region", "vpc_id", "kubeconfig", "interruption_queue", "node_role")


def build_platform(config: PlatformConfig) -> dict[str, pulumi.Input[str]]:
    """Create every resource of the platform; returns the stack outputs."""
    ctx = make_context(config)
    network = build_network(ctx)
    cluster = build_cluster(ctx, network)
    karpenter = build_karpenter(ctx, cluster)
    build_lb_controller(ctx, cluster, network)
    cache = build_model_cache(ctx, cluster)
    return {
        "cluster_name": cluster.name,
        "endpoint": cluster.endpoint,
        "region": config.aws.region,
        "vpc_id": network.vpc_id,
        "kubeconfig": cluster.kubeconfig,
        "interruption_queue": karpenter.queue.name,
        "node_role": karpenter.node_role.name,
        **({"model_cache_bucket": cache.name} if cache else {}),
    }


def make_program(config: PlatformConfig) -> Callable[[], None]:
    """The Automation API's inline program for ``config``."""

    def program() -> None:
        for key, value in build_platform(config).items():
            pulumi.export(key, value)

    return program
