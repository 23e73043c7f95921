"""Zones EKS refuses: a new VPC chooses its zones by zone ID, and preflight checks an existing VPC's subnets.

Upstream facts, copied here with their source:

* The Amazon EKS User Guide, "View Amazon EKS networking requirements for VPC and subnets", section "Subnet
  requirements for clusters" (awsdocs/amazon-eks-user-guide, latest/ug/networking/network-reqs.adoc at commit
  101184ecc138f7f661b484f2cabac7022b726a6b; https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html):
  "The subnets can't reside in the following Availability Zones" -- us-east-1: use1-az3, us-west-1: usw1-az2,
  ca-central-1: cac1-az3.
* The Pulumi provider's ``aws.get_availability_zones`` (hashicorp/terraform-provider-aws,
  internal/service/ec2/ec2_availability_zones_data_source.go) sorts the zones by name and answers ``names`` and
  ``zone_ids`` in that one order; EC2 DescribeAvailabilityZones' shapes are botocore 1.44.18's (the Stubber
  checks every request and response against them).

Seams: Pulumi's mocks answer the zone lookup as that data source would for the account in each test; preflight's
EC2 client is a real botocore client with a Stubber. The zone-name-to-ID mappings are test inputs: each account
has its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferctl.aws.offline import RecordingMocks, record_program
from inferctl.aws.preflight import InstanceDemand, run_preflight
from inferctl.aws.zones import EKS_DISALLOWED_ZONE_IDS, cluster_zones
from inferctl.errors import ConfigError
from inferctl.home import Home
from tests.support.aws import (
    StubbedAws,
    after_network_ok,
    amis_ok,
    aws_config,
    cluster_version_ok,
    eip_quota,
    existing_vpc_checks_ok,
    home_with_pulumi,
    identity_ok,
    isolated_aws,
    no_log_group,
    of_type,
    offerings,
    spot_role_exists,
    vcpu_quotas_ok,
    vpc_quota,
    zones,
)

__all__ = ["isolated_aws"]

# The EKS User Guide's table (network-reqs, "Subnet requirements for clusters").
USER_GUIDE_DISALLOWED = {"us-east-1": {"use1-az3"}, "us-west-1": {"usw1-az2"}, "ca-central-1": {"cac1-az3"}}

# The review's account: its us-east-1a is use1-az3, the zone EKS refuses.
ACCOUNT_ZONES = [
    ("us-east-1a", "use1-az3"),
    ("us-east-1b", "use1-az5"),
    ("us-east-1c", "use1-az6"),
    ("us-east-1d", "use1-az1"),
    ("us-east-1e", "use1-az2"),
    ("us-east-1f", "use1-az4"),
]
DEMAND = [
    InstanceDemand("g5.xlarge", 4, 1, ("spot", "on-demand"), "model llama3"),
    InstanceDemand("m5.xlarge", 4, 2, ("on-demand",), "system nodes"),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None) -> Home:
    return home_with_pulumi(tmp_path, monkeypatch)


def test_the_refused_zone_ids_are_the_user_guides() -> None:
    assert {region: set(ids) for region, ids in EKS_DISALLOWED_ZONE_IDS.items()} == USER_GUIDE_DISALLOWED


def test_a_new_vpc_in_an_account_whose_us_east_1a_is_use1_az3_skips_that_zone() -> None:
    """Before, the VPC took us-east-1a-c by name: CreateCluster then failed after the NAT gateway and its Elastic
    IP already billed, and every re-run failed the same way."""
    config = aws_config(public_access_cidrs=["203.0.113.7/32"])
    run = record_program(config, RecordingMocks(config, zones=ACCOUNT_ZONES))
    subnets = of_type(run.resources, "aws:ec2/subnet:Subnet")
    private = [s for s in subnets if s.name.startswith("private-")]
    assert sorted(s.inputs["availabilityZone"] for s in private) == ["us-east-1b", "us-east-1c", "us-east-1d"]
    assert all(s.inputs["availabilityZone"] != "us-east-1a" for s in subnets)
    cluster = of_type(run.resources, "aws:eks/cluster:Cluster")[0].inputs
    assert sorted(cluster["vpcConfig"]["subnetIds"]) == sorted(f"{s.name}-id" for s in private)


def test_the_same_account_in_preflight_names_the_zones_the_new_vpc_takes(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    zones(aws, ACCOUNT_ZONES[::-1])  # EC2's order is not the provider's: preflight sorts by name as it does
    vpc_quota(aws, 5, 1)
    eip_quota(aws, 5, 0)
    cluster_version_ok(aws)
    after_network_ok(aws)
    report = run_preflight(aws_config(public_access_cidrs=["203.0.113.7/32"]), DEMAND, clients=aws, home=home)
    aws.assert_done()
    check = next(c for c in report.checks if c.name == "zones")
    assert check.status == "ok"
    assert check.detail == (
        "the new VPC takes us-east-1b (use1-az5), us-east-1c (use1-az6), us-east-1d (use1-az1); "
        "not us-east-1a (use1-az3), whose subnets EKS refuses"
    )
    report.raise_for_failures()


def test_a_region_left_with_one_accepted_zone_fails_before_anything_is_created(home: Home) -> None:
    """us-west-1 offers new accounts two zones; with one of them usw1-az2 no new VPC can hold a cluster."""
    aws = StubbedAws("us-west-1")
    identity_ok(aws)
    zones(aws, [("us-west-1a", "usw1-az1"), ("us-west-1b", "usw1-az2")])
    vpc_quota(aws, 5, 1)
    eip_quota(aws, 5, 0)
    cluster_version_ok(aws)
    amis_ok(aws, aws_config(region="us-west-1"))
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    config = aws_config(region="us-west-1", public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert [c.name for c in report.failures] == ["zones"]
    with pytest.raises(ConfigError) as failed:
        report.raise_for_failures()
    assert failed.value.message.startswith(
        "us-west-1 has 1 available zone(s) whose subnets EKS accepts (refused: us-west-1b (usw1-az2);"
    )
    assert "choose another aws.region, or set aws.vpc_id" in failed.value.message


def test_the_program_refuses_the_same_region_rather_than_build_a_vpc_eks_cannot_use() -> None:
    with pytest.raises(ConfigError, match=re.escape("us-west-1 has 1 available zone(s) whose subnets EKS accepts")):
        cluster_zones("us-west-1", ["us-west-1a", "us-west-1b"], ["usw1-az1", "usw1-az2"], 3)
    assert [z.name for z in cluster_zones("us-west-2", ["us-west-2a", "us-west-2b"], ["usw2-az1", "usw2-az2"], 3)] == [
        "us-west-2a",
        "us-west-2b",
    ]


def existing_subnets(aws: StubbedAws, placed: list[tuple[str, str, str]]) -> None:
    """EC2 DescribeSubnets answering ``placed`` as (subnet id, zone name, zone ID), found by the private tag."""
    aws.stub("ec2").add_response(
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": sid, "VpcId": "vpc-0abc1234def567890", "AvailabilityZone": az, "AvailabilityZoneId": zid}
                for sid, az, zid in placed
            ]
        },
        {
            "Filters": [
                {"Name": "vpc-id", "Values": ["vpc-0abc1234def567890"]},
                {"Name": "tag:kubernetes.io/role/internal-elb", "Values": ["1"]},
            ]
        },
    )


def test_an_existing_vpc_with_a_subnet_in_use1_az3_fails_naming_the_subnet_and_its_zone(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    existing_subnets(
        aws,
        [
            ("subnet-0aaa1111bbbb22220", "us-east-1a", "use1-az3"),
            ("subnet-0aaa1111bbbb22221", "us-east-1b", "use1-az5"),
            ("subnet-0aaa1111bbbb22222", "us-east-1c", "use1-az6"),
        ],
    )
    existing_vpc_checks_ok(aws, "vpc-0abc1234def567890")
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=lambda _: "192.168.1.20")
    aws.assert_done()
    assert [c.name for c in report.failures] == ["subnets"]
    with pytest.raises(ConfigError) as failed:
        report.raise_for_failures()
    message = failed.value.message
    assert message.startswith("EKS refuses cluster subnets in zone ID use1-az3")
    assert "finds subnet-0aaa1111bbbb22220 in us-east-1a (use1-az3);" in message
    assert "remove the tag kubernetes.io/role/internal-elb=1 from it" in message
    assert "subnet-0aaa1111bbbb22221" not in message


def test_listed_subnets_in_accepted_zones_pass(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    ids = ["subnet-0aaa1111bbbb22221", "subnet-0aaa1111bbbb22222"]
    aws.stub("ec2").add_response(
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": ids[0], "VpcId": "vpc-0abc1234def567890", "AvailabilityZone": "us-east-1b"}
                | {"AvailabilityZoneId": "use1-az5"},
                {"SubnetId": ids[1], "VpcId": "vpc-0abc1234def567890", "AvailabilityZone": "us-east-1c"}
                | {"AvailabilityZoneId": "use1-az6"},
            ]
        },
        {"SubnetIds": ids},
    )
    existing_vpc_checks_ok(aws, "vpc-0abc1234def567890")
    config = aws_config(vpc_id="vpc-0abc1234def567890", private_subnet_ids=ids, public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=lambda _: "192.168.1.20")
    aws.assert_done()
    assert next(c for c in report.checks if c.name == "subnets").status == "ok"
    report.raise_for_failures()
