"""Checks before anything is created on AWS, each failure one line that names the fix.

Credentials (STS), the network (:mod:`inferctl.aws.preflight_network`: an existing VPC's subnets and DNS, or a
new VPC's zones and VPC and Elastic IP quotas), the cluster version EKS offers in the region, the region's offer
of the planned instance types, the EC2 vCPU quotas (on-demand and spot) against the plan at its most replicas,
the SSM parameters Karpenter resolves both pools' AMI aliases through, the EC2 Spot service-linked role (created
after confirmation), who will reach the API endpoint (the deployer's egress IP, detected; inside an existing
VPC, its private address), and the pulumi CLI (installed into the inferctl home after confirmation).
``up --target aws`` runs them all first and creates nothing when one fails. The AWS clients come from a factory,
so tests hand in botocore clients with a Stubber attached.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from inferctl.aws.endpoint_access import Fetch, Locate
from inferctl.aws.stack import Confirm, Installer, ensure_pulumi, install_pulumi
from inferctl.aws_sdk import NO_CREDENTIALS
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError, InferctlError, MissingDependencyError, OperationError, PlanError, UserError
from inferctl.home import Home
from inferctl.progress import NullReporter, Reporter
from inferctl.sizing.placement import Placement

ClientFactory = Callable[[str], Any]
Status = Literal["ok", "warn", "fail", "fixed", "skipped"]

SPOT_ROLE = "AWSServiceRoleForEC2Spot"
SPOT_SERVICE = "spot.amazonaws.com"
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


@dataclass(frozen=True)
class QuotaClass:
    """An EC2 vCPU quota family: the instance families it counts, its on-demand and spot quota codes."""

    name: str
    prefixes: frozenset[str]
    on_demand: str
    spot: str


QUOTA_CLASSES = (
    QuotaClass("G and VT", frozenset({"g", "vt"}), on_demand="L-DB2E81BA", spot="L-3819A6DF"),
    QuotaClass("P", frozenset({"p"}), on_demand="L-417A185B", spot="L-7212CCBC"),
    QuotaClass("Standard", frozenset("acdhimrtz"), on_demand="L-1216C47A", spot="L-34B43A08"),
)


def quota_class(instance_type: str) -> QuotaClass | None:
    letters = re.match(r"[a-z]+", instance_type)
    prefix = letters.group(0) if letters else ""
    return next((q for q in QUOTA_CLASSES if prefix in q.prefixes), None)


@dataclass(frozen=True)
class InstanceDemand:
    """``count`` instances of one type, launchable as any of ``capacity_types``."""

    instance_type: str
    vcpus: int
    count: int
    capacity_types: tuple[str, ...]
    purpose: str


def instance_demand(config: PlatformConfig, placements: Mapping[str, Placement]) -> list[InstanceDemand]:
    """What the plan launches at most: each model's instances at its most replicas (``autoscaling.max_replicas``
    when it follows load: the quota must cover the scale-up, not only the first pod) plus the system node group."""
    from inferctl.catalog import get_instance

    demand = []
    gpu_families = set(config.pools.gpu.instance_families)
    for name, placement in placements.items():
        instance = get_instance(placement.instance_type)
        pool = config.pools.gpu if instance.family in gpu_families else config.pools.cpu
        replicas = config.model(name).most_replicas
        demand.append(
            InstanceDemand(instance.name, instance.vcpu, replicas, tuple(pool.capacity_types), f"model {name}")
        )
    from inferctl.sizing.system_nodes import system_instance_types

    nodes = config.aws.system_nodes
    system = get_instance(system_instance_types(config)[0])
    demand.append(InstanceDemand(system.name, system.vcpu, nodes.desired_size, ("on-demand",), "system nodes"))
    return demand


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    error: type[InferctlError] | None = field(default=None, repr=False)


@dataclass
class PreflightReport:
    checks: list[Check] = field(default_factory=list)
    # The deployer's egress /32 the endpoint check detected (when aws.public_access_cidrs is empty): 'up' deploys it.
    deployer_cidrs: list[str] = field(default_factory=list)
    # The blocks the private endpoint admits (the deployer's /32 inside an existing VPC when
    # aws.private_access_cidrs is empty): 'up' deploys them.
    private_cidrs: list[str] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str, error: type[InferctlError] | None = None) -> None:
        self.checks.append(Check(name, status, detail, error if status == "fail" else None))

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        checks = [{k: v for k, v in asdict(c).items() if k != "error"} for c in self.checks]
        return {"ok": not self.failures, "checks": checks}

    def raise_for_failures(self) -> None:
        """The first failure as its own error (exit 2); the others follow as detail lines."""
        if self.failures:
            first, *rest = self.failures
            raise (first.error or UserError)(first.detail, details=[c.detail for c in rest])


def run_preflight(
    config: PlatformConfig,
    demand: list[InstanceDemand],
    *,
    clients: ClientFactory,
    home: Home,
    assume_yes: bool = False,
    confirm: Confirm | None = None,
    reporter: Reporter | None = None,
    pulumi_installer: Installer = install_pulumi,
    fetch_egress_ip: Fetch | None = None,
    locate_address: Locate | None = None,
) -> PreflightReport:
    """Run every check; a failed check does not stop the others (except credentials, which all AWS calls need).
    ``fetch_egress_ip`` and ``locate_address``: this machine's public and private address (tests: fakes)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    from inferctl.aws import preflight_network as network

    reporter = reporter or NullReporter()
    report = PreflightReport()
    region = config.aws.region
    reporter.phase("preflight", "AWS credentials")
    try:
        identity = clients("sts").get_caller_identity()
        report.add("credentials", "ok", f"{identity['Arn']} (account {identity['Account']})")
        aws_ok = True
    except (NoCredentialsError, PartialCredentialsError):
        report.add("credentials", "fail", NO_CREDENTIALS, ConfigError)
        aws_ok = False
    except ClientError as exc:
        code = error_code(exc)
        report.add(
            "credentials",
            "fail",
            f"AWS rejected the credentials ({code}); refresh them ('aws sso login' or new keys) and re-run",
            ConfigError,
        )
        aws_ok = False
    except BotoCoreError as exc:
        report.add(
            "credentials",
            "fail",
            f"cannot get an identity from AWS STS in {region} ({exc}); check the credentials and the network",
            ConfigError,
        )
        aws_ok = False
    if aws_ok:
        reporter.phase("preflight", "network, instance types, quotas")
        ec2 = clients("ec2")
        if config.aws.vpc_id:
            _guarded(report, "subnets", "ec2:DescribeSubnets", lambda: network.check_subnets(config, ec2, report))
            _guarded(report, "vpc dns", "ec2:DescribeVpcAttribute", lambda: network.check_vpc_dns(config, ec2, report))
        else:
            zones = "ec2:DescribeAvailabilityZones"
            _guarded(report, "zones", zones, lambda: network.check_new_vpc_zones(config, ec2, report))
            _guarded(
                report,
                "vpc quotas",
                "servicequotas:GetServiceQuota, ec2:DescribeVpcs, ec2:DescribeAddresses",
                lambda: network.check_new_vpc_quotas(config, clients("service-quotas"), ec2, report),
            )
        _guarded(
            report,
            "cluster version",
            "eks:DescribeClusterVersions",
            lambda: _check_cluster_version(config, clients("eks"), report),
        )
        _guarded(
            report,
            "instance types",
            "ec2:DescribeInstanceTypeOfferings",
            lambda: _check_offerings(region, demand, clients("ec2"), report),
        )
        _guarded(
            report,
            "quotas",
            "servicequotas:GetServiceQuota",
            lambda: _check_quotas(region, demand, clients("service-quotas"), report),
        )
        if config.aws.control_plane_logs:
            _guarded(
                report,
                "log group",
                "logs:DescribeLogGroups",
                lambda: _check_log_group(config, clients("logs"), report),
            )
        reporter.phase("preflight", "AMI parameters")
        _guarded(report, "ami parameters", "ssm:GetParameters", lambda: _check_amis(config, clients("ssm"), report))
        if _uses_spot(config):
            reporter.phase("preflight", "EC2 Spot service-linked role")
            _guarded(
                report,
                "spot role",
                "iam:GetRole",
                lambda: _check_spot_role(clients("iam"), report, assume_yes=assume_yes, confirm=confirm),
            )
    if aws_ok:  # without credentials nothing can be deployed: no need to ask who this machine is
        reporter.phase("preflight", "API endpoint access")
        _guarded(
            report,
            "api endpoint",
            "ec2:DescribeVpcs",
            lambda: network.check_endpoint_access(
                config, report, fetch_egress_ip, ec2=clients("ec2"), locate=locate_address
            ),
        )
    reporter.phase("preflight", "pulumi CLI")
    try:
        path = ensure_pulumi(home, assume_yes=assume_yes, confirm=confirm, installer=pulumi_installer)
        report.add("pulumi", "ok", str(path))
    except MissingDependencyError as exc:
        report.add("pulumi", "fail", exc.message, MissingDependencyError)
    return report


