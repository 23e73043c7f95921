"""After ``pulumi destroy``: what is still tagged for the cluster and still costs money.

The control-plane log group is the program's (destroy deletes it), but EKS recreates it when a log line arrives
after the deletion, and clusters created before inferctl made it left one behind: it is looked for too.
Karpenter's nodes and the load balancers of LoadBalancer Services are created by controllers, not by Pulumi,
so Pulumi's state never lists them (the workshop's "terraform destroy" pain). The Kubernetes teardown removes
them first; this check proves it, and lists anything left with the command that removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from inferctl.errors import OperationError

ClientFactory = Callable[[str], Any]
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
# EC2 DescribeVolumes status values, less deleting/deleted
VOLUME_LIVE_STATES = ["creating", "available", "in-use", "error"]
LB_CONTROLLER_TAG = "elbv2.k8s.aws/cluster"
DESCRIBE_TAGS_BATCH = 20  # the most resources one elbv2/elb DescribeTags call accepts


@dataclass(frozen=True)
class Leftover:
    kind: str  # "ec2-instance" | "load-balancer" | "classic-load-balancer" | "log-group" | "ebs-volume"
    id: str
    name: str
    delete_command: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def find_leftovers(clients: ClientFactory, cluster_name: str, region: str) -> list[Leftover]:
    """Instances and load balancers still tagged for the cluster; OperationError (one line) when AWS cannot say."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        instances = _instances(clients("ec2"), cluster_name, region)
        return [
            *instances,
            *_load_balancers(clients("elbv2"), cluster_name, region),
            *_classic_load_balancers(clients("elb"), cluster_name, region),
            *_log_groups(clients("logs"), cluster_name, region),
            *_volumes(clients("ec2"), cluster_name, region, skip_attached_to={i.id for i in instances}),
        ]
    except (ClientError, BotoCoreError) as exc:
        reason = exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else str(exc)
        raise OperationError(
            f"could not check for leftovers ({reason}); look in the EC2 console for instances, EBS volumes and "
            f"load balancers tagged kubernetes.io/cluster/{cluster_name} or elbv2.k8s.aws/cluster={cluster_name}, and "
            f"in CloudWatch Logs for /aws/eks/{cluster_name}/, in {region}"
        ) from None


def _cluster_tagged(tags: list[dict[str, str]], cluster_name: str) -> bool:
    for tag in tags:
        if tag["Key"] == f"kubernetes.io/cluster/{cluster_name}":
            return True
        if tag["Key"] in {LB_CONTROLLER_TAG, "eks:eks-cluster-name"} and tag["Value"] == cluster_name:
            return True
    return False


def _cluster_ec2_pages(ec2: Any, operation: str, cluster_name: str, state_filter: str, states: list[str]) -> Any:
    """The pages of an EC2 Describe ``operation`` for what carries the cluster's tag and is in one of ``states``."""
    return ec2.get_paginator(operation).paginate(
        Filters=[
            {"Name": "tag-key", "Values": [f"kubernetes.io/cluster/{cluster_name}"]},
            {"Name": state_filter, "Values": states},
        ]
    )


def _cluster_tagged_descriptions(
    describe_tags: Callable[..., Any], names_param: str, names: list[str], cluster_name: str
) -> Iterator[dict[str, Any]]:
    """The DescribeTags entries (elbv2's or elb's, which take ``names`` as ``names_param``) of the load balancers
    tagged for the cluster, asked a batch at a time."""
    for start in range(0, len(names), DESCRIBE_TAGS_BATCH):
        described = describe_tags(**{names_param: names[start : start + DESCRIBE_TAGS_BATCH]})
        for entry in described["TagDescriptions"]:
            if _cluster_tagged(entry.get("Tags", []), cluster_name):
                yield entry


def _instances(ec2: Any, cluster_name: str, region: str) -> list[Leftover]:
    found = []
    for page in _cluster_ec2_pages(ec2, "describe_instances", cluster_name, "instance-state-name", LIVE_STATES):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                iid = instance["InstanceId"]
                found.append(
                    Leftover(
                        "ec2-instance",
                        iid,
                        f"{instance.get('InstanceType', '?')} {tags.get('Name', '')}".strip(),
                        f"aws ec2 terminate-instances --region {region} --instance-ids {iid}",
                    )
                )
    return found


def _load_balancers(elbv2: Any, cluster_name: str, region: str) -> list[Leftover]:
    balancers = [
        lb for page in elbv2.get_paginator("describe_load_balancers").paginate() for lb in page["LoadBalancers"]
    ]
    by_arn = {lb["LoadBalancerArn"]: lb for lb in balancers}
    found = []
    for entry in _cluster_tagged_descriptions(elbv2.describe_tags, "ResourceArns", list(by_arn), cluster_name):
        arn = entry["ResourceArn"]
        found.append(
            Leftover(
                "load-balancer",
                arn,
                by_arn[arn]["LoadBalancerName"],
                f"aws elbv2 delete-load-balancer --region {region} --load-balancer-arn {arn}",
            )
        )
    return found


def _classic_load_balancers(elb: Any, cluster_name: str, region: str) -> list[Leftover]:
    names = [
        lb["LoadBalancerName"]
        for page in elb.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancerDescriptions"]
    ]
    found = []
    for entry in _cluster_tagged_descriptions(elb.describe_tags, "LoadBalancerNames", names, cluster_name):
        name = entry["LoadBalancerName"]
        found.append(
            Leftover(
                "classic-load-balancer",
                name,
                name,
                f"aws elb delete-load-balancer --region {region} --load-balancer-name {name}",
            )
        )
    return found


def _log_groups(logs: Any, cluster_name: str, region: str) -> list[Leftover]:
    """EKS's control-plane log group(s): ``/aws/eks/<cluster>/cluster``."""
    prefix = f"/aws/eks/{cluster_name}/"
    found = []
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
        for group in page["logGroups"]:
            name = group["logGroupName"]
            found.append(
                Leftover(
                    "log-group", name, name, f"aws logs delete-log-group --region {region} --log-group-name {name}"
                )
            )
    return found


def _volumes(ec2: Any, cluster_name: str, region: str, *, skip_attached_to: set[str]) -> list[Leftover]:
    """EBS volumes of ``model_cache: pvc`` claims (tagged for the cluster by the gp3 StorageClass): a volume whose
    deletion the EBS CSI driver had not finished when destroy removed the driver stays, and bills. Volumes attached
    to a leftover instance (Karpenter tags its nodes' volumes the same way) go with its termination: not listed."""
    found = []
    for page in _cluster_ec2_pages(ec2, "describe_volumes", cluster_name, "status", VOLUME_LIVE_STATES):
        for volume in page["Volumes"]:
            if any(a.get("InstanceId") in skip_attached_to for a in volume.get("Attachments", [])):
                continue
            vid = volume["VolumeId"]
            name = f"{volume.get('Size', '?')} GiB {volume.get('VolumeType', '')}".strip()
            found.append(
                Leftover("ebs-volume", vid, name, f"aws ec2 delete-volume --region {region} --volume-id {vid}")
            )
    return found
