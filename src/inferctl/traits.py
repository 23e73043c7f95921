"""What each target means to the rest of inferctl: the one place a target is described.

Sizing, rendering, diagrams, the CLI and the benchmark ask these questions ("does inferctl own the cluster?", "does
``exposure: auto`` make a cloud load balancer?") instead of comparing ``config.target`` with a name, so a new target
(GKE, say) is one more row here plus its :mod:`inferctl.targets` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TargetName = Literal["local", "kubernetes", "aws"]
TARGETS: tuple[TargetName, ...] = ("local", "kubernetes", "aws")


@dataclass(frozen=True)
class TargetTraits:
    """The facts about a target that code outside :mod:`inferctl.targets` depends on."""

    cluster: bool
    """Models run as Kubernetes workloads: render, placements, the S3 model cache and confirmation apply."""
    owns_infrastructure: bool
    """inferctl creates the cluster and its cloud resources (a Pulumi stack): fixed costs and pool limits are
    priced, IAM names carry the region, ``down --force`` and ``plan --offline`` apply, the cache bucket is made,
    Prometheus is installed, and prices come from the configured region."""
    karpenter_always: bool
    """Karpenter node pools are part of the platform (elsewhere ``kubernetes.karpenter`` decides)."""
    load_balancer_by_default: bool
    """``exposure.service_type: auto`` makes a LoadBalancer Service, an NLB of the AWS Load Balancer Controller."""

    @property
    def needs_confirmation(self) -> bool:
        """``up``/``down`` create or remove billable things: show the plan and ask (``--yes`` skips)."""
        return self.cluster


TRAITS: dict[TargetName, TargetTraits] = {
    "local": TargetTraits(
        cluster=False, owns_infrastructure=False, karpenter_always=False, load_balancer_by_default=False
    ),
    "kubernetes": TargetTraits(
        cluster=True, owns_infrastructure=False, karpenter_always=False, load_balancer_by_default=False
    ),
    "aws": TargetTraits(cluster=True, owns_infrastructure=True, karpenter_always=True, load_balancer_by_default=True),
}
