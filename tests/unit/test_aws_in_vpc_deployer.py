"""A deployer inside an existing VPC reaches the private API endpoint: the cluster security group admits it on 443.

Upstream facts (Amazon EKS User Guide, awsdocs/amazon-eks-user-guide):

* latest/ug/networking/sec-group-reqs.adoc, "Default cluster security group": EKS creates the cluster security
  group with one inbound rule, All protocols and ports from Self. A deployer's machine is not in that group.
* latest/ug/clusters/cluster-endpoint.adoc: with public and private access, "Kubernetes API requests within your
  cluster's VPC ... use the private VPC endpoint"; "Accessing a private only API server": from a connected
  network or a bastion "You must ensure that your Amazon EKS control plane security group contains rules to allow
  ingress traffic on port 443".

Seams: preflight's EC2 client is a real botocore client with a Stubber (request and response shapes checked
against botocore 1.44.18's EC2 model: DescribeVpcs' CidrBlockAssociationSet, DescribeRouteTables' Routes with
their TransitGatewayId / GatewayId targets); this machine's route toward the VPC is a function handed in (the
real one asks the kernel with a UDP connect); the program runs under Pulumi's mocks; ``stack.deploy`` is
replaced by a recorder, because the Pulumi engine cannot run here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferctl.aws.endpoint_access import API_PORT, local_address_toward, probe_endpoint, unreachable_fix
from inferctl.aws.preflight import InstanceDemand, run_preflight
from inferctl.config.models import PlatformConfig
from inferctl.errors import OperationError, UserError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.sizing.system_nodes import choose_system_nodes
from inferctl.targets.aws import AwsTarget
from tests.support.aws import (
    StubbedAws,
    aws_config,
    existing_vpc_checks_ok,
    home_with_pulumi,
    identity_ok,
    isolated_aws,
    of_type,
    run_on_own_loop,
    run_program,
)

__all__ = ["isolated_aws"]

VPC = "vpc-0abc1234def567890"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CLUSTER_SG = "sg-0ff11e0000000000c"  # the mocks' cluster security group id
DEMAND = [
    InstanceDemand("g5.xlarge", 4, 1, ("spot", "on-demand"), "model llama3"),
    InstanceDemand("m5.xlarge", 4, 2, ("on-demand",), "system nodes"),
]
TGW_ROUTE = {
    "DestinationCidrBlock": "172.20.0.0/16",
    "TransitGatewayId": "tgw-0abc1234def567890",
    "State": "active",
    "Origin": "CreateRoute",
}
NAT_ROUTE = {
    "DestinationCidrBlock": "0.0.0.0/0",
    "NatGatewayId": "nat-0abc1234def567890",
    "State": "active",
    "Origin": "CreateRoute",
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None) -> Home:
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    return home_with_pulumi(tmp_path, monkeypatch)


def existing_vpc_ok(aws: StubbedAws, *routes: dict[str, Any], system: str = "m5.xlarge") -> None:
    """Every preflight call for an existing VPC 10.0.0.0/16 with two good subnets, in call order per client;
    ``system``: the system nodes' type in the demand (``DEMAND``'s, or what a config's ``auto`` chooses)."""
    identity_ok(aws)
    aws.stub("ec2").add_response(
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": f"subnet-0aaa1111bbbb222{i}", "VpcId": VPC, "AvailabilityZone": az}
                | {"AvailabilityZoneId": zid}
                for i, (az, zid) in enumerate([("us-east-1b", "use1-az5"), ("us-east-1c", "use1-az6")])
            ]
        },
        None,
    )
    existing_vpc_checks_ok(aws, VPC, secondary=("100.64.0.0/16",), routes=(NAT_ROUTE, *routes), system=system)


def preflight(config: PlatformConfig, home: Home, address: str | None, *routes: dict[str, Any]) -> Any:
    aws = StubbedAws()
    existing_vpc_ok(aws, *routes)
    asked: list[str] = []

    def locate(toward: str) -> str | None:
        asked.append(toward)
        return address

    report = run_preflight(
        config, DEMAND, clients=aws, home=home, fetch_egress_ip=lambda _: "198.51.100.23\n", locate_address=locate
    )
    aws.assert_done()
    assert asked == ["10.0.0.1"]  # the route toward the VPC's first block
    return report


