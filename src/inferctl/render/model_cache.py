"""The S3 model cache in the cluster: the model pods' ServiceAccount, the mirror Job per model and its script.

* The model pods run as their own ServiceAccount (``inferctl-model-server``); on aws an EKS Pod Identity
  association gives exactly that account read-only access to the bucket, and the mirror Job's account
  (``inferctl-model-mirror``) write access. Nothing else in the cluster gets either role.
* The mirror Job runs :mod:`inferctl.cache.mirror` unchanged: its source travels in a ConfigMap and runs with
  ``python3`` in the vLLM image, which already carries ``huggingface_hub`` and ``boto3`` (vllm-project/vllm
  docker/Dockerfile, stage ``vllm-openai-base``: ``runai-model-streamer[s3,gcs]``, whose S3 package requires
  boto3). The image is the one the GPU nodes pull anyway; the Job runs on the CPU pool, so no GPU waits for it.
  It downloads into a generic ephemeral volume of its own, sized for the checkpoint, where the cluster
  provisions one (:func:`inferctl.cache.location.mirror_has_own_volume`: a CPU node's 50 GiB data volume also
  holds the ~20 GiB image, so a 14B model's download there is evicted for disk pressure and a 32B one never
  schedules); elsewhere into an emptyDir on its node, which ``plan`` checks against the CPU pool's volume
  (:mod:`inferctl.sizing.model_cache`). The volume goes with the pod; finished Jobs go after an hour.
* The Deployment serves ``s3://<bucket>/models/<id>/<revision>/`` with ``--load-format runai_streamer``
  (:func:`inferctl.engine.streamer_args`), with the hub switched off (``HF_HUB_OFFLINE``): no token, no rate limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferctl.cache import compile_cache, mirror
from inferctl.cache.location import (
    CacheLocation,
    cache_location,
    compile_cache_location,
    mirror_has_own_volume,
    streamer_limits,
    uses_cache,
)
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import streamer_args
from inferctl.errors import ConfigError
from inferctl.kube_names import ANNOTATION_CACHE_URI, APP_COMPONENT, KARPENTER_NODEPOOL, LABEL_MIRROR_OF
from inferctl.render.meta import (
    Object,
    gib,
    metadata,
    model_labels,
    platform_labels,
    restricted_container_security,
    restricted_pod_security,
)
from inferctl.sizing.memory import GIB, mirror_scratch_bytes
from inferctl.sizing.placement import Placement

MODEL_SERVICE_ACCOUNT = "inferctl-model-server"
MIRROR_SERVICE_ACCOUNT = "inferctl-model-mirror"
# The compile Job's own account: it alone may write vLLM's compile cache (render/compile_cache.py).
COMPILE_SERVICE_ACCOUNT = "inferctl-compile-cache"
MIRROR_SCRIPT_CONFIGMAP = "inferctl-model-mirror"
MIRROR_SCRIPT_KEY = "mirror.py"
COMPILE_SCRIPT_KEY = "compile_cache.py"
MIRROR_SCRIPT_DIR = "/opt/inferctl"
MIRROR_WORK_DIR = "/work"
MIRROR_TOKEN_DIR = "/var/run/secrets/huggingface"
MIRROR_CPU = "2"  # hashing and the transfer manager's threads; the download is network-bound
MIRROR_MEMORY = "4Gi"
MIRROR_RUN_AS = 10001
MIRROR_COMPONENT = "model-mirror"
COMPILE_COMPONENT = "compile-cache"
MIRROR_TMP = "1Gi"
MIRROR_NODE_EPHEMERAL = "2Gi"  # /tmp and logs, when the scratch is a volume of its own
MIRROR_FINISHED_TTL_S = 3600  # a finished Job (and its pods' volumes) lingers this long for 'kubectl logs'

# Flags the cache sets; in extra_args they would fight it.
CACHE_MANAGED_FLAGS = frozenset({"--load-format", "--tokenizer", "--model-loader-extra-config", "--revision"})


def mirror_job_name(model: ModelDeployment) -> str:
    return f"{model.name}-mirror"[:63]


def check_cache_model(config: PlatformConfig, model: ModelDeployment, index: int) -> CacheLocation | None:
    """The model's cache location when it is served from the cache (refusing what cannot be), else None."""
    if not uses_cache(config, model):
        return None
    for arg in model.engine.extra_args:
        flag = arg.split("=", 1)[0]
        if flag in CACHE_MANAGED_FLAGS:
            raise ConfigError(
                f"models[{index}].engine.extra_args sets {flag}, which the S3 model cache sets; remove it or set "
                f"models[{index}].cache to false"
            )
    return cache_location(config, model, index)


