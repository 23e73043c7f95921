"""Karpenter v1 node pools: an EC2NodeClass and a NodePool per pool (GPU and CPU), named as in the workshop.

Checked against the v1.14.1 CRDs. Nodes find their subnets and security groups by the cluster's discovery tag,
run with the node role :func:`node_role_name` (the AWS target creates the role with exactly that name), boot a
pinned AMI alias (a new alias is a deliberate drift, never a surprise), keep IMDSv2 one hop away from pods and
encrypt every volume. Bottlerocket's NVIDIA variants ship the GPU device plugin; on any other AMI family the
NVIDIA device plugin DaemonSet is rendered too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from inferctl.config.ami_aliases import ami_family
from inferctl.config.models import CpuPool, GpuPool, PlatformConfig
from inferctl.errors import ConfigError
from inferctl.kube_names import (
    APP_NAME,
    GPU_RESOURCE,
    KARPENTER_CAPACITY_TYPE,
    KARPENTER_DISCOVERY,
    KARPENTER_NODECLAIM,
    KARPENTER_NODEPOOL,
    LABEL_PLATFORM,
    LABEL_POOL,
)
from inferctl.render.bottlerocket import user_data
from inferctl.render.meta import Object, metadata, platform_labels
from inferctl.sizing.memory import BOTTLEROCKET_OS_GIB, DATA_VOLUME_IOPS, gpu_data_volume_throughput_mibs

KARPENTER_GROUP = "karpenter.sh"
NODECLASS_GROUP = "karpenter.k8s.aws"
DISCOVERY_TAG = KARPENTER_DISCOVERY
NODE_ROLE_PREFIX = "KarpenterNodeRole-"
_IAM_ROLE_NAME_MAX = 64

# Tags Karpenter sets itself and its CRD forbids in spec.tags.
_RESTRICTED_TAGS = (
    "eks:eks-cluster-name",
    KARPENTER_NODEPOOL,
    KARPENTER_NODECLAIM,
    "karpenter.k8s.aws/ec2nodeclass",
)

# NVIDIA's device plugin, for GPU nodes whose AMI does not ship it (everything but Bottlerocket's NVIDIA variants).
DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"
DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
DEVICE_PLUGIN_NAMESPACE = "kube-system"


def node_role_name(config: PlatformConfig) -> str:
    """IAM role of the Karpenter nodes: ``KarpenterNodeRole-<cluster>`` as in Karpenter's getting-started guide.

    IAM caps role names at 64 characters; a longer name is cut and made unique with a short hash.
    """
    name = f"{NODE_ROLE_PREFIX}{config.cluster_name}"
    if config.traits.owns_infrastructure:  # inferctl creates it there; IAM names are per account, so one per region
        name = f"{name}-{config.aws.region}"
    if len(name) <= _IAM_ROLE_NAME_MAX:
        return name
    digest = hashlib.sha256(config.cluster_name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: _IAM_ROLE_NAME_MAX - 9]}-{digest}"


def needs_device_plugin(config: PlatformConfig) -> bool:
    return ami_family(config.pools.gpu.ami_alias) != "bottlerocket"


def _tags(config: PlatformConfig, pool_name: str) -> dict[str, str]:
    for key in config.aws.tags:
        if key in _RESTRICTED_TAGS or key.startswith("kubernetes.io/cluster"):
            raise ConfigError(f"aws.tags: {key!r} is set by EKS or Karpenter itself; remove it from aws.tags")
    return {**config.aws.tags, LABEL_PLATFORM: config.name, LABEL_POOL: pool_name}


def _ebs(size_gib: int, *, throughput_mibs: int | None) -> dict[str, Any]:
    ebs: dict[str, Any] = {
        "volumeSize": f"{size_gib}Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if throughput_mibs is not None:
        ebs["iops"] = DATA_VOLUME_IOPS
        ebs["throughput"] = throughput_mibs
    return ebs


def _block_devices(alias: str, data_gib: int, *, throughput_mibs: int | None) -> list[dict[str, Any]]:
    if ami_family(alias) == "bottlerocket":
        return [
            {"deviceName": "/dev/xvda", "ebs": _ebs(BOTTLEROCKET_OS_GIB, throughput_mibs=None)},
            {"deviceName": "/dev/xvdb", "ebs": _ebs(data_gib, throughput_mibs=throughput_mibs)},
        ]
    # AL2023: one root volume holds the OS, images and pod storage.
    return [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": _ebs(data_gib, throughput_mibs=throughput_mibs)}]


def render_node_class(
    config: PlatformConfig, pool: GpuPool | CpuPool, *, data_gib: int, throughput_mibs: int | None
) -> Object:
    """``throughput_mibs``: gp3 IOPS and throughput bought above the baseline (None: gp3's baseline). A GPU pool
    also gets its image-pull settings as Bottlerocket user data (:mod:`inferctl.render.bottlerocket`)."""
    discovery = {DISCOVERY_TAG: config.cluster_name}
    spec: dict[str, Any] = {
        "role": node_role_name(config),
        "amiSelectorTerms": [{"alias": pool.ami_alias}],
        "subnetSelectorTerms": [{"tags": dict(discovery)}],
        "securityGroupSelectorTerms": [{"tags": dict(discovery)}],
        "blockDeviceMappings": _block_devices(pool.ami_alias, data_gib, throughput_mibs=throughput_mibs),
        # IMDSv2 only, one hop: pods (one hop further) cannot reach the node role's credentials.
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "tags": _tags(config, pool.name),
    }
    pull = user_data(pool) if isinstance(pool, GpuPool) else None
    if pull is not None:
        spec["userData"] = pull
    return {
        "apiVersion": f"{NODECLASS_GROUP}/v1",
        "kind": "EC2NodeClass",
        "metadata": metadata(pool.name, namespace=None, labels=platform_labels(config)),
        "spec": spec,
    }


def _requirement(key: str, operator: str, values: list[str]) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": values}


def _limits(pool: GpuPool | CpuPool) -> dict[str, str]:
    limits = {"cpu": str(pool.limits.cpu), "memory": f"{pool.limits.memory_gib}Gi"}
    if pool.limits.gpus is not None:
        limits[GPU_RESOURCE] = str(pool.limits.gpus)
    return limits


def _node_pool(
    config: PlatformConfig,
    pool: GpuPool | CpuPool,
    *,
    role: str,
    requirements: list[dict[str, Any]],
    template_extra: dict[str, Any],
    disruption: dict[str, Any],
) -> Object:
    return {
        "apiVersion": f"{KARPENTER_GROUP}/v1",
        "kind": "NodePool",
        "metadata": metadata(pool.name, namespace=None, labels=platform_labels(config)),
        "spec": {
            "template": {
                "metadata": {"labels": {LABEL_POOL: role}},
                "spec": {
                    "nodeClassRef": {"group": NODECLASS_GROUP, "kind": "EC2NodeClass", "name": pool.name},
                    "requirements": [
                        *requirements,
                        _requirement(KARPENTER_CAPACITY_TYPE, "In", list(pool.capacity_types)),
                        _requirement("kubernetes.io/arch", "In", ["amd64"]),
                        _requirement("kubernetes.io/os", "In", ["linux"]),
                    ],
                    **template_extra,
                },
            },
            "limits": _limits(pool),
            "disruption": disruption,
        },
    }


# GPU nodes' disruption, chosen deliberately (facts: aws/karpenter-provider-aws v1.14.1
# website/content/en/docs/concepts/disruption.md). Every replacement of a GPU node restarts its models: a node
# launch, an image pull and a weight load, minutes of outage for a model with one replica.
# * Consolidation only when empty (after pools.gpu.consolidate_after): a busy GPU node is never bin-packed away.
# * expireAfter: pools.gpu.expire_after, Never by default. Expiration is a forceful method: disruption budgets do
#   not rate-limit it and karpenter.sh/do-not-disrupt does not exclude a node from it, so a monthly expiry would be
#   a monthly outage of every single-replica model. Nodes are replaced when the user chooses: a new
#   pools.gpu.ami_alias makes them drift, and drift (a graceful method) is budgeted.
# * budgets: at most one GPU node in disruption at a time, whatever the reason (drift, emptiness).
# * terminationGracePeriod: 30 minutes. With it set, drift may drain a node even though its model pods carry
#   karpenter.sh/do-not-disrupt; the pods are deleted in time for their own terminationGracePeriodSeconds (the
#   drain, render/drain.py) before the 30 minutes end. Longer would keep the pre-spun replacement GPU node idle
#   (and billed) beside the old one for hours.
# `inferctl plan` warns when a single-replica model will be interrupted by design (expiry, spot).
GPU_TERMINATION_GRACE = "30m"
GPU_DISRUPTION_BUDGETS = ({"nodes": "1"},)


def render_gpu_node_pool(config: PlatformConfig) -> Object:
    """GPU nodes: only pods tolerating the ``nvidia.com/gpu`` taint land here; disruption as documented above."""
    pool = config.pools.gpu
    return _node_pool(
        config,
        pool,
        role="gpu",
        requirements=[_requirement("karpenter.k8s.aws/instance-family", "In", list(pool.instance_families))],
        template_extra={
            "taints": [{"key": GPU_RESOURCE, "effect": "NoSchedule"}],
            "expireAfter": pool.expire_after,
            "terminationGracePeriod": GPU_TERMINATION_GRACE,
        },
        disruption={
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": pool.consolidate_after,
            "budgets": [dict(b) for b in GPU_DISRUPTION_BUDGETS],
        },
    )


def disruption_warnings(config: PlatformConfig) -> list[str]:
    """Single-replica models the GPU pool will interrupt by design: node expiry, spot interruptions."""
    if not config.uses_karpenter:
        return []
    pool = config.pools.gpu
    warnings = []
    for model in config.models:
        # An autoscaled model runs its floor (min_replicas) whenever load is low; 0 wakes to one replica.
        floor = model.autoscaling.min_replicas if model.autoscaling is not None else model.replicas
        if floor > 1 or (floor == 0 and model.autoscaling is None):
            continue
        more = "autoscaling.min_replicas: 2" if model.autoscaling is not None else "replicas: 2"
        if pool.expire_after != "Never":
            warnings.append(
                f"model {model.name} runs one replica and GPU nodes expire after {pool.expire_after} "
                "(pools.gpu.expire_after): each expiry restarts it (a node launch and a model load); expiry is "
                f"forceful, so budgets and do-not-disrupt do not hold it; set models[].{more} or "
                "pools.gpu.expire_after: Never"
            )
        if "spot" in pool.capacity_types:
            warnings.append(
                f"model {model.name} runs one replica and may run on spot capacity: a spot interruption "
                f"(2-minute notice) takes it down until a new node has loaded the model; set models[].{more} "
                "or pools.gpu.capacity_types: [on-demand]"
            )
    return warnings


def render_cpu_node_pool(config: PlatformConfig) -> Object:
    """General-purpose nodes (current generations of the configured categories), packed tightly."""
    pool = config.pools.cpu
    return _node_pool(
        config,
        pool,
        role="cpu",
        requirements=[
            _requirement("karpenter.k8s.aws/instance-category", "In", list(pool.instance_categories)),
            _requirement("karpenter.k8s.aws/instance-generation", "Gt", ["4"]),
        ],
        template_extra={"expireAfter": "720h"},
        disruption={
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": pool.consolidate_after,
            "budgets": [{"nodes": "10%"}],
        },
    )


def render_device_plugin(config: PlatformConfig) -> Object:
    """NVIDIA's device plugin on the GPU pool's nodes: advertises ``nvidia.com/gpu`` to the kubelet.

    It must run as root (it writes its socket into the kubelet's root-owned device-plugins directory); it gets
    nothing else: no privilege escalation, no capabilities, RuntimeDefault seccomp, a read-only root.
    """
    labels = {**platform_labels(config), APP_NAME: DEVICE_PLUGIN_NAME}
    selector = _device_plugin_selector(config)
    resources = {"cpu": "50m", "memory": "64Mi"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(DEVICE_PLUGIN_NAME, namespace=DEVICE_PLUGIN_NAMESPACE, labels=labels),
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {**labels, **selector}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "priorityClassName": "system-node-critical",
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            _requirement(KARPENTER_NODEPOOL, "In", [config.pools.gpu.name])
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "tolerations": [
                        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                    ],
                    "containers": [
                        {
                            "name": "nvidia-device-plugin",
                            "image": DEVICE_PLUGIN_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                            "resources": {"requests": dict(resources), "limits": dict(resources)},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "privileged": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "device-plugin",
                            "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"},
                        }
                    ],
                },
            },
        },
    }


def render_device_plugin_network_policy(config: PlatformConfig) -> Object:
    """The device plugin talks to the kubelet over a unix socket only: no network ingress at all."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            DEVICE_PLUGIN_NAME,
            namespace=DEVICE_PLUGIN_NAMESPACE,
            labels={**platform_labels(config), APP_NAME: DEVICE_PLUGIN_NAME},
        ),
        "spec": {"podSelector": {"matchLabels": _device_plugin_selector(config)}, "policyTypes": ["Ingress"]},
    }


def _device_plugin_selector(config: PlatformConfig) -> dict[str, str]:
    return {APP_NAME: DEVICE_PLUGIN_NAME, LABEL_PLATFORM: config.name}


def render_karpenter(config: PlatformConfig) -> list[Object]:
    """EC2NodeClasses and NodePools of both pools (and the device plugin, with a NetworkPolicy closing it to
    the network, when the GPU AMI lacks it)."""
    gpu, cpu = config.pools.gpu, config.pools.cpu
    objects = [
        render_node_class(
            config, gpu, data_gib=gpu.data_volume_gib, throughput_mibs=gpu_data_volume_throughput_mibs(gpu)
        ),
        render_node_class(config, cpu, data_gib=cpu.data_volume_gib, throughput_mibs=None),
        render_gpu_node_pool(config),
        render_cpu_node_pool(config),
    ]
    if needs_device_plugin(config):
        objects += [render_device_plugin(config), render_device_plugin_network_policy(config)]
    return objects
