"""Helpers for the AWS target's tests: configs, the program under Pulumi's mocks, stubbed AWS clients.

Fakes live only at the two seams DESIGN.md allows for AWS: Pulumi's ``runtime.Mocks`` (the program runs for
real, the engine does not) and botocore's ``Stubber`` (real clients, canned responses, no network).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import warnings
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from inferctl.aws.offline import ProgramRun, RecordedResource, record_program
from inferctl.config.models import PlatformConfig
from inferctl.home import Home

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
KARPENTER_REFERENCE = SHARED / "reference" / "karpenter-v1.14.1" / "getting-started-cloudformation.yaml"
WORKSHOP_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"


def aws_config(**aws: Any) -> PlatformConfig:
    """A platform on the aws target serving the workshop's model; ``aws`` sets fields of ``config.aws``."""
    return PlatformConfig.model_validate(
        {"name": "workshop", "target": "aws", "models": [{"name": "llama3", "source": WORKSHOP_MODEL}], "aws": aws}
    )


_RUNS: dict[str, ProgramRun] = {}


def ensure_event_loop() -> None:
    """Pulumi's mocks run on the thread's current event loop; a test earlier in the session (asyncio.Runner, e.g.
    bench's) can leave none set, which a fresh 'inferctl' process never meets: set one, as at start-up."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(config: PlatformConfig) -> ProgramRun:
    """The program under Pulumi's mocks: resources, outputs and the data lookups it made (cached per config)."""
    key = config.model_dump_json()
    if key not in _RUNS:
        ensure_event_loop()
        _RUNS[key] = record_program(config)
    return _RUNS[key]


def of_type(resources: list[RecordedResource], typ: str) -> list[RecordedResource]:
    return [r for r in resources if r.type == typ]


def one(resources: list[RecordedResource], typ: str, name: str | None = None) -> RecordedResource:
    found = [r for r in of_type(resources, typ) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
    return found[0]


def policy_of(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resource.inputs[key])
    return document


def actions_of(document: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in document["Statement"]:
        action = statement["Action"]
        out.update([action] if isinstance(action, str) else action)
    return out


# --- AWS clients -----------------------------------------------------------------------------------------------


@pytest.fixture
def isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No credentials, profile, config file or instance metadata from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("PULUMI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


_SHARED: list[botocore.session.Session] = []


def fake_session(*, credentials: bool = True) -> botocore.session.Session:
    """A botocore session with fixed fake keys (shared: loading service models once keeps tests fast)."""
    if credentials and _SHARED:
        return _SHARED[0]
    session = botocore.session.Session()
    if credentials:
        session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        _SHARED.append(session)
    return session


class StubbedAws:
    """A client factory (what preflight and the target take) handing out botocore clients with a Stubber.

    A call nobody queued a response for fails the test (``UnStubbedResponseError``), so a test also proves
    which AWS calls did *not* happen.
    """

    def __init__(self, region: str = "us-east-1", *, credentials: bool = True) -> None:
        self.region = region
        self.session = fake_session(credentials=credentials)
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            client = self.session.create_client(service, region_name=self.region)
            stubber = Stubber(client)
            stubber.activate()
            self.clients[service], self.stubbers[service] = client, stubber
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        self(service)
        return self.stubbers[service]

    def assert_done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def identity_ok(aws: StubbedAws) -> None:
    aws.stub("sts").add_response(
        "get_caller_identity",
        {
            "UserId": "AROAEXAMPLE:alice",
            "Account": "123456789012",
            "Arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice",
        },
        {},
    )


def offerings(aws: StubbedAws, wanted: list[str], offered: list[str]) -> None:
    aws.stub("ec2").add_response(
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {"InstanceType": t, "LocationType": "region", "Location": aws.region} for t in offered
            ]
        },
        {"LocationType": "region", "Filters": [{"Name": "instance-type", "Values": sorted(wanted)}]},
    )


def vcpu_quotas_ok(aws: StubbedAws) -> None:
    """The G/VT on-demand and spot and the standard on-demand vCPU quotas, with room for the workshop's plan."""
    quota(aws, "L-DB2E81BA", 64)
    quota(aws, "L-3819A6DF", 64)
    quota(aws, "L-1216C47A", 640)


def quota(aws: StubbedAws, code: str, value: float) -> None:
    aws.stub("service-quotas").add_response(
        "get_service_quota",
        {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "Value": value}},
        {"ServiceCode": "ec2", "QuotaCode": code},
    )


