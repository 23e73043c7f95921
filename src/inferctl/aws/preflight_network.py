"""Preflight's network checks: the VPC the cluster goes into and who will reach its API endpoint.

An existing VPC (``aws.vpc_id``): its private subnets (two zones, none in a zone ID EKS refuses) and its DNS
attributes. A new VPC: the zones it will take (by zone ID, as the program does) and the VPC and Elastic IP
quotas it needs. Then the endpoint: the deployer's egress /32 for the public endpoint, and where this machine
stands relative to an existing VPC for the private one (:func:`inferctl.aws.endpoint_access.private_access`).
Each failure is one line that names the fix; :func:`inferctl.aws.preflight.run_preflight` runs these.
"""

from __future__ import annotations

from typing import Any

from inferctl.aws.endpoint_access import (
    Fetch,
    Locate,
    PrivateAccess,
    VpcReach,
    first_host,
    local_address_toward,
    private_access,
)
from inferctl.aws.preflight import DENIED_CODES, PreflightReport, error_code, quotas_url, service_quota
from inferctl.aws.zones import NETWORK_REQS_URL, cluster_zones, eks_refuses
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError, OperationError, UserError

# Service Quotas codes of what a new VPC takes: one VPC and one Elastic IP for the NAT gateway. Codes and names:
# moto 5.2.6's copy of AWS's default quotas
# (moto/servicequotas/resources/default_quotas/vpc.py: "L-F678F1CE", "VPCs per Region", default 5) and
# pulumi-aws 7.51.1's aws.servicequotas.get_service_quota example (quota_code "L-F678F1CE", "VPCs per Region");
# the Elastic IP quota "L-0263D0A3" is the one AWS's own AmazonRedshiftServiceLinkedRolePolicy reads to check
# customer EIP limits (moto 5.2.6 iam/aws_managed_policies.py, Sid ServiceQuotasToCheckCustomerLimits), default
# five per Region (Amazon EC2 User Guide, elastic-ip-addresses-eip, "Elastic IP address quota").
NEW_VPC_QUOTAS = (
    ("vpc", "L-F678F1CE", "VPCs per Region", "VPC"),
    ("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", "Elastic IP (for the NAT gateway)"),
)


def check_subnets(config: PlatformConfig, ec2: Any, report: PreflightReport) -> None:
    settings = config.aws
    vpc_id = settings.vpc_id
    if settings.private_subnet_ids:
        subnets = ec2.describe_subnets(SubnetIds=list(settings.private_subnet_ids))["Subnets"]
        wrong = [s["SubnetId"] for s in subnets if s["VpcId"] != vpc_id]
        if wrong:
            report.add(
                "subnets",
                "fail",
                f"subnets {', '.join(wrong)} are not in {vpc_id}; fix aws.private_subnet_ids",
                ConfigError,
            )
            return
        how = "aws.private_subnet_ids"
        drop = "remove it from aws.private_subnet_ids"
    else:
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
        filters += [{"Name": f"tag:{k}", "Values": [v]} for k, v in settings.private_subnet_tag.items()]
        subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
        tags = ", ".join(f"{k}={v}" for k, v in settings.private_subnet_tag.items())
        how = f"the tag {tags}"
        drop = f"remove the tag {tags} from it, or list the subnets to use in aws.private_subnet_ids"
        if not subnets:
            report.add(
                "subnets",
                "fail",
                f"no subnet of {vpc_id} is tagged {tags}; set aws.private_subnet_ids or aws.private_subnet_tag",
                ConfigError,
            )
            return
    refused = [s for s in subnets if eks_refuses(settings.region, str(s.get("AvailabilityZoneId", "")))]
    if refused:
        where = ", ".join(f"{s['SubnetId']} in {s['AvailabilityZone']} ({s['AvailabilityZoneId']})" for s in refused)
        report.add(
            "subnets",
            "fail",
            f"EKS refuses cluster subnets in zone ID {refused[0]['AvailabilityZoneId']} ({NETWORK_REQS_URL}): "
            f"{how} finds {where}; {drop}",
            ConfigError,
        )
        return
    zones = sorted({s["AvailabilityZone"] for s in subnets})
    if len(zones) < 2:
        report.add(
            "subnets",
            "fail",
            f"EKS needs private subnets in two availability zones; {how} finds only {zones[0]}; add a subnet "
            "in another zone",
            ConfigError,
        )
        return
    report.add("subnets", "ok", f"{len(subnets)} private subnets of {vpc_id} in {', '.join(zones)}")


