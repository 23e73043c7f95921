"""Preflight against stubbed AWS APIs (botocore's Stubber on real clients: no network, no account).

The pulumi CLI's download is the one other seam: ``ensure_pulumi`` takes the installer as an argument, and
these tests hand in one that fails the way it fails without network, or one that lays down a binary.
"""

from __future__ import annotations

import re
import urllib.error
from pathlib import Path

import pytest
from botocore.exceptions import NoCredentialsError

from inferctl.aws.preflight import InstanceDemand, quota_class, run_preflight
from inferctl.aws.stack import ensure_pulumi, find_pulumi
from inferctl.errors import ConfigError, MissingDependencyError, OperationError, PlanError, UserError
from inferctl.home import Home
from tests.support.aws import (
    SPOT_ROLE,
    StubbedAws,
    amis_ok,
    aws_config,
    cluster_version_ok,
    home_with_pulumi,
    identity_ok,
    install_fake_pulumi,
    isolated_aws,
    new_vpc_ok,
    no_log_group,
    offerings,
    quota,
    spot_role_exists,
    vcpu_quotas_ok,
    vpc_blocks,
    vpc_dns,
)

__all__ = ["isolated_aws"]  # the fixture, used by name below

GPU = InstanceDemand("g5.xlarge", 4, 1, ("spot", "on-demand"), "model llama3")
SYSTEM = InstanceDemand("m5.xlarge", 4, 2, ("on-demand",), "system nodes")
DEMAND = [GPU, SYSTEM]
CONFIG = aws_config(public_access_cidrs=["203.0.113.7/32"])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None) -> Home:
    return home_with_pulumi(tmp_path, monkeypatch)


def all_good(aws: StubbedAws) -> None:
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)