SPOT_ROLE = {
    "Path": "/aws-service-role/spot.amazonaws.com/",
    "RoleName": "AWSServiceRoleForEC2Spot",
    "RoleId": "AROAEXAMPLESPOTROLE1",
    "Arn": "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
    "CreateDate": "2020-01-01T00:00:00Z",
}


def amis_ok(aws: StubbedAws, config: PlatformConfig | None = None, *, missing: tuple[str, ...] = ()) -> None:
    """SSM GetParameters for the pools' AMI parameters; ``missing`` names come back as InvalidParameters."""
    from inferctl.aws.amis import pool_images

    names = sorted({image.parameter for image in pool_images(config or aws_config())})
    found = [n for n in names if n not in missing]
    response: dict[str, Any] = {
        "Parameters": [{"Name": n, "Type": "String", "Value": "ami-0123456789abcdef0", "Version": 1} for n in found]
    }
    if missing:  # SSM leaves the key out when every name exists
        response["InvalidParameters"] = [n for n in names if n in missing]
    aws.stub("ssm").add_response("get_parameters", response, {"Names": names})


def no_log_group(aws: StubbedAws, cluster: str = "workshop") -> None:
    """CloudWatch Logs has no control-plane log group of the cluster yet."""
    name = f"/aws/eks/{cluster}/cluster"
    aws.stub("logs").add_response("describe_log_groups", {"logGroups": []}, {"logGroupNamePrefix": name})


def vpc_dns(aws: StubbedAws, vpc_id: str, *, support: bool = True, hostnames: bool = True) -> None:
    """EC2 DescribeVpcAttribute for both DNS attributes of an existing VPC, in the order preflight asks."""
    ec2 = aws.stub("ec2")
    for attribute, key, value in (
        ("enableDnsSupport", "EnableDnsSupport", support),
        ("enableDnsHostnames", "EnableDnsHostnames", hostnames),
    ):
        ec2.add_response(
            "describe_vpc_attribute",
            {"VpcId": vpc_id, key: {"Value": value}},
            {"VpcId": vpc_id, "Attribute": attribute},
        )


def spot_role_exists(aws: StubbedAws) -> None:
    aws.stub("iam").add_response("get_role", {"Role": SPOT_ROLE}, {"RoleName": "AWSServiceRoleForEC2Spot"})


def home_with_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """An inferctl home with the pulumi CLI installed, and a PATH without any other pulumi (preflight's last check
    passes without a download)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    home = Home(tmp_path / "home")
    install_fake_pulumi(home.root)
    return home


def run_on_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """On a loop of its own: asyncio.run would unset the thread's loop, which Pulumi's mocks in later tests use."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        loop.close()


def install_fake_pulumi(root: Path) -> Path:
    """An executable named pulumi where inferctl installs the CLI (preflight checks presence only)."""
    binary = root / "pulumi" / "bin" / "pulumi"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\necho v3.272.0\n", encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


# --- the network checks: a new VPC's zones and quotas, the cluster version, an existing VPC's blocks ----------

# A us-east-1 account's zones as (name, zone ID): an account's own mapping (names map to IDs per account), here
# one whose us-east-1a is use1-az1, so nothing EKS refuses comes first.
US_EAST_1_ZONES = [
    ("us-east-1a", "use1-az1"),
    ("us-east-1b", "use1-az2"),
    ("us-east-1c", "use1-az4"),
    ("us-east-1d", "use1-az6"),
    ("us-east-1e", "use1-az3"),
    ("us-east-1f", "use1-az5"),
]


def zones_of(region: str) -> list[tuple[str, str]]:
    """Zones for a region the tests use: us-east-1's above, else three with placeholder IDs."""
    if region == "us-east-1":
        return US_EAST_1_ZONES
    return [(f"{region}{letter}", f"{region}-az{i}") for i, letter in enumerate("abc", 1)]


def zones(aws: StubbedAws, listed: list[tuple[str, str]]) -> None:
    """EC2 DescribeAvailabilityZones for the available zones that need no opt-in, as (name, zone ID)."""
    aws.stub("ec2").add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {
                    "ZoneName": name,
                    "ZoneId": zone_id,
                    "State": "available",
                    "OptInStatus": "opt-in-not-required",
                    "RegionName": aws.region,
                    "ZoneType": "availability-zone",
                }
                for name, zone_id in listed
            ]
        },
        {
            "Filters": [
                {"Name": "state", "Values": ["available"]},
                {"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
            ]
        },
    )


