"""Names, labels and small helpers every renderer shares.

Label keys follow Kubernetes' recommended ``app.kubernetes.io/*`` set; the ``inferctl.io/*`` keys are what the
Kubernetes target selects on (status, logs, teardown), so they are stable across releases. The keys themselves live
in :mod:`inferctl.kube_names`, shared with kube/ which reads them back.
"""

from __future__ import annotations

from typing import Any

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.kube_names import (
    APP_COMPONENT,
    APP_INSTANCE,
    APP_MANAGED_BY,
    APP_NAME,
    APP_PART_OF,
    LABEL_MODEL,
    LABEL_PLATFORM,
)

MANAGED_BY = "inferctl"

SERVICE_PORT = 80
MODEL_SERVER_COMPONENT = "model-server"  # app.kubernetes.io/component of model pods (the gateway discovers them by it)

Object = dict[str, Any]


def platform_labels(config: PlatformConfig) -> dict[str, str]:
    """Labels on every namespaced object inferctl creates for ``config``."""
    return {
        APP_MANAGED_BY: MANAGED_BY,
        APP_PART_OF: "inferctl",
        LABEL_PLATFORM: config.name,
    }


def selector_labels(config: PlatformConfig, model: ModelDeployment) -> dict[str, str]:
    """The labels that select one model's pods (Deployment selector, Service, PDB, NetworkPolicy, PodMonitor).

    Immutable on a Deployment once created, so it holds only names that never change for a model.
    """
    return {LABEL_PLATFORM: config.name, LABEL_MODEL: model.name}


def model_labels(config: PlatformConfig, model: ModelDeployment) -> dict[str, str]:
    return {
        **platform_labels(config),
        APP_NAME: "vllm",
        APP_INSTANCE: model.name,
        APP_COMPONENT: MODEL_SERVER_COMPONENT,
        LABEL_MODEL: model.name,
    }


def model_metadata(
    config: PlatformConfig, model: ModelDeployment, *, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """Metadata of an object of one model: named after the model, in the platform's namespace, the model's labels."""
    return metadata(
        model.name, namespace=config.kubernetes.namespace, labels=model_labels(config, model), annotations=annotations
    )


def metadata(
    name: str,
    *,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def restricted_pod_security(run_as: int, *, fs_group_change_policy: str | None = None) -> dict[str, Any]:
    """A pod's securityContext under the ``restricted`` Pod Security Standard (:func:`render_namespace`): user,
    group and volume group ``run_as``, never root."""
    security: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": run_as, "runAsGroup": run_as, "fsGroup": run_as}
    if fs_group_change_policy is not None:
        security["fsGroupChangePolicy"] = fs_group_change_policy
    security["seccompProfile"] = {"type": "RuntimeDefault"}
    return security


def restricted_container_security(run_as: int) -> dict[str, Any]:
    """A container's securityContext under ``restricted``: user and group ``run_as``, a read-only root
    filesystem, no privilege (escalation) and no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": run_as,
        "runAsGroup": run_as,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def gib(value: float) -> str:
    """A whole-GiB Kubernetes quantity, rounded up: 14.2 -> ``15Gi``."""
    whole = int(value) if float(value).is_integer() else int(value) + 1
    return f"{max(whole, 1)}Gi"


# Namespaces every cluster has: inferctl deploys into them as they are, never labels, owns or deletes them.
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def render_namespace(config: PlatformConfig, *, on_aws: bool) -> Object:
    """The platform's namespace, enforcing the ``restricted`` Pod Security Standard.

    The vLLM pods are built to pass ``restricted``; enforcing it makes any later drift fail loudly. On AWS the
    Load Balancer Controller injects readiness gates so a rollout waits until the NLB target is healthy.
    """
    version = f"v{config.aws.cluster_version if on_aws else config.kubernetes.kubernetes_version}"
    labels = {
        **platform_labels(config),
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": version,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": version,
    }
    if on_aws:
        labels["elbv2.k8s.aws/pod-readiness-gate-inject"] = "enabled"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(config.kubernetes.namespace, namespace=None, labels=labels),
    }