def cache_loader(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, index: int = 0
) -> tuple[str, list[str]] | None:
    """(model location, loader arguments) for a model served from the cache, else None."""
    location = check_cache_model(config, model, index)
    if location is None:
        return None
    limits = streamer_limits(config, placement.resources.cpu, placement.streamer_worker_bytes)
    uri = location.uri
    return uri, streamer_args(
        uri,
        concurrency=limits.concurrency,
        memory_limit_bytes=limits.memory_limit_bytes,
        distributed=placement.tensor_parallel_size > 1,
    )


def cache_env(config: PlatformConfig, model: ModelDeployment) -> list[dict[str, Any]]:
    """Extra environment of a model container served from the cache."""
    if not uses_cache(config, model):
        return []
    region = config.cache.region or config.aws.region
    return [
        {"name": "AWS_REGION", "value": region},  # Pod Identity provides credentials, not the region
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "HF_HUB_OFFLINE", "value": "1"},  # config and tokenizer come from the bucket too
    ]


def render_service_accounts(config: PlatformConfig, *, compiles: bool = False) -> list[Object]:
    """The model pods' and the mirror Job's ServiceAccounts, when any model uses the cache (``compiles``: and the
    compile Job's). No token is mounted by default: Pod Identity injects its own projected token, nothing else
    needs the API server."""
    # Checked at the source: aws/amazon-eks-pod-identity-webhook v0.6.17 pkg/handler/handler.go (L441-443, L241-251,
    # L347-362) injects the eks-pod-identity-token projected volume and AWS_CONTAINER_* variables from the namespace
    # and ServiceAccount name alone, never reading automountServiceAccountToken (no match in the repository); the
    # ServiceAccount admission plugin gates only its own kube-api-access volume on it (kubernetes
    # plugin/pkg/admission/serviceaccount/admission.go, shouldAutomount); botocore's container provider reads only
    # the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names (botocore/credentials.py). EKS runs a managed build
    # of the webhook, so a live cluster remains the final proof.
    if not any(uses_cache(config, model) for model in config.models):
        return []
    names = [MODEL_SERVICE_ACCOUNT, MIRROR_SERVICE_ACCOUNT]
    if compiles:
        names.append(COMPILE_SERVICE_ACCOUNT)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(name, namespace=config.kubernetes.namespace, labels=platform_labels(config)),
            "automountServiceAccountToken": False,
        }
        for name in names
    ]


def render_mirror_script(config: PlatformConfig) -> Object:
    """The mirror module's own source, which the Job runs."""
    scripts = {MIRROR_SCRIPT_KEY: mirror, COMPILE_SCRIPT_KEY: compile_cache}  # the compile script imports mirror.py
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            MIRROR_SCRIPT_CONFIGMAP, namespace=config.kubernetes.namespace, labels=platform_labels(config)
        ),
        "data": {key: Path(str(module.__file__)).read_text(encoding="utf-8") for key, module in scripts.items()},
    }


def render_mirror_network_policy(
    config: PlatformConfig, *, name: str = MIRROR_SCRIPT_CONFIGMAP, component: str = MIRROR_COMPONENT
) -> Object:
    """No ingress at all to the mirror pods (they only call out: the hub and S3), nor to the compile Job's (its
    vLLM listens on loopback only, and answers no one)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace=config.kubernetes.namespace, labels=platform_labels(config)),
        "spec": {
            "podSelector": {"matchLabels": {**platform_labels(config), APP_COMPONENT: component}},
            "policyTypes": ["Ingress"],
        },
    }


def mirror_work_size(placement: Placement) -> str:
    """Scratch for the snapshot: its checkpoint as downloaded (not its size in GPU memory), with sizing's margin."""
    return gib(mirror_scratch_bytes(int(placement.download_gib * GIB)) / GIB)


def mirror_work_volume(config: PlatformConfig, size: str) -> dict[str, Any]:
    """The Job's download directory: a generic ephemeral volume (a PersistentVolumeClaim made for the pod and
    deleted with it) where the cluster provisions one, else an emptyDir on its node's disk."""
    if not mirror_has_own_volume(config):
        return {"name": "work", "emptyDir": {"sizeLimit": size}}
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if config.kubernetes.storage_class:  # else the cluster's default class (on aws: the program's gp3)
        claim["storageClassName"] = config.kubernetes.storage_class
    return {
        "name": "work",
        "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": platform_labels(config)}, "spec": claim}},
    }


