"""Preflight's capacity gaps: a new VPC's VPC and Elastic IP quotas, the cluster version EKS offers in the region,
and vCPU demand at a model's most replicas.

Upstream sources:

* Quota codes: moto 5.2.6's copy of AWS's default quotas (``moto/servicequotas/resources/default_quotas/vpc.py``:
  QuotaCode "L-F678F1CE", QuotaName "VPCs per Region", default 5), read below from the installed package; the
  Elastic IP quota "L-0263D0A3" is the one AWS's managed AmazonRedshiftServiceLinkedRolePolicy reads to check EIP
  limits (moto 5.2.6 ``iam/aws_managed_policies.py``), default five per Region (Amazon EC2 User Guide,
  elastic-ip-addresses-eip.html, "Elastic IP address quota").
* EKS DescribeClusterVersions: botocore 1.44.18's eks model (request ``clusterVersions``; response
  ``clusterVersion``, ``versionStatus`` UNSUPPORTED | STANDARD_SUPPORT | EXTENDED_SUPPORT,
  ``endOfStandardSupportDate``; the paginator on ``nextToken``). The Stubber checks every request and response
  against it, so a wrong parameter or field fails these tests.

Seams: real botocore clients with a Stubber (no AWS account here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

from inferctl.aws.preflight import InstanceDemand, instance_demand, run_preflight
from inferctl.aws.preflight_network import NEW_VPC_QUOTAS
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError, UserError
from inferctl.home import Home
from inferctl.sizing import plan_platform
from tests.support.aws import (
    StubbedAws,
    after_network_ok,
    amis_ok,
    aws_config,
    cluster_version_ok,
    eip_quota,
    home_with_pulumi,
    identity_ok,
    isolated_aws,
    no_log_group,
    offerings,
    quota,
    spot_role_exists,
    vpc_quota,
    zones,
    zones_of,
)

__all__ = ["isolated_aws"]

DEMAND = [
    InstanceDemand("g5.xlarge", 4, 1, ("spot", "on-demand"), "model llama3"),
    InstanceDemand("m5.xlarge", 4, 2, ("on-demand",), "system nodes"),
]
CONFIG = aws_config(public_access_cidrs=["203.0.113.7/32"])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None) -> Home:
    return home_with_pulumi(tmp_path, monkeypatch)


def test_the_new_vpc_quota_codes_are_awss() -> None:
    vpcs = next(q for q in VPC_DEFAULT_QUOTAS if q["QuotaCode"] == "L-F678F1CE")
    assert (vpcs["ServiceCode"], vpcs["QuotaName"]) == ("vpc", "VPCs per Region")
    assert [(service, code) for service, code, _, _ in NEW_VPC_QUOTAS] == [("vpc", "L-F678F1CE"), ("ec2", "L-0263D0A3")]


@pytest.mark.parametrize(
    ("vpcs", "addresses", "failing", "code"),
    [(5, 0, "quota VPCs per Region", "L-F678F1CE"), (1, 5, "quota EC2-VPC Elastic IPs", "L-0263D0A3")],
)
def test_a_new_vpc_needs_room_for_one_more_vpc_and_elastic_ip(
    home: Home, vpcs: int, addresses: int, failing: str, code: str
) -> None:
    """At the default five, a sixth VPC or Elastic IP fails CreateVpc or AllocateAddress mid-way through 'up'."""
    aws = StubbedAws()
    identity_ok(aws)
    zones(aws, zones_of("us-east-1"))
    vpc_quota(aws, 5, vpcs)
    eip_quota(aws, 5, addresses)
    cluster_version_ok(aws)
    after_network_ok(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert [c.name for c in report.failures] == [failing]
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    message = failed.value.message
    assert "is 5 and 5 are in use, but the new VPC needs one more" in message
    assert f"request an increase of {code} at https://console.aws.amazon.com/servicequotas/home/services/" in message
    assert "or set aws.vpc_id to an existing VPC" in message


def test_an_existing_vpc_reads_no_vpc_or_elastic_ip_quota(home: Home) -> None:
    """Nothing queued for those calls: the Stubber fails the test if preflight makes them."""
    aws = StubbedAws()
    identity_ok(aws)
    aws.stub("ec2").add_client_error("describe_subnets", "InvalidSubnetID.NotFound", "no such subnet", 400)
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        aws.stub("ec2").add_response(
            "describe_vpc_attribute",
            {"VpcId": "vpc-0abc1234def567890", key: {"Value": True}},
            {"VpcId": "vpc-0abc1234def567890", "Attribute": attribute},
        )
    cluster_version_ok(aws)
    config = aws_config(
        vpc_id="vpc-0abc1234def567890", private_subnet_ids=["subnet-0123456789abcdef0"], endpoint_access="private"
    )
    after_network_ok(aws)
    aws.stub("ec2").add_client_error("describe_vpcs", "InvalidVpcID.NotFound", "no such VPC", 400)
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=lambda _: "10.0.0.9")
    aws.assert_done()
    assert not any(c.name.startswith("quota VPC") or c.name.startswith("quota EC2-VPC") for c in report.checks)


# --- the cluster version ----------------------------------------------------------------------------------------


def version_check(aws: StubbedAws, home: Home, config: PlatformConfig = CONFIG) -> tuple[str, str]:
    report = run_preflight(config, DEMAND, clients=aws, home=home)
    aws.assert_done()
    check = next(c for c in report.checks if c.name == "cluster version")
    if check.status == "fail":
        with pytest.raises(ConfigError):
            report.raise_for_failures()
    return check.status, check.detail


def new_vpc(aws: StubbedAws) -> None:
    identity_ok(aws)
    zones(aws, zones_of("us-east-1"))
    vpc_quota(aws, 5, 1)
    eip_quota(aws, 5, 0)


def test_a_version_eks_does_not_offer_in_the_region_fails_and_lists_what_it_offers(home: Home) -> None:
    aws = StubbedAws()
    new_vpc(aws)
    eks = aws.stub("eks")
    eks.add_response("describe_cluster_versions", {"clusterVersions": []}, {"clusterVersions": ["1.36"]})
    eks.add_response(
        "describe_cluster_versions",
        {
            "clusterVersions": [
                {"clusterVersion": "1.35", "versionStatus": "STANDARD_SUPPORT"},
                {"clusterVersion": "1.34", "versionStatus": "STANDARD_SUPPORT"},
            ],
            "nextToken": "page-2",
        },
        {},
    )
    eks.add_response(
        "describe_cluster_versions",
        {
            "clusterVersions": [
                {"clusterVersion": "1.33", "versionStatus": "EXTENDED_SUPPORT"},
                {"clusterVersion": "1.29", "versionStatus": "UNSUPPORTED"},
            ]
        },
        {"nextToken": "page-2"},
    )
    after_network_ok(aws)
    status, detail = version_check(aws, home)
    assert status == "fail"
    assert detail == (
        "EKS in us-east-1 does not offer Kubernetes 1.36 (offered: 1.33, 1.34, 1.35); set aws.cluster_version to "
        "one of them"
    )


def test_a_version_past_standard_support_is_a_warning_naming_the_upgrade_policy(home: Home) -> None:
    aws = StubbedAws()
    new_vpc(aws)
    aws.stub("eks").add_response(
        "describe_cluster_versions",
        {
            "clusterVersions": [
                {
                    "clusterVersion": "1.36",
                    "versionStatus": "EXTENDED_SUPPORT",
                    "endOfStandardSupportDate": datetime(2027, 7, 28, tzinfo=UTC),
                }
            ]
        },
        {"clusterVersions": ["1.36"]},
    )
    after_network_ok(aws)
    status, detail = version_check(aws, home)
    assert status == "warn"
    assert detail.startswith("Kubernetes 1.36 left standard support in us-east-1 on 2027-07-28")
    assert "upgrade policy is STANDARD" in detail


def test_a_denied_version_lookup_is_a_warning_not_a_failure(home: Home) -> None:
    """DescribeClusterVersions is not one of the calls 'up' itself makes: a policy without it must not block."""
    aws = StubbedAws()
    new_vpc(aws)
    aws.stub("eks").add_client_error("describe_cluster_versions", "AccessDeniedException", "not authorized", 403)
    after_network_ok(aws)
    status, detail = version_check(aws, home)
    assert status == "warn"
    assert detail == "cannot read the versions EKS offers (AccessDeniedException); Kubernetes 1.36 is unchecked"


def test_an_offered_version_passes(home: Home) -> None:
    aws = StubbedAws()
    new_vpc(aws)
    cluster_version_ok(aws)
    after_network_ok(aws)
    assert version_check(aws, home) == ("ok", "EKS in us-east-1 offers Kubernetes 1.36 (standard support)")


# --- vCPU demand at the most replicas ----------------------------------------------------------------------------


def test_quota_demand_counts_autoscalings_max_replicas_not_replicas() -> None:
    """A model that scales from 1 to 4 replicas launches 4 GPU nodes at peak: the quota must cover them."""
    config = PlatformConfig.model_validate(
        {
            "name": "workshop",
            "target": "aws",
            "models": [
                {
                    "name": "llama3",
                    "source": "meta-llama/Meta-Llama-3-8B-Instruct",
                    "replicas": 1,
                    "autoscaling": {"min_replicas": 1, "max_replicas": 4},
                }
            ],
        }
    )
    placements = plan_platform(config).placements
    gpu, system = instance_demand(config, placements)
    assert gpu.count == 4 and gpu.purpose == "model llama3"
    assert system.count == config.aws.system_nodes.desired_size


def test_a_quota_that_fits_one_replica_but_not_the_peak_fails(home: Home) -> None:
    aws = StubbedAws()
    new_vpc(aws)
    cluster_version_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    for code, value in (("L-DB2E81BA", 8), ("L-3819A6DF", 8), ("L-1216C47A", 640)):
        quota(aws, code, value)
    spot_role_exists(aws)
    peak = [InstanceDemand("g5.xlarge", 4, 4, ("spot", "on-demand"), "model llama3"), DEMAND[1]]
    report = run_preflight(CONFIG, peak, clients=aws, home=home)
    aws.assert_done()
    with pytest.raises(UserError, match=r"the plan needs 16 \(4x g5\.xlarge\)"):
        report.raise_for_failures()
