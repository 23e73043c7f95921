"""The cluster's network: an existing VPC's private subnets (as in the workshop), or a new VPC.

Either way the private subnets carry Karpenter's discovery tag, so the EC2NodeClass finds them. A new VPC
has one public and one private subnet per zone and a single NAT gateway (one is enough for image and model
pulls; a NAT per zone costs about $32 a month each for zone-failure resilience the GPU pool does not need), and an
S3 gateway endpoint on the private route table, free, so S3 traffic skips the NAT's per-GB charge. Interface
endpoints (ECR, STS) are not made: they would cost more per hour than they save (docs/guides/aws.md, "Idle cost"). Its
zones are the region's first ones whose zone IDs EKS accepts (:mod:`inferctl.aws.zones`), not the first names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from inferctl.aws.context import DISCOVERY_TAG, ProgramContext
from inferctl.aws.zones import cluster_zones
from inferctl.errors import ConfigError

PUBLIC_ELB_TAG = "kubernetes.io/role/elb"
INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb"
DISCOVERY_TAG_OWNER = "inferctl.io/discovery-tag"  # marks a discovery tag inferctl added to an existing subnet


@dataclass(frozen=True)
class Network:
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]


def split_cidr(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private and public subnet CIDRs, ``zones`` of each: the VPC cut in 16 equal blocks, privates first."""
    network = ipaddress.ip_network(cidr, strict=False)
    if network.version != 4 or network.prefixlen > 24:
        raise ConfigError(f"aws.new_vpc_cidr {cidr!r} must be an IPv4 block of /24 or larger, e.g. 10.0.0.0/16")
    blocks = [str(block) for block in network.subnets(prefixlen_diff=4)]
    return blocks[:zones], blocks[zones : 2 * zones]


def manages_discovery_tag(tags: Mapping[str, str], cluster_name: str, subnet_id: str, *, platform: str) -> bool:
    """Whether the program owns the subnet's discovery tag: absent, or set by this platform (its marker is there).

    A discovery tag for another cluster is refused, also one another inferctl platform set (its own marker):
    retagging would move that cluster's nodes' subnets.
    """
    current = tags.get(DISCOVERY_TAG)
    if current is None or tags.get(DISCOVERY_TAG_OWNER) == platform:
        return True
    if current != cluster_name:
        raise ConfigError(
            f"subnet {subnet_id} is tagged {DISCOVERY_TAG}={current}, another cluster's; choose other subnets "
            "(aws.private_subnet_ids) or another aws.cluster_name"
        )
    return False


def build_network(ctx: ProgramContext) -> Network:
    if ctx.config.aws.vpc_id:
        return _existing_vpc(ctx, ctx.config.aws.vpc_id)
    return _new_vpc(ctx)


def _existing_vpc(ctx: ProgramContext, vpc_id: str) -> Network:
    settings = ctx.config.aws
    subnet_ids = list(settings.private_subnet_ids)
    if not subnet_ids:
        filters = [aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc_id])]
        filters += [
            aws.ec2.GetSubnetsFilterArgs(name=f"tag:{key}", values=[value])
            for key, value in settings.private_subnet_tag.items()
        ]
        subnet_ids = sorted(aws.ec2.get_subnets(filters=filters, opts=ctx.invoke_opts()).ids)
    if not subnet_ids:
        tags = ", ".join(f"{k}={v}" for k, v in settings.private_subnet_tag.items())
        raise ConfigError(
            f"no subnet of {vpc_id} is tagged {tags}; set aws.private_subnet_ids or aws.private_subnet_tag"
        )
    for subnet_id in subnet_ids:
        existing = aws.ec2.get_subnet(id=subnet_id, opts=ctx.invoke_opts()).tags or {}
        if not manages_discovery_tag(existing, ctx.cluster_name, subnet_id, platform=ctx.config.name):
            continue  # tagged before inferctl came: the VPC owner's tag, which destroy must leave in place
        # Tag resources, not the subnet: the subnet stays the VPC owner's; destroy removes only these tags. The
        # marker says the discovery tag is inferctl's, so a later run keeps managing it rather than leaving it.
        for key, value in ((DISCOVERY_TAG, ctx.cluster_name), (DISCOVERY_TAG_OWNER, ctx.config.name)):
            aws.ec2.Tag(
                f"discovery-{subnet_id}" if key == DISCOVERY_TAG else f"discovery-owner-{subnet_id}",
                resource_id=subnet_id,
                key=key,
                value=value,
                opts=ctx.opts(),
            )
    return Network(vpc_id=vpc_id, private_subnet_ids=list(subnet_ids))