def endpoint_check(report: Any) -> Any:
    return next(c for c in report.checks if c.name == "api endpoint")


# --- the scenario: a deployer inside an existing VPC -------------------------------------------------------------


def test_a_deployer_inside_an_existing_vpc_is_admitted_on_443_by_the_cluster_security_group(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default public-and-private from a machine in the VPC: its requests resolve to the private endpoint, so 'up'
    deploys an ingress rule for its /32 (before: none, and 'up' timed out after 300 s while the cluster billed)."""
    deployed: list[PlatformConfig] = []

    class Recorded(Exception):
        pass

    def deploy(config: PlatformConfig, *args: Any) -> dict[str, Any]:
        deployed.append(config)
        raise Recorded

    monkeypatch.setattr("inferctl.aws.stack.deploy", deploy)
    aws = StubbedAws()
    config = aws_config(vpc_id=VPC)
    existing_vpc_ok(aws, system=choose_system_nodes(config).instance.name)
    target = AwsTarget(config, home, clients=aws)
    target.fetch_egress_ip = lambda _: "198.51.100.23\n"
    target.locate_address = lambda _: "10.0.7.12"
    with pytest.raises(Recorded):
        target.up(NullReporter())
    aws.assert_done()
    (config,) = deployed  # as up completed it
    assert config.aws.private_access_cidrs == ["10.0.7.12/32"]
    assert config.aws.public_access_cidrs == ["198.51.100.23/32"]
    rules = of_type(run_program(config).resources, RULE)
    assert [r.inputs for r in rules] == [
        {
            "securityGroupId": CLUSTER_SG,
            "cidrIpv4": "10.0.7.12/32",
            "ipProtocol": "tcp",
            "fromPort": API_PORT,
            "toPort": API_PORT,
            "description": "Kubernetes API (private endpoint) for the inferctl deployer",
        }
    ]
    assert API_PORT == 443


def test_a_deployer_in_a_secondary_block_of_the_vpc_is_inside_too(home: Home) -> None:
    report = preflight(aws_config(vpc_id=VPC), home, "100.64.3.9")
    assert report.private_cidrs == ["100.64.3.9/32"]
    assert "this machine (100.64.3.9) is inside vpc-0abc1234def567890" in endpoint_check(report).detail


def test_a_deployer_outside_the_vpc_uses_the_public_endpoint_and_adds_no_rule(home: Home) -> None:
    report = preflight(aws_config(vpc_id=VPC), home, "192.168.1.20")
    check = endpoint_check(report)
    assert check.status == "ok"
    assert report.private_cidrs == [] and report.deployer_cidrs == ["198.51.100.23/32"]
    assert not of_type(run_program(aws_config(vpc_id=VPC)).resources, RULE)


def test_configured_blocks_replace_the_detected_address(home: Home) -> None:
    config = aws_config(vpc_id=VPC, private_access_cidrs=["10.0.0.0/16"])
    report = preflight(config, home, "10.0.7.12")
    assert endpoint_check(report).status == "ok"
    assert report.private_cidrs == ["10.0.0.0/16"]
    rules = of_type(run_program(config).resources, RULE)
    assert [r.inputs["cidrIpv4"] for r in rules] == ["10.0.0.0/16"]


def test_configured_blocks_that_leave_out_an_in_vpc_deployer_fail_the_gate(home: Home) -> None:
    report = preflight(aws_config(vpc_id=VPC, private_access_cidrs=["10.0.99.0/24"]), home, "10.0.7.12")
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    message = failed.value.message
    assert message.startswith("this machine (10.0.7.12) is inside vpc-0abc1234def567890 and reaches the private API")
    assert "aws.private_access_cidrs (10.0.99.0/24) leaves its address out" in message
    assert "add 10.0.7.12/32 to aws.private_access_cidrs" in message
    assert "public_access_cidrs" not in message


# --- private-only: preflight fails where it can tell --------------------------------------------------------------


def test_private_only_from_outside_the_vpc_and_its_routed_networks_fails_before_anything_is_created(
    home: Home,
) -> None:
    config = aws_config(vpc_id=VPC, endpoint_access="private")
    report = preflight(config, home, "192.168.1.20", TGW_ROUTE)
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    message = failed.value.message
    assert message.startswith(
        "aws.endpoint_access is private but this machine (192.168.1.20) is outside vpc-0abc1234def567890 "
        "(10.0.0.0/16, 100.64.0.0/16) and every network it routes to a VPN, transit gateway or peering "
        "(172.20.0.0/16)"
    )
    assert "Run 'up' inside vpc-0abc1234def567890 or a network routed to it" in message
    assert "set aws.private_access_cidrs to the block the VPC sees this machine from" in message
    assert "\n" not in message


def test_private_only_from_a_network_the_vpc_routes_to_through_a_transit_gateway_passes(home: Home) -> None:
    report = preflight(aws_config(vpc_id=VPC, endpoint_access="private"), home, "172.20.4.5", TGW_ROUTE)
    check = endpoint_check(report)
    assert check.status == "warn"  # private-only: always said, since 'up' must run there
    assert "this machine (172.20.4.5) is in a network vpc-0abc1234def567890 routes to" in check.detail
    assert report.private_cidrs == ["172.20.4.5/32"]
    report.raise_for_failures()


def test_a_vpn_gateway_route_counts_as_a_connected_network(home: Home) -> None:
    vpn = {"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-0abc1234def567890", "State": "active"}
    report = preflight(aws_config(vpc_id=VPC, endpoint_access="private"), home, "192.168.1.20", vpn)
    assert report.private_cidrs == ["192.168.1.20/32"]
    report.raise_for_failures()


def test_private_only_from_outside_with_declared_blocks_is_trusted(home: Home) -> None:
    """Through AWS Client VPN or a NAT the VPC sees another address than this machine's: only the user knows it."""
    config = aws_config(vpc_id=VPC, endpoint_access="private", private_access_cidrs=["10.0.200.0/22"])
    report = preflight(config, home, "192.168.1.20")
    assert endpoint_check(report).status == "warn"
    assert report.private_cidrs == ["10.0.200.0/22"]
    report.raise_for_failures()


# --- the messages name the fix for the endpoint in use ------------------------------------------------------------


def test_the_probes_timeout_names_the_private_endpoints_fix_inside_an_existing_vpc() -> None:
    def refused(host: str, port: int) -> None:
        raise TimeoutError("timed out")

    async def no_wait(seconds: float) -> None:
        return None

    config = aws_config(vpc_id=VPC, private_access_cidrs=["10.0.99.0/24"], public_access_cidrs=["203.0.113.7/32"])
    with pytest.raises(OperationError) as failed:
        run_on_own_loop(
            probe_endpoint(
                "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                fix=unreachable_fix(config),
                connect=refused,
                timeout_s=0,
                sleep=no_wait,
            )
        )
    message = failed.value.message
    assert "from inside vpc-0abc1234def567890 (or a network routed to it) the endpoint is the private one" in message
    assert "admits on 443 only aws.private_access_cidrs (10.0.99.0/24): add this machine's address there" in message
    private_only = aws_config(vpc_id=VPC, endpoint_access="private")
    assert unreachable_fix(private_only).startswith("the endpoint is private: run 'up' inside vpc-0abc1234def567890")
    assert "public_access_cidrs" not in unreachable_fix(private_only)


def test_a_new_vpcs_timeout_still_points_at_the_public_blocks() -> None:
    fix = unreachable_fix(aws_config(public_access_cidrs=["203.0.113.7/32"]))
    assert fix.startswith("from elsewhere the public endpoint admits only aws.public_access_cidrs (203.0.113.7/32)")
    assert "private_access_cidrs" not in fix


def test_the_real_route_lookup_asks_the_kernel_without_sending() -> None:
    """Loopback only: the kernel answers the source address of a route; no packet leaves (UDP connect)."""
    assert local_address_toward("127.0.0.1") == "127.0.0.1"