def test_everything_in_place_passes(home: Home) -> None:
    aws = StubbedAws()
    all_good(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert [c.name for c in report.checks] == [
        "credentials",
        "zones",
        "quota VPCs per Region",
        "quota EC2-VPC Elastic IPs",
        "cluster version",
        "instance types",
        "quota G and VT",
        "quota Standard",
        "log group",
        "ami parameters",
        "spot role",
        "api endpoint",
        "pulumi",
    ]
    assert [c.status for c in report.checks] == ["ok"] * 13
    assert report.to_dict()["ok"] is True
    report.raise_for_failures()


def test_no_credentials_is_one_line_and_no_other_aws_call_is_made(home: Home) -> None:
    """The STS client here is real and unstubbed: botocore refuses to sign before any request leaves."""
    aws = StubbedAws(credentials=False)
    sts = aws.session.create_client("sts", region_name="us-east-1")
    with pytest.raises(NoCredentialsError):
        sts.get_caller_identity()
    aws.clients["sts"] = sts
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    assert [c.name for c in report.checks] == ["credentials", "pulumi"]
    with pytest.raises(ConfigError) as failed:
        report.raise_for_failures()
    assert failed.value.message == (
        "no AWS credentials found; run 'aws configure' or 'aws sso login', or export AWS_PROFILE"
    )
    assert failed.value.exit_code == 2


def test_rejected_credentials_name_the_error_code(home: Home) -> None:
    aws = StubbedAws()
    aws.stub("sts").add_client_error("get_caller_identity", "ExpiredToken", "The security token expired", 403)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert report.failures[0].detail.startswith("AWS rejected the credentials (ExpiredToken)")
    assert "ec2" not in aws.clients


def test_quota_too_low_names_both_quota_codes_and_the_need(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    quota(aws, "L-DB2E81BA", 0)
    quota(aws, "L-3819A6DF", 0)
    quota(aws, "L-1216C47A", 640)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    message = failed.value.message
    assert "G and VT vCPU quota in us-east-1 is 0 on-demand / 0 spot" in message
    assert "needs 4 (1x g5.xlarge)" in message
    assert "L-DB2E81BA (on-demand)" in message and "L-3819A6DF (spot)" in message
    assert "\n" not in message
    assert failed.value.exit_code == 2


def test_one_capacity_type_short_is_a_warning_not_a_failure(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    quota(aws, "L-DB2E81BA", 8)
    quota(aws, "L-3819A6DF", 0)
    quota(aws, "L-1216C47A", 640)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    gpu = next(c for c in report.checks if c.name == "quota G and VT")
    assert gpu.status == "warn" and "only on-demand capacity fits" in gpu.detail
    report.raise_for_failures()


def test_a_quota_never_changed_falls_back_to_the_aws_default(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    quotas = aws.stub("service-quotas")
    quotas.add_client_error("get_service_quota", "NoSuchResourceException", "no applied quota", 400)
    quotas.add_response(
        "get_aws_default_service_quota",
        {"Quota": {"QuotaCode": "L-DB2E81BA", "Value": 0.0}},
        {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
    )
    quota(aws, "L-3819A6DF", 8)
    quota(aws, "L-1216C47A", 640)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert next(c for c in report.checks if c.name == "quota G and VT").status == "warn"


def test_an_instance_type_the_region_does_not_offer_fails_with_the_fix(home: Home) -> None:
    aws = StubbedAws("eu-north-1")
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["m5.xlarge"])
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    config = aws_config(region="eu-north-1", public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home)
    with pytest.raises(PlanError) as failed:
        report.raise_for_failures()
    assert failed.value.message.startswith("g5.xlarge not offered in eu-north-1; choose another aws.region")


def test_a_missing_spot_role_fails_without_consent_and_creates_nothing(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    aws.stub("iam").add_client_error("get_role", "NoSuchEntity", "role not found", 404)
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home, confirm=decline)
    aws.assert_done()  # no create_service_linked_role was queued: a call would have failed the test
    assert "AWSServiceRoleForEC2Spot" in asked[0]
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    assert "re-run with --yes" in failed.value.message
    assert "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com" in failed.value.message


@pytest.mark.parametrize("consent", ["yes-flag", "confirmed"])
def test_a_missing_spot_role_is_created_with_consent(home: Home, consent: str) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    iam = aws.stub("iam")
    iam.add_client_error("get_role", "NoSuchEntity", "role not found", 404)
    iam.add_response("create_service_linked_role", {"Role": SPOT_ROLE}, {"AWSServiceName": "spot.amazonaws.com"})
    report = run_preflight(
        CONFIG,
        DEMAND,
        clients=aws,
        home=home,
        assume_yes=consent == "yes-flag",
        confirm=(lambda _: True) if consent == "confirmed" else None,
    )
    aws.assert_done()
    assert next(c for c in report.checks if c.name == "spot role").status == "fixed"
    report.raise_for_failures()


def test_without_spot_in_any_pool_the_spot_role_is_not_checked(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    quota(aws, "L-DB2E81BA", 64)
    quota(aws, "L-1216C47A", 640)
    config = CONFIG.model_copy(deep=True)
    config.pools.gpu.capacity_types = ["on-demand"]
    config.pools.cpu.capacity_types = ["on-demand"]
    on_demand = [InstanceDemand("g5.xlarge", 4, 1, ("on-demand",), "model"), SYSTEM]
    report = run_preflight(config, on_demand, clients=aws, home=home)
    aws.assert_done()
    assert "spot role" not in {c.name for c in report.checks}


def test_subnets_of_an_existing_vpc_must_span_two_zones(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    cluster_version_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    aws.stub("ec2").add_response(
        "describe_subnets",
        {
            "Subnets": [
                {
                    "SubnetId": "subnet-0aaa1111bbbb2222c",
                    "VpcId": "vpc-0abc1234def567890",
                    "AvailabilityZone": "us-east-1a",
                }
            ]
        },
        {
            "Filters": [
                {"Name": "vpc-id", "Values": ["vpc-0abc1234def567890"]},
                {"Name": "tag:kubernetes.io/role/internal-elb", "Values": ["1"]},
            ]
        },
    )
    vpc_dns(aws, "vpc-0abc1234def567890")
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vpc_blocks(aws, "vpc-0abc1234def567890", "10.0.0.0/16")
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=outside)
    aws.assert_done()
    expected = "two availability zones; the tag kubernetes.io/role/internal-elb=1 finds only us-east-1a"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        report.raise_for_failures()


def outside(address: str) -> str:
    """This machine's route toward the VPC: from a home network, outside it and anything it routes to."""
    return "192.168.1.20"


def existing_vpc_subnets(aws: StubbedAws) -> None:
    aws.stub("ec2").add_response(
        "describe_subnets",
        {
            "Subnets": [
                {
                    "SubnetId": f"subnet-0aaa1111bbbb222{i}",
                    "VpcId": "vpc-0abc1234def567890",
                    "AvailabilityZone": zone,
                    "AvailabilityZoneId": zone_id,
                }
                for i, (zone, zone_id) in enumerate([("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2")])
            ]
        },
        None,
    )


def test_an_existing_vpc_without_dns_hostnames_fails_the_gate(home: Home) -> None:
    """Amazon EKS User Guide, cluster-endpoint.html: private endpoint access needs the VPC's enableDnsHostnames
    and enableDnsSupport on; EC2 API DescribeVpcAttribute (botocore's model checks the names and shapes here)."""
    aws = StubbedAws()
    identity_ok(aws)
    cluster_version_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    existing_vpc_subnets(aws)
    vpc_dns(aws, "vpc-0abc1234def567890", hostnames=False)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vpc_blocks(aws, "vpc-0abc1234def567890", "10.0.0.0/16")
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    config = aws_config(vpc_id="vpc-0abc1234def567890", public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=outside)
    aws.assert_done()
    with pytest.raises(ConfigError) as failed:
        report.raise_for_failures()
    assert (
        "vpc-0abc1234def567890 has enableDnsHostnames off, so nodes cannot resolve the private API endpoint"
        in failed.value.message
    )
    assert "aws ec2 modify-vpc-attribute --vpc-id vpc-0abc1234def567890 --enable-dns-hostnames" in failed.value.message
    assert "\n" not in failed.value.message


def test_a_private_endpoint_is_a_warning_that_up_must_run_inside_the_vpc(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    cluster_version_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    config = aws_config(vpc_id="vpc-0abc1234def567890", endpoint_access="private")
    existing_vpc_subnets(aws)
    vpc_dns(aws, "vpc-0abc1234def567890")
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vpc_blocks(aws, "vpc-0abc1234def567890", "10.0.0.0/16")
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    report = run_preflight(
        config, DEMAND, clients=aws, home=home, fetch_egress_ip=no_lookup, locate_address=lambda _: "10.0.7.12"
    )
    aws.assert_done()
    assert {c.name: c.status for c in report.checks}["subnets"] == "ok"
    endpoint = next(c for c in report.checks if c.name == "api endpoint")
    assert endpoint.status == "warn"
    assert "'up' must run inside vpc-0abc1234def567890" in endpoint.detail
    assert "this machine (10.0.7.12) is inside vpc-0abc1234def567890" in endpoint.detail
    assert report.deployer_cidrs == []
    assert report.private_cidrs == ["10.0.7.12/32"]


def no_lookup(url: str) -> str:
    raise AssertionError(f"no egress-IP lookup expected, got {url}")


# --- the gate's new checks: AMI parameters and endpoint access -------------------------------------------------


def test_the_default_endpoint_admits_only_the_deployers_detected_address(home: Home) -> None:
    """The egress-IP lookup's HTTP call is the seam (no network here); what it returns is what 'up' deploys."""
    aws = StubbedAws()
    all_good(aws)
    asked: list[str] = []

    def checkip(url: str) -> str:
        asked.append(url)
        return "198.51.100.23\n"  # checkip.amazonaws.com answers with the address and a newline

    report = run_preflight(aws_config(), DEMAND, clients=aws, home=home, fetch_egress_ip=checkip)
    aws.assert_done()
    assert asked == ["https://checkip.amazonaws.com"]
    assert report.deployer_cidrs == ["198.51.100.23/32"]
    endpoint = next(c for c in report.checks if c.name == "api endpoint")
    assert endpoint.status == "ok" and "198.51.100.23/32" in endpoint.detail
    report.raise_for_failures()


def test_an_undetectable_egress_address_fails_the_gate_with_the_setting_to_use(home: Home) -> None:
    aws = StubbedAws()
    all_good(aws)

    def offline(url: str) -> str:
        raise OSError("Network is unreachable")

    report = run_preflight(aws_config(), DEMAND, clients=aws, home=home, fetch_egress_ip=offline)
    with pytest.raises(OperationError) as failed:
        report.raise_for_failures()
    assert failed.value.message == (
        "cannot detect this machine's public IP from https://checkip.amazonaws.com (OSError); "
        "set aws.public_access_cidrs to your IP/32"
    )


def test_the_ami_check_reads_the_parameters_karpenter_resolves_for_both_pools(home: Home) -> None:
    """Expected names: aws/karpenter-provider-aws v1.14.1 pkg/providers/amifamily/bottlerocket.go (the alias's
    version without its 'v'; '-nvidia' for the GPU variant; x86_64)."""
    aws = StubbedAws()
    all_good(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    ami = next(c for c in report.checks if c.name == "ami parameters")
    assert ami.status == "ok"
    from inferctl.aws.amis import pool_images

    assert {(i.pool, i.parameter) for i in pool_images(CONFIG)} == {
        ("gpu", "/aws/service/bottlerocket/aws-k8s-1.36-nvidia/x86_64/1.68.0/image_id"),
        ("cpu", "/aws/service/bottlerocket/aws-k8s-1.36/x86_64/1.68.0/image_id"),
    }


def test_an_alias_without_the_clusters_variant_fails_the_gate(home: Home) -> None:
    """A version the packaged table cannot judge (1.33: first release unknown to our sources) is proven by SSM."""
    config = aws_config(cluster_version="1.33", public_access_cidrs=["203.0.113.7/32"])
    config = config.model_copy(deep=True)
    config.pools.gpu.ami_alias = "bottlerocket@v1.30.0"
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws, "1.33")
    gpu_parameter = "/aws/service/bottlerocket/aws-k8s-1.33-nvidia/x86_64/1.30.0/image_id"
    amis_ok(aws, config, missing=(gpu_parameter,))
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    report = run_preflight(config, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert [c.name for c in report.failures] == ["ami parameters"]
    with pytest.raises(ConfigError) as failed:
        report.raise_for_failures()
    assert failed.value.message.startswith(
        f"no AMI for Kubernetes 1.33 in us-east-1: pools.gpu.ami_alias bottlerocket@v1.30.0 ({gpu_parameter})"
    )
    assert "\n" not in failed.value.message


# --- the pulumi CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def bare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    return Home(tmp_path / "home")


def no_network(root: Path) -> None:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_pulumi_absent_without_consent_says_how_to_install_and_downloads_nothing(bare_home: Home) -> None:
    called: list[Path] = []
    with pytest.raises(MissingDependencyError) as failed:
        ensure_pulumi(bare_home, assume_yes=False, confirm=lambda _: False, installer=called.append)
    assert called == []
    assert failed.value.message == (
        "the pulumi CLI is not on PATH; install the pulumi CLI: 'curl -fsSL https://get.pulumi.com | sh' "
        "(or 'brew install pulumi/tap/pulumi'), then re-run (or re-run with --yes)"
    )


def test_pulumi_download_without_network_fails_with_the_manual_install_line(bare_home: Home) -> None:
    with pytest.raises(MissingDependencyError) as failed:
        ensure_pulumi(bare_home, assume_yes=True, confirm=None, installer=no_network)
    message = failed.value.message
    assert message.startswith("could not download the pulumi CLI (<urlopen error [Errno -3]")
    assert "curl -fsSL https://get.pulumi.com | sh" in message
    assert failed.value.exit_code == 2


def test_pulumi_is_installed_into_the_inferctl_home_with_consent(bare_home: Home) -> None:
    assert find_pulumi(bare_home) is None

    def download(root: Path) -> None:
        install_fake_pulumi(root.parent)

    path = ensure_pulumi(bare_home, assume_yes=False, confirm=lambda _: True, installer=download)
    assert path == bare_home.root / "pulumi" / "bin" / "pulumi"


def test_pulumi_absent_is_a_preflight_failure(bare_home: Home, isolated_aws: None) -> None:
    aws = StubbedAws()
    all_good(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=bare_home, pulumi_installer=no_network, assume_yes=True)
    with pytest.raises(MissingDependencyError, match="could not download the pulumi CLI"):
        report.raise_for_failures()


def test_quota_classes_follow_the_instance_family_letters() -> None:
    assert quota_class("g5.xlarge").name == "G and VT"  # type: ignore[union-attr]
    assert quota_class("vt1.3xlarge").name == "G and VT"  # type: ignore[union-attr]
    assert quota_class("p4d.24xlarge").name == "P"  # type: ignore[union-attr]
    assert quota_class("m5.xlarge").name == "Standard"  # type: ignore[union-attr]
    assert quota_class("inf2.xlarge") is None


def test_a_refused_describe_call_is_its_checks_failure_line_not_a_traceback(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    aws.stub("ec2").add_client_error(
        "describe_instance_type_offerings", "UnauthorizedOperation", "You are not authorized", 403
    )
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()  # the other checks still ran
    assert [c.name for c in report.failures] == ["instance types"]
    with pytest.raises(UserError) as failed:
        report.raise_for_failures()
    assert failed.value.message == (
        "AWS refused ec2:DescribeInstanceTypeOfferings (UnauthorizedOperation); allow it for your identity "
        "('up' needs it too) and re-run"
    )
    assert failed.value.exit_code == 2


def test_a_subnet_id_that_does_not_exist_names_the_setting(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    cluster_version_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    aws.stub("ec2").add_client_error("describe_subnets", "InvalidSubnetID.NotFound", "no such subnet", 400)
    vpc_dns(aws, "vpc-0123456789abcdef0")
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vpc_blocks(aws, "vpc-0123456789abcdef0", "10.0.0.0/16")
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    config = aws_config(
        vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        public_access_cidrs=["203.0.113.7/32"],
    )
    report = run_preflight(config, DEMAND, clients=aws, home=home, locate_address=outside)
    with pytest.raises(ConfigError, match=r"a subnet of aws\.private_subnet_ids does not exist"):
        report.raise_for_failures()


def test_an_aws_outage_while_reading_quotas_is_an_operation_error(home: Home) -> None:
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    aws.stub("service-quotas").add_client_error("get_service_quota", "ServiceException", "try again", 500)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    with pytest.raises(OperationError) as failed:
        report.raise_for_failures()
    assert failed.value.message == "servicequotas:GetServiceQuota failed (ServiceException); re-run in a moment"
    assert failed.value.exit_code == 1


def test_a_control_plane_log_group_left_by_an_earlier_cluster_fails_the_gate(home: Home) -> None:
    """EKS creates /aws/eks/<cluster>/cluster itself and it outlives the cluster; the program now creates it, which
    would fail with ResourceAlreadyExistsException after the VPC is built. Tags: none of inferctl's."""
    aws = StubbedAws()
    identity_ok(aws)
    new_vpc_ok(aws)
    amis_ok(aws)
    name = "/aws/eks/workshop/cluster"
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{name}"
    logs = aws.stub("logs")
    logs.add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": name, "arn": arn + ":*", "logGroupArn": arn}]},
        {"logGroupNamePrefix": name},
    )
    logs.add_response("list_tags_for_resource", {"tags": {}}, {"resourceArn": arn})
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    vcpu_quotas_ok(aws)
    spot_role_exists(aws)
    report = run_preflight(CONFIG, DEMAND, clients=aws, home=home)
    aws.assert_done()
    assert [c.name for c in report.failures] == ["log group"]
    with pytest.raises(
        ConfigError, match=re.escape(f"aws logs delete-log-group --region us-east-1 --log-group-name {name}")
    ):
        report.raise_for_failures()
