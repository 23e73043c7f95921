"""Which availability zones an EKS cluster's subnets may use: chosen by zone ID, never by zone name.

Zone names map to zone IDs differently in each account (one account's ``us-east-1a`` is another's
``use1-az3``), and EKS refuses cluster subnets in some zone IDs. The Amazon EKS User Guide, "View Amazon EKS
networking requirements for VPC and subnets" (network-reqs, section "Subnet requirements for clusters";
awsdocs/amazon-eks-user-guide ``latest/ug/networking/network-reqs.adoc``): "The subnets can't reside in the
following Availability Zones", a table of Region and disallowed zone ID, copied below. A new VPC takes the
region's first zones whose IDs EKS accepts; preflight checks an existing VPC's subnets against the same table.

Pure data and functions: the program (Pulumi) and preflight (boto3) both call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inferctl.errors import ConfigError

# Region -> zone IDs whose subnets EKS refuses for a cluster (the User Guide's table, network-reqs).
EKS_DISALLOWED_ZONE_IDS: Mapping[str, frozenset[str]] = {
    "us-east-1": frozenset({"use1-az3"}),
    "us-west-1": frozenset({"usw1-az2"}),
    "ca-central-1": frozenset({"cac1-az3"}),
}
NETWORK_REQS_URL = "https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html"


@dataclass(frozen=True)
class Zone:
    name: str  # us-east-1a: this account's label
    zone_id: str  # use1-az1: the same physical zone in every account

    def __str__(self) -> str:
        return f"{self.name} ({self.zone_id})"


def eks_refuses(region: str, zone_id: str) -> bool:
    return zone_id in EKS_DISALLOWED_ZONE_IDS.get(region, frozenset())


def cluster_zones(region: str, names: Sequence[str], zone_ids: Sequence[str], count: int) -> list[Zone]:
    """The first ``count`` of the region's zones (as listed: ``names[i]`` has ID ``zone_ids[i]``) whose IDs EKS
    accepts. ConfigError when fewer than two remain: EKS needs cluster subnets in two zones."""
    if len(names) != len(zone_ids):
        raise ValueError(f"{len(names)} zone names but {len(zone_ids)} zone IDs")
    zones = [Zone(name, zone_id) for name, zone_id in zip(names, zone_ids, strict=True)]
    allowed = [zone for zone in zones if not eks_refuses(region, zone.zone_id)]
    if len(allowed) < 2:
        refused = ", ".join(str(z) for z in zones if eks_refuses(region, z.zone_id)) or "none"
        raise ConfigError(
            f"{region} has {len(allowed)} available zone(s) whose subnets EKS accepts (refused: {refused}; "
            f"{NETWORK_REQS_URL}); EKS needs two: choose another aws.region, or set aws.vpc_id to a VPC with "
            "subnets in two accepted zones"
        )
    return allowed[:count]


__all__ = ["EKS_DISALLOWED_ZONE_IDS", "NETWORK_REQS_URL", "Zone", "cluster_zones", "eks_refuses"]
