"""``inferctl plan --target aws --offline``: the Pulumi program run under Pulumi's own mocks.

Nothing leaves the machine: the mocks answer the program's data lookups (account, zones, add-on versions, the
ECR Public token, subnets' tags) with placeholders and record every resource the program registers. The result is what
``up`` would create, as data: type, logical name and key properties of each resource.
"""

from __future__ import annotations

import base64
import contextvars
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from inferctl.config.models import PlatformConfig

OFFLINE_ACCOUNT = "123456789012"
RESOLVED_AT_UP = "resolved-at-up"
# Pulumi's wire encoding of a secret inside the mocks' inputs: {SIG_KEY: SECRET_SIG, "value": ...}.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_REDACT = frozenset({"password", "token", "authorizationtoken", "secret", "kubeconfig"})  # exact keys

# Type token -> the input properties worth showing (others are noise in a plan). Unlisted types show all inputs.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "pulumi:providers:aws": ("region", "defaultTags"),
    "pulumi:providers:kubernetes": ("enableServerSideApply",),
    "aws:eks/cluster:Cluster": (
        "name",
        "version",
        "vpcConfig",
        "accessConfig",
        "enabledClusterLogTypes",
        "upgradePolicy",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "nodeGroupName",
        "instanceTypes",
        "scalingConfig",
        "capacityType",
        "amiType",
        "diskSize",
    ),
    "aws:eks/addon:Addon": ("addonName", "addonVersion", "configurationValues"),
    "aws:eks/accessEntry:AccessEntry": ("principalArn", "type"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("principalArn", "policyArn", "accessScope"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("namespace", "serviceAccount", "roleArn"),
    "aws:iam/role:Role": ("name", "assumeRolePolicy"),
    "aws:iam/policy:Policy": ("name", "policy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:sqs/queue:Queue": ("name", "messageRetentionSeconds", "sqsManagedSseEnabled"),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:cloudwatch/eventRule:EventRule": ("name", "eventPattern"),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule", "arn", "targetId"),
    "aws:ec2/tag:Tag": ("resourceId", "key", "value"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "securityGroupId",
        "cidrIpv4",
        "ipProtocol",
        "fromPort",
        "toPort",
    ),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "cidrBlock", "mapPublicIpOnLaunch", "tags"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "kubernetes:helm.sh/v3:Release": ("name", "chart", "version", "namespace", "values"),
}


@dataclass
class RecordedResource:
    """One registered resource. ``inputs`` shows secrets' values (for tests); ``raw`` keeps them marked."""

    type: str
    name: str
    raw: dict[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        revealed: dict[str, Any] = _reveal(self.raw)
        return revealed


@dataclass
class RecordingMocks(Mocks):
    """Pulumi mocks that record each registered resource and answer lookups with placeholders."""

    config: PlatformConfig
    subnet_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # existing subnets' tags, by id
    # The region's zones as (name, zone ID), in the order EC2 lists them; None: placeholders (an account's
    # mapping of names to IDs is known only at up).
    zones: list[tuple[str, str]] | None = None
    resources: list[RecordedResource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(RecordedResource(args.typ, args.name, _whole_numbers(dict(args.inputs))))
        return f"{args.name}-id", {**args.inputs, **self._computed(args.typ, args.name, args.inputs)}

    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        region = self.config.aws.region
        token = args.token
        self.calls.append((token, _whole_numbers(dict(args.args))))
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:sts::{OFFLINE_ACCOUNT}:assumed-role/deployer/offline"
            return {"accountId": OFFLINE_ACCOUNT, "arn": arn, "userId": "offline", "id": OFFLINE_ACCOUNT}
        if token == "aws:iam/getRole:getRole":
            return self.role(str(args.args["name"]))
        if token == "aws:index/getPartition:getPartition":
            return {"partition": partition_of(region), "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = self.zones or [(f"{region}{letter}", f"offline-az{i}") for i, letter in enumerate("abc", 1)]
            return {"names": [n for n, _ in zones], "zoneIds": [z for _, z in zones], "id": region}
        if token == "aws:ec2/getSubnets:getSubnets":
            return {"ids": [f"subnet-0ff11e000000000{i}" for i in range(1, 4)], "id": region}
        if token == "aws:ec2/getSubnet:getSubnet":
            subnet_id = str(args.args["id"])
            return {"id": subnet_id, "tags": self.subnet_tags.get(subnet_id, {})}
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            return {"version": RESOLVED_AT_UP, "addonName": args.args.get("addonName"), "id": "addon"}
        if token == "aws:ecrpublic/getAuthorizationToken:getAuthorizationToken":
            # Like ECR Public, a new token on every call: a program using one would change its inputs each run.
            fresh = secrets.token_urlsafe(16)
            return {"userName": "AWS", "password": fresh, "authorizationToken": fresh, "id": "ecr"}
        raise LookupError(f"the offline plan has no placeholder for the lookup {token} (a bug: add one here)")

    def role(self, name: str) -> dict[str, Any]:
        """The placeholder answer of IAM GetRole (the deployer's role, looked up for its full ARN)."""
        return {"arn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{name}", "name": name, "id": name}

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        region = self.config.aws.region
        physical = inputs.get("name") or name
        if typ == "aws:iam/role:Role":
            return {"arn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{physical}", "name": physical}
        if typ == "aws:iam/policy:Policy":
            return {"arn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:policy/{physical}"}
        if typ == "aws:sqs/queue:Queue":
            return {
                "arn": f"arn:aws:sqs:{region}:{OFFLINE_ACCOUNT}:{physical}",
                "url": f"https://sqs.{region}.amazonaws.com/{OFFLINE_ACCOUNT}/{physical}",
                "name": physical,
            }
        if typ == "aws:eks/cluster:Cluster":
            vpc = {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": "sg-0ff11e0000000000c"}
            return {
                "endpoint": f"https://OFFLINE.gr7.{region}.eks.amazonaws.com",
                "certificateAuthority": {"data": base64.b64encode(b"offline").decode()},
                "vpcConfig": vpc,
                "arn": f"arn:aws:eks:{region}:{OFFLINE_ACCOUNT}:cluster/{physical}",
            }
        if typ == "aws:s3/bucket:Bucket":  # a generated name at up: <prefix><26 characters>
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', '')}offline"
            return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            return {"arn": f"arn:aws:events:{region}:{OFFLINE_ACCOUNT}:rule/{physical}"}
        return {}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class ProgramRun:
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]]  # the data lookups (invokes) the program made, with their arguments


def record_program(
    config: PlatformConfig,
    mocks: RecordingMocks | None = None,
    *,
    endpoint_probe: Callable[[str], Awaitable[None]] | None = None,
) -> ProgramRun:
    """Run the program under mocks: every registered resource with its full inputs, the outputs, the lookups.

    The deployer's egress address (detected at ``up``) is a placeholder here. Runs in a copy of the current
    context: Pulumi keeps its runtime settings in context variables, so the mocks never leak into a later real
    deployment in the same process.
    """
    from inferctl.aws.endpoint_access import DEPLOYER_CIDR_PLACEHOLDER, with_public_cidrs
    from inferctl.aws.program import build_platform

    config = with_public_cidrs(config, [DEPLOYER_CIDR_PLACEHOLDER])
    mocks = mocks or RecordingMocks(config)
    outputs: dict[str, Any] = {}

    def run() -> None:
        pulumi.runtime.set_mocks(mocks, project="inferctl", stack=config.name, preview=False)

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def program() -> pulumi.Output[Any]:
            built = build_platform(config, endpoint_probe=endpoint_probe)
            values = {key: pulumi.Output.from_input(value) for key, value in built.items()}
            return pulumi.Output.all(**values).apply(outputs.update)

        program()

    contextvars.copy_context().run(run)
    return ProgramRun(mocks.resources, _whole_numbers(outputs), mocks.calls)


def offline_plan(config: PlatformConfig) -> dict[str, Any]:
    """Every resource ``up --target aws`` would create (type, name, key properties), as JSON-able data."""
    result = record_program(config)
    resources, outputs = result.resources, result.outputs
    # Sorted: the engine registers resources concurrently, so their order differs from run to run.
    listed = [
        {"type": r.type, "name": r.name, "properties": _redact(key_properties(r.type, r.raw))}
        for r in sorted(resources, key=lambda r: (r.type, r.name))
    ]
    return {
        "target": "aws",
        "platform": config.name,
        "cluster": config.cluster_name,
        "region": config.aws.region,
        "offline": True,
        "components": components(resources),
        "summary": {"resources": len(resources), "by_type": dict(sorted(Counter(r.type for r in resources).items()))},
        "resources": listed,
        "notes": _notes(config),
        "endpoint_access": endpoint_access(config),
        "outputs": {k: v for k, v in outputs.items() if k != "kubeconfig"},
    }


def key_properties(typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
    keys = KEY_PROPERTIES.get(typ)
    if keys is None:
        return {k: v for k, v in inputs.items() if k not in {"tags", "tagsAll"}}
    return {k: inputs[k] for k in keys if k in inputs}


def components(resources: list[RecordedResource]) -> dict[str, Any]:
    """The workshop's parts, found among the resources: a reader's summary above the full list."""

    def of(typ: str) -> list[dict[str, Any]]:
        return [r.inputs for r in resources if r.type == typ]

    clusters = of("aws:eks/cluster:Cluster")
    groups = of("aws:eks/nodeGroup:NodeGroup")
    releases = {r["name"]: r for r in of("kubernetes:helm.sh/v3:Release")}
    queues = of("aws:sqs/queue:Queue")
    custom = [r.inputs for r in resources if r.type.startswith("kubernetes:karpenter.")]
    return {
        "cluster": {"name": clusters[0].get("name"), "version": clusters[0].get("version")} if clusters else None,
        "system_nodes": [
            {
                "name": g.get("nodeGroupName"),
                "instance_types": g.get("instanceTypes"),
                "desired": g.get("scalingConfig", {}).get("desiredSize"),
            }
            for g in groups
        ],
        "addons": sorted(a["addonName"] for a in of("aws:eks/addon:Addon")),
        "karpenter": {
            "chart": releases.get("karpenter", {}).get("chart"),
            "version": releases.get("karpenter", {}).get("version"),
            "interruption_queue": queues[0].get("name") if queues else None,
            "rules": sorted(rule["name"] for rule in of("aws:cloudwatch/eventRule:EventRule")),
        },
        "node_classes": sorted(c["metadata"]["name"] for c in custom if c.get("kind") == "EC2NodeClass"),
        "node_pools": sorted(c["metadata"]["name"] for c in custom if c.get("kind") == "NodePool"),
        "model_cache": _model_cache_summary(resources),
        "load_balancer_controller": {
            "chart": releases.get("aws-load-balancer-controller", {}).get("chart"),
            "version": releases.get("aws-load-balancer-controller", {}).get("version"),
        },
        "autoscaling": {
            name: {"chart": releases[name].get("chart"), "version": releases[name].get("version")}
            for name in ("keda", "http-add-on", "prometheus")
            if name in releases
        },
    }


def endpoint_access(config: PlatformConfig) -> dict[str, Any]:
    """Who reaches the API endpoint: the mode, the public blocks (the deployer's /32 when none are set) and the
    blocks admitted to the private endpoint (in an existing VPC: the deployer's /32 when 'up' runs inside it)."""
    from inferctl.aws.endpoint_access import DEPLOYER_CIDR_PLACEHOLDER, DEPLOYER_PRIVATE_PLACEHOLDER, is_public

    public = is_public(config)
    cidrs = list(config.aws.public_access_cidrs) or ([DEPLOYER_CIDR_PLACEHOLDER] if public else [])
    private = list(config.aws.private_access_cidrs) or ([DEPLOYER_PRIVATE_PLACEHOLDER] if config.aws.vpc_id else [])
    return {
        "mode": config.aws.endpoint_access,
        "public_access_cidrs": cidrs,
        "private": True,
        "private_access_cidrs": private,
    }


def _model_cache_summary(resources: list[RecordedResource]) -> dict[str, Any] | None:
    buckets = [r for r in resources if r.type == "aws:s3/bucket:Bucket"]
    if not buckets:
        return None
    bucket = buckets[0].inputs
    return {
        "bucket": bucket.get("bucket") or f"{bucket.get('bucketPrefix')}<generated>",
        "destroyed_with_platform": bool(bucket.get("forceDestroy")),
        "pod_identity": sorted(
            f"{r.inputs.get('namespace')}/{r.inputs.get('serviceAccount')}"
            for r in resources
            if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation" and r.name.startswith("model-cache")
        ),
    }


def _notes(config: PlatformConfig) -> list[str]:
    notes = [
        f"account {OFFLINE_ACCOUNT} and the deployer's ARN are placeholders; 'up' uses your credentials' account",
    ]
    if any(getattr(config.aws.addons, f) is None for f in type(config.aws.addons).model_fields):
        notes.append(f"add-on versions shown as {RESOLVED_AT_UP!r} are EKS's defaults for the cluster version")
    if config.aws.vpc_id and not config.aws.private_subnet_ids:
        notes.append(f"subnet ids are placeholders: 'up' finds the subnets of {config.aws.vpc_id} by tag")
    if not config.aws.vpc_id:
        notes.append(
            f"zones are placeholders: 'up' takes the first {config.aws.availability_zones} zones of "
            f"{config.aws.region} whose zone IDs EKS accepts in your account"
        )
    from inferctl.aws.endpoint_access import access_summary

    notes.append(f"API endpoint: {access_summary(config)}")
    return notes


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _reveal(value: Any) -> Any:
    if _is_secret(value):
        return _reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def _whole_numbers(value: Any) -> Any:
    """Pulumi's wire format turns every number into a float; show 2 as 2, not 2.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _redact(value: Any) -> Any:
    """Secrets and credential-like keys become placeholders (the offline plan's are fake, but the rule holds)."""
    if _is_secret(value):
        return "(secret)"
    if isinstance(value, dict):
        return {k: "(redacted)" if k.lower() in _REDACT else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