def _guarded(report: PreflightReport, name: str, action: str, check: Callable[[], None]) -> None:
    """Run one check; an AWS error it did not expect becomes its failure line instead of a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        check()
    except ClientError as exc:
        code = error_code(exc)
        if code in DENIED_CODES:
            detail = f"AWS refused {action} ({code}); allow it for your identity ('up' needs it too) and re-run"
            report.add(name, "fail", detail, UserError)
        elif code == "InvalidSubnetID.NotFound":
            report.add(name, "fail", f"a subnet of aws.private_subnet_ids does not exist ({code}); fix it", ConfigError)
        else:
            report.add(name, "fail", f"{action} failed ({code}); re-run in a moment", OperationError)
    except BotoCoreError as exc:
        report.add(name, "fail", f"cannot reach AWS for {action} ({exc}); check the network and re-run", OperationError)


def pulumi_path_from(report: PreflightReport) -> Path | None:
    check = next((c for c in report.checks if c.name == "pulumi" and c.status == "ok"), None)
    return Path(check.detail) if check else None


def _uses_spot(config: PlatformConfig) -> bool:
    return "spot" in config.pools.gpu.capacity_types or "spot" in config.pools.cpu.capacity_types


def _check_log_group(config: PlatformConfig, logs: Any, report: PreflightReport) -> None:
    """The program creates the control-plane log group; one EKS left behind from an earlier cluster of the same
    name (it survives the cluster) would make that creation fail after the VPC is already built."""
    from inferctl.aws.context import PLATFORM_TAG
    from inferctl.aws.eks import control_plane_log_group_name

    name = control_plane_log_group_name(config.cluster_name)
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == name), None)
    if group is None:
        report.add(
            "log group",
            "ok",
            f"{name} will be created with a {config.aws.control_plane_log_retention_days}-day retention",
        )
        return
    arn = group.get("logGroupArn") or str(group.get("arn", "")).removesuffix(":*")
    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
    if tags.get(PLATFORM_TAG) == config.name:
        report.add("log group", "ok", f"{name} is this platform's")
        return
    report.add(
        "log group",
        "fail",
        f"{name} already exists (left by an earlier cluster named {config.cluster_name}); delete it with "
        f"'aws logs delete-log-group --region {config.aws.region} --log-group-name {name}' or set "
        "aws.control_plane_logs: []",
        ConfigError,
    )


def _check_cluster_version(config: PlatformConfig, eks: Any, report: PreflightReport) -> None:
    """EKS DescribeClusterVersions (botocore 1.44.18's eks model: the ``clusterVersions`` filter, answers with
    ``clusterVersion``, ``versionStatus`` UNSUPPORTED | STANDARD_SUPPORT | EXTENDED_SUPPORT and
    ``endOfStandardSupportDate``): a version the region does not offer fails CreateCluster after the VPC bills."""
    from botocore.exceptions import ClientError

    version, region = config.aws.cluster_version, config.aws.region
    try:
        listed = eks.describe_cluster_versions(clusterVersions=[version])["clusterVersions"]
    except ClientError as exc:
        if error_code(exc) not in DENIED_CODES:
            raise
        detail = f"cannot read the versions EKS offers ({error_code(exc)}); Kubernetes {version} is unchecked"
        report.add("cluster version", "warn", detail)
        return
    found = next((v for v in listed if v.get("clusterVersion") == version), None)
    status = str(found.get("versionStatus", "")) if found else "UNSUPPORTED"
    if status == "UNSUPPORTED":
        offered = sorted(
            {
                str(v["clusterVersion"])
                for page in eks.get_paginator("describe_cluster_versions").paginate()
                for v in page["clusterVersions"]
                if v.get("versionStatus") != "UNSUPPORTED" and v.get("clusterVersion")
            },
            key=lambda v: tuple(int(part) for part in v.split(".") if part.isdigit()),
        )
        report.add(
            "cluster version",
            "fail",
            f"EKS in {region} does not offer Kubernetes {version} (offered: {', '.join(offered) or 'none listed'}); "
            "set aws.cluster_version to one of them",
            ConfigError,
        )
        return
    if status == "EXTENDED_SUPPORT":
        ended = found.get("endOfStandardSupportDate") if found else None
        when = f" on {ended:%Y-%m-%d}" if ended is not None else ""
        report.add(
            "cluster version",
            "warn",
            f"Kubernetes {version} left standard support in {region}{when}; the cluster's upgrade policy is "
            "STANDARD, under which EKS upgrades a cluster at the end of standard support: set "
            "aws.cluster_version to a version in standard support",
        )
        return
    report.add("cluster version", "ok", f"EKS in {region} offers Kubernetes {version} (standard support)")


def _check_amis(config: PlatformConfig, ssm: Any, report: PreflightReport) -> None:
    from inferctl.aws.amis import missing_detail, missing_images

    found, missing = missing_images(config, ssm)
    if missing:
        report.add("ami parameters", "fail", missing_detail(config, missing), ConfigError)
        return
    shown = ", ".join(f"{image.pool}: {image.alias}" for image in found)
    report.add("ami parameters", "ok", f"images for Kubernetes {config.aws.cluster_version} exist ({shown})")


def _check_offerings(region: str, demand: list[InstanceDemand], ec2: Any, report: PreflightReport) -> None:
    wanted = sorted({d.instance_type for d in demand})
    response = ec2.describe_instance_type_offerings(
        LocationType="region", Filters=[{"Name": "instance-type", "Values": wanted}]
    )
    offered = {o["InstanceType"] for o in response["InstanceTypeOfferings"]}
    missing = [t for t in wanted if t not in offered]
    if missing:
        report.add(
            "instance types",
            "fail",
            f"{', '.join(missing)} not offered in {region}; choose another aws.region or another family in "
            "pools.gpu.instance_families (system nodes: aws.system_nodes.instance_types)",
            PlanError,
        )
    else:
        report.add("instance types", "ok", f"{', '.join(wanted)} offered in {region}")


def _check_quotas(region: str, demand: list[InstanceDemand], quotas: Any, report: PreflightReport) -> None:
    for klass in QUOTA_CLASSES:
        items = [d for d in demand if quota_class(d.instance_type) is klass and d.count > 0]
        if not items:
            continue
        need = sum(d.vcpus * d.count for d in items)
        capacity = sorted({c for d in items for c in d.capacity_types})
        what = ", ".join(f"{d.count}x {d.instance_type}" for d in items)
        limits: dict[str, float | None] = {}
        for kind in capacity:
            limits[kind] = service_quota(quotas, klass.on_demand if kind == "on-demand" else klass.spot)
        known = {k: v for k, v in limits.items() if v is not None}
        if not known:
            report.add(f"quota {klass.name}", "warn", "cannot read the vCPU quotas (servicequotas denied); skipped")
            continue
        shown = " / ".join(f"{v:g} {k}" for k, v in known.items())
        if any(v >= need for v in known.values()):
            short = [k for k, v in known.items() if v < need]
            if short:
                report.add(
                    f"quota {klass.name}",
                    "warn",
                    f"{klass.name} vCPU quota is {shown}; the plan needs {need} ({what}): only "
                    f"{', '.join(k for k in known if k not in short)} capacity fits",
                )
            else:
                report.add(f"quota {klass.name}", "ok", f"{shown} vCPUs cover the plan's {need} ({what})")
            continue
        codes = ", ".join(f"{klass.on_demand if k == 'on-demand' else klass.spot} ({k})" for k in known)
        report.add(
            f"quota {klass.name}",
            "fail",
            f"the {klass.name} vCPU quota in {region} is {shown} but the plan needs {need} ({what}); request "
            f"an increase of {codes} at {quotas_url('ec2')} and re-run",
            UserError,
        )


def service_quota(quotas: Any, code: str, service: str = "ec2") -> float | None:
    """A quota's applied value (Service Quotas GetServiceQuota), its AWS default when it was never changed;
    None when Service Quotas is denied."""
    from botocore.exceptions import ClientError

    try:
        return float(quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchResourceException":  # never changed: only the AWS default exists
            default = quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)
            return float(default["Quota"]["Value"])
        if error_code(exc) in DENIED_CODES:
            return None
        raise


def quotas_url(service: str) -> str:
    """The Service Quotas console page of a service's quotas (where an increase is requested)."""
    return f"https://console.aws.amazon.com/servicequotas/home/services/{service}/quotas"