# EC2 DescribeVpcAttribute: the Attribute asked for, and the key of its answer ({"Value": bool}).
VPC_DNS_ATTRIBUTES = {"enableDnsSupport": "EnableDnsSupport", "enableDnsHostnames": "EnableDnsHostnames"}
VPC_DNS_CLI_FLAGS = {"enableDnsSupport": "--enable-dns-support", "enableDnsHostnames": "--enable-dns-hostnames"}


def check_vpc_dns(config: PlatformConfig, ec2: Any, report: PreflightReport) -> None:
    """Nodes reach the API through the private endpoint, whose name resolves to private addresses only in a VPC
    with both DNS attributes on (Amazon EKS User Guide, cluster-endpoint.html). Without them the nodes go to the
    public endpoint, which admits only the deployer's /32, and never join."""
    vpc_id = config.aws.vpc_id
    off = [
        attribute
        for attribute, key in VPC_DNS_ATTRIBUTES.items()
        if not ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute).get(key, {}).get("Value")
    ]
    if not off:
        report.add("vpc dns", "ok", f"{vpc_id} resolves the private API endpoint (DNS support and hostnames on)")
        return
    fixes = " and ".join(f"'aws ec2 modify-vpc-attribute --vpc-id {vpc_id} {VPC_DNS_CLI_FLAGS[a]}'" for a in off)
    report.add(
        "vpc dns",
        "fail",
        f"{vpc_id} has {' and '.join(off)} off, so nodes cannot resolve the private API endpoint and would never "
        f"join; turn it on with {fixes}, or leave aws.vpc_id unset for a new VPC",
        ConfigError,
    )


