"""Karpenter v1 pools as in the workshop (g5-gpu-karpenter, x86-cpu-karpenter), safe by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.render import node_role_name, render_karpenter
from tests.support.render import by_kind, one, workshop_config


def _requirements(pool: dict) -> dict[str, tuple[str, list[str]]]:
    return {r["key"]: (r["operator"], r["values"]) for r in pool["spec"]["template"]["spec"]["requirements"]}


def test_workshop_pools() -> None:
    objects = render_karpenter(workshop_config())
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("EC2NodeClass", "g5-gpu-karpenter"),
        ("EC2NodeClass", "x86-cpu-karpenter"),
        ("NodePool", "g5-gpu-karpenter"),
        ("NodePool", "x86-cpu-karpenter"),
    ]
    gpu = one(objects, "NodePool", "g5-gpu-karpenter")
    assert _requirements(gpu)["karpenter.k8s.aws/instance-family"] == ("In", ["g5"])
    assert _requirements(gpu)["karpenter.sh/capacity-type"] == ("In", ["spot", "on-demand"])
    assert _requirements(gpu)["kubernetes.io/arch"] == ("In", ["amd64"])
    assert gpu["spec"]["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert gpu["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "g5-gpu-karpenter"
    assert gpu["spec"]["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert gpu["spec"]["disruption"]["budgets"] == [{"nodes": "1"}]
    assert gpu["spec"]["limits"]["nvidia.com/gpu"] == "16"
    cpu = one(objects, "NodePool", "x86-cpu-karpenter")
    assert _requirements(cpu)["karpenter.k8s.aws/instance-category"] == ("In", ["c", "m", "r"])
    assert cpu["spec"]["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert "taints" not in cpu["spec"]["template"]["spec"]


def test_node_class_is_pinned_tagged_encrypted_and_imdsv2() -> None:
    config = workshop_config(aws={"tags": {"team": "ml"}})
    node_class = one(render_karpenter(config), "EC2NodeClass", "g5-gpu-karpenter")["spec"]
    assert node_class["role"] == "KarpenterNodeRole-genai-us-east-1"  # IAM names are per account: one per region
    assert node_class["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.68.0"}]
    assert node_class["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "genai"}}]
    assert node_class["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "genai"}}]
    assert node_class["metadataOptions"]["httpTokens"] == "required"
    assert node_class["metadataOptions"]["httpPutResponseHopLimit"] == 1
    devices = {d["deviceName"]: d["ebs"] for d in node_class["blockDeviceMappings"]}
    assert set(devices) == {"/dev/xvda", "/dev/xvdb"}
    assert all(ebs["encrypted"] and ebs["volumeType"] == "gp3" for ebs in devices.values())
    assert devices["/dev/xvdb"]["volumeSize"] == "200Gi"
    assert node_class["tags"] == {"team": "ml", "inferctl.io/platform": "genai", "inferctl.io/pool": "g5-gpu-karpenter"}


def test_cluster_name_and_families_come_from_the_config() -> None:
    config = workshop_config(aws={"cluster_name": "prod-eks"}, pools={"gpu": {"instance_families": ["g6e", "g5"]}})
    objects = render_karpenter(config)
    assert node_role_name(config) == "KarpenterNodeRole-prod-eks-us-east-1"
    node_class = one(objects, "EC2NodeClass", "g5-gpu-karpenter")["spec"]
    assert node_class["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "prod-eks"}}]
    gpu = one(objects, "NodePool", "g5-gpu-karpenter")
    assert _requirements(gpu)["karpenter.k8s.aws/instance-family"] == ("In", ["g6e", "g5"])


def test_long_cluster_names_give_a_valid_unique_role_name() -> None:
    a = workshop_config(aws={"cluster_name": "a" * 60})
    b = workshop_config(aws={"cluster_name": "a" * 59 + "b"})
    assert len(node_role_name(a)) == 64 and len(node_role_name(b)) == 64
    assert node_role_name(a) != node_role_name(b)
    assert node_role_name(a).startswith("KarpenterNodeRole-aaaa")


def test_bottlerocket_needs_no_device_plugin_but_al2023_does() -> None:
    assert not by_kind(render_karpenter(workshop_config()), "DaemonSet")
    config = workshop_config(pools={"gpu": {"ami_alias": "al2023@v20250715"}})
    objects = render_karpenter(config)
    plugin = one(objects, "DaemonSet")
    assert plugin["metadata"]["namespace"] == "kube-system"
    pod = plugin["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"].startswith("nvcr.io/nvidia/k8s-device-plugin:v")
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["g5-gpu-karpenter"]
    node_class = one(objects, "EC2NodeClass", "g5-gpu-karpenter")["spec"]
    assert node_class["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "rootVolume": True,
            "ebs": {
                "volumeSize": "200Gi",
                "volumeType": "gp3",
                "encrypted": True,
                "deleteOnTermination": True,
                "iops": 6000,
                "throughput": 500,
            },
        }
    ]


@pytest.mark.parametrize("alias", ["bottlerocket@latest", "al2023@latest", "windows2022@latest", "ubuntu@1", "al2023"])
def test_unpinned_or_unsupported_aliases_are_refused(alias: str) -> None:
    with pytest.raises(ValidationError, match=r"alias|pinned"):
        PlatformConfig.model_validate({"pools": {"gpu": {"ami_alias": alias}}})
    with pytest.raises(ValidationError):
        PlatformConfig.model_validate({"pools": {"cpu": {"ami_alias": alias}}})


def test_restricted_tags_are_refused() -> None:
    config = workshop_config(aws={"tags": {"kubernetes.io/cluster/genai": "owned"}})
    with pytest.raises(ConfigError, match=r"aws\.tags"):
        render_karpenter(config)


def test_bad_consolidate_after_is_refused() -> None:
    with pytest.raises(ValidationError):
        PlatformConfig.model_validate({"pools": {"gpu": {"consolidate_after": "one hour"}}})