def _check_spot_role(iam: Any, report: PreflightReport, *, assume_yes: bool, confirm: Confirm | None) -> None:
    from botocore.exceptions import ClientError

    try:
        iam.get_role(RoleName=SPOT_ROLE)
        report.add("spot role", "ok", f"{SPOT_ROLE} exists")
        return
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            detail = f"cannot read {SPOT_ROLE} ({error_code(exc)}); spot launches fail without it"
            report.add("spot role", "warn", detail)
            return
    question = f"Karpenter needs the EC2 Spot service-linked role ({SPOT_ROLE}) to launch spot nodes. Create it?"
    if not assume_yes and not (confirm is not None and confirm(question)):
        report.add(
            "spot role",
            "fail",
            f"the EC2 Spot service-linked role {SPOT_ROLE} is missing; re-run with --yes to create it, or run "
            f"'aws iam create-service-linked-role --aws-service-name {SPOT_SERVICE}'",
            UserError,
        )
        return
    try:
        iam.create_service_linked_role(AWSServiceName=SPOT_SERVICE)
    except ClientError as exc:
        report.add(
            "spot role",
            "fail",
            f"could not create {SPOT_ROLE} ({error_code(exc)}); ask an administrator to run "
            f"'aws iam create-service-linked-role --aws-service-name {SPOT_SERVICE}'",
            UserError,
        )
        return
    report.add("spot role", "fixed", f"created {SPOT_ROLE}")


def error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