def check_new_vpc_zones(config: PlatformConfig, ec2: Any, report: PreflightReport) -> None:
    """The zones the program's new VPC will take, chosen the same way: the available zones that need no opt-in,
    sorted by name (as the Pulumi provider's aws_availability_zones data source sorts them:
    hashicorp/terraform-provider-aws internal/service/ec2/ec2_availability_zones_data_source.go), the first ones
    whose zone IDs EKS accepts."""
    settings = config.aws
    response = ec2.describe_availability_zones(
        Filters=[
            {"Name": "state", "Values": ["available"]},
            {"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
        ]
    )
    listed = sorted(response["AvailabilityZones"], key=lambda z: str(z["ZoneName"]))
    try:
        zones = cluster_zones(
            settings.region,
            [z["ZoneName"] for z in listed],
            [z["ZoneId"] for z in listed],
            settings.availability_zones,
        )
    except ConfigError as exc:
        report.add("zones", "fail", exc.message, ConfigError)
        return
    skipped = [f"{z['ZoneName']} ({z['ZoneId']})" for z in listed if eks_refuses(settings.region, z["ZoneId"])]
    note = f"; not {', '.join(skipped)}, whose subnets EKS refuses" if skipped else ""
    report.add("zones", "ok", f"the new VPC takes {', '.join(str(z) for z in zones)}{note}")


def check_new_vpc_quotas(config: PlatformConfig, quotas: Any, ec2: Any, report: PreflightReport) -> None:
    """A new VPC needs one more VPC and one more Elastic IP in the region than are in use now."""
    region = config.aws.region
    in_use = {
        "L-F678F1CE": lambda: sum(len(page["Vpcs"]) for page in ec2.get_paginator("describe_vpcs").paginate()),
        "L-0263D0A3": lambda: len(ec2.describe_addresses()["Addresses"]),
    }
    for service, code, name, what in NEW_VPC_QUOTAS:
        limit = service_quota(quotas, code, service)
        if limit is None:
            report.add(f"quota {name}", "warn", f"cannot read the {name} quota (servicequotas denied); skipped")
            continue
        used = in_use[code]()
        if used + 1 <= limit:
            report.add(f"quota {name}", "ok", f"{used} of {limit:g} in use; the new VPC takes one {what}")
            continue
        report.add(
            f"quota {name}",
            "fail",
            f"the {name} quota in {region} is {limit:g} and {used} are in use, but the new VPC needs one more "
            f"{what}; request an increase of {code} at {quotas_url(service)}, release one, or set aws.vpc_id to "
            "an existing VPC",
            UserError,
        )


def check_endpoint_access(
    config: PlatformConfig,
    report: PreflightReport,
    fetch: Fetch | None,
    *,
    ec2: Any = None,
    locate: Locate | None = None,
) -> None:
    """Who will reach the API endpoint: the deployer's /32 for the public endpoint (detected now, so 'up' can
    install through it) and, in an existing VPC, the blocks the private endpoint admits (``ec2``: the VPC's
    blocks and routes; ``locate``: this machine's address toward it)."""
    from inferctl.aws.endpoint_access import (
        access_summary,
        detect_egress_ip,
        is_public,
        with_private_cidrs,
        with_public_cidrs,
    )

    deployed, where = config, ""
    if config.aws.vpc_id and ec2 is not None:
        access = _private_access(config, ec2, locate)
        if access.failure:
            report.add("api endpoint", "fail", access.failure, UserError)
            return
        report.private_cidrs = list(access.cidrs)
        deployed, where = with_private_cidrs(config, access.cidrs), f" ({access.detail})"
    if not is_public(config):
        report.add("api endpoint", "warn", access_summary(deployed) + where)
        return
    if config.aws.public_access_cidrs:
        report.add("api endpoint", "ok", access_summary(deployed) + where)
        return
    try:
        cidr = detect_egress_ip(fetch) if fetch is not None else detect_egress_ip()
    except OperationError as exc:
        report.add("api endpoint", "fail", exc.message, OperationError)
        return
    report.deployer_cidrs = [cidr]
    summary = access_summary(with_public_cidrs(deployed, [cidr]))
    report.add("api endpoint", "ok", f"{summary}{where}; {cidr} is this machine's egress IP")


def _private_access(config: PlatformConfig, ec2: Any, locate: Locate | None) -> PrivateAccess:
    vpc_id = str(config.aws.vpc_id)
    blocks = vpc_cidrs(ec2, vpc_id)
    address = (locate or local_address_toward)(first_host(blocks[0]))
    return private_access(config, VpcReach(vpc_id, address, blocks, connected_networks(ec2, vpc_id)))


def vpc_cidrs(ec2: Any, vpc_id: str) -> tuple[str, ...]:
    """The VPC's IPv4 blocks: its primary block and every associated secondary one (EC2 DescribeVpcs)."""
    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    blocks = [str(vpc["CidrBlock"])]
    for association in vpc.get("CidrBlockAssociationSet", []):
        block = str(association.get("CidrBlock", ""))
        if association.get("CidrBlockState", {}).get("State") == "associated" and block not in blocks:
            blocks.append(block)
    return tuple(blocks)


# Route targets (EC2 Route: GatewayId "vgw-..." for a virtual private gateway, TransitGatewayId,
# VpcPeeringConnectionId, CoreNetworkArn, LocalGatewayId) that lead to private networks rather than the internet
# (an internet gateway, a NAT gateway).
_PRIVATE_TARGETS = ("TransitGatewayId", "VpcPeeringConnectionId", "CoreNetworkArn", "LocalGatewayId")


def connected_networks(ec2: Any, vpc_id: str) -> tuple[str, ...]:
    """The IPv4 blocks the VPC's route tables send to a VPN or Direct Connect gateway, a transit gateway, a
    peering connection, a Cloud WAN core network or a local gateway: networks whose machines may reach the
    private endpoint. Denied: none (the check then relies on the VPC's own blocks)."""
    from botocore.exceptions import ClientError

    try:
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    except ClientError as exc:
        if error_code(exc) in DENIED_CODES:
            return ()
        raise
    found: list[str] = []
    for table in tables:
        for route in table.get("Routes", []):
            block = route.get("DestinationCidrBlock")
            private = str(route.get("GatewayId", "")).startswith("vgw-") or any(route.get(k) for k in _PRIVATE_TARGETS)
            if block and private and route.get("State") != "blackhole" and block not in found:
                found.append(str(block))
    return tuple(found)