def render_mirror_job(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, *, index: int = 0, karpenter: bool = False
) -> Object:
    """The Job that mirrors ``model``'s snapshot into the cache (a no-op when the manifest is already there)."""
    location = check_cache_model(config, model, index)
    if location is None:
        raise ConfigError(f"model {model.name!r} is not served from the S3 cache; set cache.enabled or models[].cache")
    labels = {**model_labels(config, model), APP_COMPONENT: MIRROR_COMPONENT}
    # The Job's pods must not match the Deployment's selector (platform + model): rollout, status and teardown
    # count that selector's pods as model servers.
    pod_labels = {**platform_labels(config), APP_COMPONENT: MIRROR_COMPONENT, LABEL_MIRROR_OF: model.name}
    scratch = mirror_work_size(placement)
    selector = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if karpenter:
        selector[KARPENTER_NODEPOOL] = config.pools.cpu.name
    env = [
        {"name": "CACHE_BUCKET", "value": location.bucket},
        {"name": "MODEL_ID", "value": model.source},
        {"name": "MODEL_REVISION", "value": model.revision or ""},
        {"name": "WORK_DIR", "value": MIRROR_WORK_DIR},
        {"name": "HOME", "value": f"{MIRROR_WORK_DIR}/home"},
        {"name": "HF_HOME", "value": f"{MIRROR_WORK_DIR}/hf"},
        {"name": "HF_TOKEN_PATH", "value": f"{MIRROR_TOKEN_DIR}/token"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "AWS_REGION", "value": location.region},
        {"name": "AWS_DEFAULT_REGION", "value": location.region},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    work = mirror_work_volume(config, scratch)
    node_disk = scratch if "emptyDir" in work else MIRROR_NODE_EPHEMERAL
    amounts = {"cpu": MIRROR_CPU, "memory": MIRROR_MEMORY, "ephemeral-storage": node_disk}
    container = {
        "name": "mirror",
        "image": config.kubernetes.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", f"{MIRROR_SCRIPT_DIR}/{MIRROR_SCRIPT_KEY}"],
        "env": env,
        "resources": {"requests": dict(amounts), "limits": dict(amounts)},
        "securityContext": restricted_container_security(MIRROR_RUN_AS),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "work", "mountPath": MIRROR_WORK_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "script", "mountPath": MIRROR_SCRIPT_DIR, "readOnly": True},
            {"name": "hf-token", "mountPath": MIRROR_TOKEN_DIR, "readOnly": True},
        ],
    }
    pod_spec: dict[str, Any] = {
        "serviceAccountName": MIRROR_SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": restricted_pod_security(MIRROR_RUN_AS),
        "nodeSelector": selector,
        "containers": [container],
        "volumes": [
            work,
            {"name": "tmp", "emptyDir": {"sizeLimit": MIRROR_TMP}},
            {"name": "script", "configMap": {"name": MIRROR_SCRIPT_CONFIGMAP, "defaultMode": 0o444}},
            {
                "name": "hf-token",
                "secret": {
                    "secretName": config.secrets.hf_secret_name,
                    "items": [{"key": config.secrets.hf_token_key, "path": "token"}],
                    "defaultMode": 0o440,
                    "optional": not model.is_gated,
                },
            },
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(
            mirror_job_name(model),
            namespace=config.kubernetes.namespace,
            labels=labels,
            annotations={ANNOTATION_CACHE_URI: location.uri},
        ),
        "spec": {
            "backoffLimit": 2,  # a flaky download retries; a gated model or a denied bucket fails fast enough
            # A refused snapshot (no safetensors) fails the Job at once (batch/v1 JobSpec.podFailurePolicy, GA in
            # Kubernetes 1.31, on by default since 1.26; needs restartPolicy Never).
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "mirror", "operator": "In", "values": [mirror.REFUSED_EXIT]},
                    }
                ]
            },
            "activeDeadlineSeconds": config.cache.mirror_timeout_s,
            "ttlSecondsAfterFinished": MIRROR_FINISHED_TTL_S,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def render_model_cache(config: PlatformConfig, placements: dict[str, Placement], *, karpenter: bool) -> list[Object]:
    """Everything the cache adds to a cluster: service accounts, the scripts and a mirror Job per cached model
    (the compile Jobs come with their Deployments, render/compile_cache.py)."""
    compiles = any(
        compile_cache_location(config, model, placements[model.name], index) is not None
        for index, model in enumerate(config.models)
        if model.name in placements
    )
    objects = render_service_accounts(config, compiles=compiles)
    jobs = [
        render_mirror_job(config, model, placements[model.name], index=index, karpenter=karpenter)
        for index, model in enumerate(config.models)
        if uses_cache(config, model) and model.name in placements
    ]
    if jobs:
        objects += [render_mirror_script(config), render_mirror_network_policy(config)]
    if compiles:
        objects.append(render_mirror_network_policy(config, name=COMPILE_SERVICE_ACCOUNT, component=COMPILE_COMPONENT))
    return objects + jobs