def vpc_quota(aws: StubbedAws, value: float, vpcs: int) -> None:
    """Service Quotas' VPCs per Region (vpc L-F678F1CE) and EC2 DescribeVpcs listing ``vpcs`` VPCs."""
    aws.stub("service-quotas").add_response(
        "get_service_quota",
        {"Quota": {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE", "Value": value}},
        {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"},
    )
    aws.stub("ec2").add_response(
        "describe_vpcs", {"Vpcs": [{"VpcId": f"vpc-0abc1234def56789{i}"} for i in range(vpcs)]}, {}
    )


def eip_quota(aws: StubbedAws, value: float, addresses: int) -> None:
    """Service Quotas' EC2-VPC Elastic IPs (ec2 L-0263D0A3) and EC2 DescribeAddresses listing ``addresses``."""
    quota(aws, "L-0263D0A3", value)
    aws.stub("ec2").add_response(
        "describe_addresses",
        {"Addresses": [{"AllocationId": f"eipalloc-0abc1234def5678{i}", "Domain": "vpc"} for i in range(addresses)]},
        {},
    )


def cluster_version_ok(aws: StubbedAws, version: str = "1.36") -> None:
    """EKS DescribeClusterVersions: ``version`` in standard support."""
    aws.stub("eks").add_response(
        "describe_cluster_versions",
        {"clusterVersions": [{"clusterVersion": version, "versionStatus": "STANDARD_SUPPORT"}]},
        {"clusterVersions": [version]},
    )


def new_vpc_ok(aws: StubbedAws, version: str = "1.36") -> None:
    """Everything a new VPC's checks read, in their order, with room to spare; and the cluster version offered.
    Queue it before ``offerings`` and the vCPU ``quota`` calls (one stubbed client answers in call order)."""
    zones(aws, zones_of(aws.region))
    vpc_quota(aws, 5, 1)
    eip_quota(aws, 5, 0)
    cluster_version_ok(aws, version)


def vpc_blocks(
    aws: StubbedAws,
    vpc_id: str,
    cidr: str,
    *,
    secondary: tuple[str, ...] = (),
    routes: tuple[dict[str, Any], ...] = (),
) -> None:
    """EC2 DescribeVpcs for an existing VPC's blocks and DescribeRouteTables for its routes (besides local)."""
    associations = [
        {"AssociationId": f"vpc-cidr-assoc-0abc{i}", "CidrBlock": block, "CidrBlockState": {"State": "associated"}}
        for i, block in enumerate((cidr, *secondary))
    ]
    ec2 = aws.stub("ec2")
    ec2.add_response(
        "describe_vpcs",
        {"Vpcs": [{"VpcId": vpc_id, "CidrBlock": cidr, "CidrBlockAssociationSet": associations}]},
        {"VpcIds": [vpc_id]},
    )
    local = {"DestinationCidrBlock": cidr, "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"}
    ec2.add_response(
        "describe_route_tables",
        {"RouteTables": [{"RouteTableId": "rtb-0abc1234def567890", "VpcId": vpc_id, "Routes": [local, *routes]}]},
        {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]},
    )


def after_network_ok(aws: StubbedAws, system: str = "m5.xlarge") -> None:
    """The checks after the network and version ones, all passing for the workshop's plan (g5.xlarge and two
    ``system`` nodes: the preflight tests' demand names m5.xlarge; a config's ``auto`` picks its own type): AMI
    parameters, no old log group, offerings, vCPU quotas, the spot role."""
    amis_ok(aws)
    no_log_group(aws)
    types = sorted({"g5.xlarge", system})
    offerings(aws, types, types)
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)


def existing_vpc_checks_ok(
    aws: StubbedAws,
    vpc_id: str,
    cidr: str = "10.0.0.0/16",
    *,
    secondary: tuple[str, ...] = (),
    routes: tuple[dict[str, Any], ...] = (),
    system: str = "m5.xlarge",
) -> None:
    """Every check after the subnets' for an existing VPC, passing: DNS on, the version offered, the rest, and
    the VPC's blocks and routes for the endpoint check (queue the subnets' answer first)."""
    vpc_dns(aws, vpc_id)
    cluster_version_ok(aws)
    after_network_ok(aws, system)
    vpc_blocks(aws, vpc_id, cidr, secondary=secondary, routes=routes)