def _new_vpc(ctx: ProgramContext) -> Network:
    settings = ctx.config.aws
    found = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=ctx.invoke_opts(),
    )
    zones = [zone.name for zone in cluster_zones(ctx.region, found.names, found.zone_ids, settings.availability_zones)]
    private_cidrs, public_cidrs = split_cidr(settings.new_vpc_cidr, len(zones))
    name = ctx.cluster_name
    vpc = aws.ec2.Vpc(
        "vpc",
        cidr_block=settings.new_vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={"Name": name},
        opts=ctx.opts(),
    )
    gateway = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags={"Name": name}, opts=ctx.opts())
    _, public_subnets = _subnet_tier(
        ctx,
        vpc,
        "public",
        zones,
        public_cidrs,
        default_route=aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id),
        tags={PUBLIC_ELB_TAG: "1"},
    )
    nat_ip = aws.ec2.Eip("nat", domain="vpc", tags={"Name": f"{name}-nat"}, opts=ctx.opts())
    nat = aws.ec2.NatGateway(
        "nat",
        allocation_id=nat_ip.id,
        subnet_id=public_subnets[0].id,
        tags={"Name": name},
        opts=ctx.opts(depends_on=[gateway]),
    )
    private_routes, private_subnets = _subnet_tier(
        ctx,
        vpc,
        "private",
        zones,
        private_cidrs,
        default_route=aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id),
        tags={INTERNAL_ELB_TAG: "1", DISCOVERY_TAG: name},
    )
    # S3 from the private subnets without the NAT: model-cache weights and the layers of ECR images (ECR serves
    # them from S3) stop paying the NAT's $0.045/GB. A gateway endpoint costs nothing (catalog.aws_prices).
    aws.ec2.VpcEndpoint(
        "s3-gateway",
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[private_routes.id],
        tags={"Name": f"{name}-s3"},
        opts=ctx.opts(),
    )
    return Network(vpc_id=vpc.id, private_subnet_ids=[subnet.id for subnet in private_subnets])


def _subnet_tier(
    ctx: ProgramContext,
    vpc: aws.ec2.Vpc,
    tier: Literal["public", "private"],
    zones: Sequence[str],
    cidrs: Sequence[str],
    *,
    default_route: aws.ec2.RouteTableRouteArgs,
    tags: dict[str, str],
) -> tuple[aws.ec2.RouteTable, list[aws.ec2.Subnet]]:
    """The tier's route table, whose single route is ``default_route`` (to the internet gateway, or to the NAT),
    and one subnet per zone on it (``cidrs`` in zone order). Public subnets give their instances a public IP."""
    name = ctx.cluster_name
    routes = aws.ec2.RouteTable(
        f"{tier}-routes", vpc_id=vpc.id, routes=[default_route], tags={"Name": f"{name}-{tier}"}, opts=ctx.opts()
    )
    subnets = []
    for zone, cidr in zip(zones, cidrs, strict=True):
        subnet = aws.ec2.Subnet(
            f"{tier}-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=True if tier == "public" else None,  # None: left unset (AWS's default, false)
            tags={"Name": f"{name}-{tier}-{zone}", **tags},
            opts=ctx.opts(),
        )
        aws.ec2.RouteTableAssociation(f"{tier}-{zone}", subnet_id=subnet.id, route_table_id=routes.id, opts=ctx.opts())
        subnets.append(subnet)
    return routes, subnets
