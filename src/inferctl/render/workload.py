"""The model server: one Deployment per model (plus its model-cache claim when the cache is a PVC).

Decisions worth knowing (each one answers a known pain of the hand-written workshop manifest):

* vLLM arguments come from :func:`inferctl.engine.engine_args` with the placement's values, exactly as the local
  target builds them; only location, host, port and the drain timeout are added here.
* Secrets are never arguments. The API key reaches vLLM as ``VLLM_API_KEY`` from its Secret (vLLM reads it
  nowhere else); the HuggingFace token is a mounted file that huggingface_hub finds through ``HF_TOKEN_PATH``,
  so it is not in the process environment either.
* The image runs as root by default. We run it as UID 10001 with a read-only root filesystem and give it writable
  ``HOME`` (torch/triton/flashinfer compile caches), ``/tmp`` and the model cache; ``USER`` is set because the
  UID has no passwd entry and torch's cache code calls ``getpass.getuser()``.
* A cold start downloads GBs of weights: the startupProbe allows the whole rollout budget (at least 40 min)
  before liveness may act, so a slow download is never killed half way.
* Termination drains: preStop keeps serving while endpoints and the NLB deregister the pod and, through a small
  middleware shipped in a ConfigMap, closes every connection after its next response so none is reused; then
  vLLM's ``--shutdown-timeout`` lets in-flight requests finish; the grace period covers both (:mod:`.drain`).
"""

from __future__ import annotations

import math
from typing import Any

from inferctl.cache.location import CacheLocation, compile_cache_location
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import (
    API_KEY_ENV,
    CONTAINER_PORT,
    SERVER_ENV_DEFAULTS,
    VLLM_SERVE_COMMAND,
    engine_args,
    server_args,
    server_env,
)
from inferctl.errors import ConfigError, PlanError
from inferctl.kube_names import (
    ANNOTATION_GPU,
    ANNOTATION_INSTANCE_TYPE,
    ANNOTATION_KV_CACHE_TOKENS,
    ANNOTATION_MAX_MODEL_LEN,
    ANNOTATION_SERVED_MODEL_NAME,
    ANNOTATION_SOURCE,
    GPU_RESOURCE,
    KARPENTER_DO_NOT_DISRUPT,
    KARPENTER_NODEPOOL,
    NODE_INSTANCE_TYPE,
    NODE_ZONE,
    PORT_NAME,
)
from inferctl.render.compile_cache import (
    GPU_NAME_LABEL,
    compile_cache_env,
    gpu_label_value,
    render_compile_job,
    render_fetch_container,
    script_volume,
)
from inferctl.render.drain import (
    MIDDLEWARE_DIR,
    drain_mount,
    drain_server_args,
    drain_timings,
    drain_volume,
    prestop_command,
    render_drain_config_map,
)
from inferctl.render.meta import (
    Object,
    gib,
    metadata,
    model_labels,
    model_metadata,
    restricted_container_security,
    restricted_pod_security,
    selector_labels,
)
from inferctl.render.model_cache import MODEL_SERVICE_ACCOUNT, cache_env, cache_loader, check_cache_model
from inferctl.sizing.placement import Placement

CONTAINER_NAME = "vllm"
RUN_AS_ID = 10001  # >= 10000 so it never collides with a node's system users
HOME_DIR = "/home/vllm"
MODEL_CACHE_DIR = "/var/cache/inferctl"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
HF_TOKEN_FILE = "token"
HF_TOKEN_VOLUME = "hf-token"
HEALTH_PATH = "/health"

# Drain timings and their calculation: render/drain.py.
STARTUP_PERIOD_S = 10
MIN_STARTUP_BUDGET_S = 40 * 60
SCRATCH_SIZE = "8Gi"  # HOME (compile caches) and /tmp each

# Node labels only Karpenter-provisioned AWS nodes carry.
GPU_MEMORY_LABEL = "karpenter.k8s.aws/instance-gpu-memory"  # MiB per GPU


def check_cluster_model(model: ModelDeployment, index: int) -> None:
    """Refuse sources a cluster cannot load: the demo model and directories on this machine."""
    where = f"models[{index}].source"
    if model.is_demo:
        raise ConfigError(
            f"{where}: the 'demo' model exists only on the local target; set it to a HuggingFace id such as "
            "meta-llama/Meta-Llama-3-8B-Instruct, or use --target local"
        )
    if model.is_local_path:
        raise ConfigError(
            f"{where}: {model.source!r} is a directory on this machine, which cluster pods cannot read; "
            "push the model to the HuggingFace hub and use its id (org/name)"
        )


def effective_engine_args(model: ModelDeployment, placement: Placement) -> list[str]:
    """The engine arguments for ``model`` on ``placement``: the one builder, fed the placement's values."""
    return engine_args(
        model,
        tensor_parallel_size=placement.tensor_parallel_size,
        max_model_len=placement.max_model_len,
        gpu_memory_utilization=placement.gpu_memory_utilization,
    )


def container_args(
    model: ModelDeployment, placement: Placement, *, loader: tuple[str, list[str]] | None = None
) -> list[str]:
    """Full vLLM server arguments of the Deployment's container. ``loader``: (location, arguments) of the S3 model
    cache (:func:`inferctl.render.model_cache.cache_loader`), which replace the hub id and its revision."""
    engine = effective_engine_args(model, placement)
    if loader is not None:
        engine = _without_revision(engine)  # the cache path names the revision
    return server_args(
        loader[0] if loader else model.source,
        host="0.0.0.0",  # inside the pod; the NetworkPolicy and Service decide who reaches it
        port=CONTAINER_PORT,
        engine=engine,
        extra=[*(loader[1] if loader else []), *drain_server_args()],
        entry="serve",
    )


def _without_revision(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--revision":
            skip = True
        else:
            out.append(arg)
    return out


def startup_budget_s(config: PlatformConfig) -> int:
    return max(config.kubernetes.rollout_timeout_s, MIN_STARTUP_BUDGET_S)


def model_cache_claim_name(model: ModelDeployment) -> str:
    return f"{model.name}-model-cache"


def model_cache_size(config: PlatformConfig, placement: Placement) -> str:
    """Configured size, else the checkpoint as downloaded (not its size in GPU memory: an fp8-quantized 70B
    model still downloads ~131 GiB of bf16 safetensors) with 10% + 10 GiB for tokenizer files and a revision
    change."""
    if config.kubernetes.model_cache_gib is not None:
        return f"{config.kubernetes.model_cache_gib}Gi"
    return gib(placement.download_gib * 1.1 + 10)


def render_model_cache_claim(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> Object:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": model_cache_size(config, placement)}},
    }
    if config.kubernetes.storage_class:
        spec["storageClassName"] = config.kubernetes.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            model_cache_claim_name(model),
            namespace=config.kubernetes.namespace,
            labels=model_labels(config, model),
        ),
        "spec": spec,
    }


def _env(config: PlatformConfig, model: ModelDeployment, *, compiled: bool) -> list[dict[str, Any]]:
    container = {
        "HOME": HOME_DIR,
        "USER": "vllm",
        "XDG_CACHE_HOME": f"{HOME_DIR}/.cache",
        "HF_HOME": f"{MODEL_CACHE_DIR}/huggingface",
        "HF_TOKEN_PATH": f"{HF_TOKEN_DIR}/{HF_TOKEN_FILE}",
        "PYTHONPATH": MIDDLEWARE_DIR,  # the drain middleware (--middleware), from its ConfigMap
        **(compile_cache_env(HOME_DIR) if compiled else {}),
    }
    cache = {item["name"]: item["value"] for item in cache_env(config, model)}
    plain = server_env(model, container, SERVER_ENV_DEFAULTS, cache)  # the user's engine.env wins
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in plain.items()]
    if config.endpoint.api_key.enabled:
        env.append(
            {
                "name": API_KEY_ENV,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": config.endpoint.api_key.secret_name,
                        "key": config.endpoint.api_key.secret_key,
                    }
                },
            }
        )
    return env


def _resources(placement: Placement) -> dict[str, Any]:
    # requests == limits: Guaranteed QoS, so the kubelet evicts a model server last under node pressure.
    res = placement.resources
    amounts = {"cpu": res.cpu, "memory": res.memory, "ephemeral-storage": res.ephemeral_storage}
    if res.gpus:
        amounts[GPU_RESOURCE] = str(res.gpus)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _probe(period_s: int, timeout_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": PORT_NAME},
        "periodSeconds": period_s,
        "timeoutSeconds": timeout_s,
        "failureThreshold": failures,
    }


def _container(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, *, compiled: bool
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "model-cache", "mountPath": MODEL_CACHE_DIR},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": HF_TOKEN_VOLUME, "mountPath": HF_TOKEN_DIR, "readOnly": True},
        drain_mount(),
    ]
    return {
        "name": CONTAINER_NAME,
        "image": config.kubernetes.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(VLLM_SERVE_COMMAND),  # the image's own entry (not the deprecated api_server module)
        "args": container_args(model, placement, loader=cache_loader(config, model, placement)),
        "ports": [{"name": PORT_NAME, "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "env": _env(config, model, compiled=compiled),
        "resources": _resources(placement),
        "startupProbe": _probe(STARTUP_PERIOD_S, 5, math.ceil(startup_budget_s(config) / STARTUP_PERIOD_S)),
        "readinessProbe": _probe(10, 5, 3),
        "livenessProbe": _probe(30, 10, 5),
        "lifecycle": {"preStop": {"exec": {"command": prestop_command(drain_timings(config, model))}}},
        "securityContext": restricted_container_security(RUN_AS_ID),
        "terminationMessagePolicy": "FallbackToLogsOnError",  # the last log lines explain a crash
        "volumeMounts": mounts,
    }


def _volumes(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> list[dict[str, Any]]:
    shm = f"{config.kubernetes.shm_gib}Gi" if config.kubernetes.shm_gib else placement.resources.shm
    cache: dict[str, Any]
    if config.kubernetes.model_cache == "pvc":
        cache = {"persistentVolumeClaim": {"claimName": model_cache_claim_name(model)}}
    else:
        size = (
            f"{config.kubernetes.model_cache_gib}Gi"
            if config.kubernetes.model_cache_gib
            else placement.resources.ephemeral_storage
        )
        cache = {"emptyDir": {"sizeLimit": size}}
    return [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}},
        {"name": "model-cache", **cache},
        {"name": "home", "emptyDir": {"sizeLimit": SCRATCH_SIZE}},
        {"name": "tmp", "emptyDir": {"sizeLimit": SCRATCH_SIZE}},
        {
            "name": HF_TOKEN_VOLUME,
            "secret": {
                "secretName": config.secrets.hf_secret_name,
                "items": [{"key": config.secrets.hf_token_key, "path": HF_TOKEN_FILE}],
                "defaultMode": 0o440,
                # A gated model cannot start without the token: let the pod wait visibly for the secret.
                "optional": not model.is_gated,
            },
        },
        drain_volume(model),
    ]


def _scheduling(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, *, karpenter: bool, compiled: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    selector = {"kubernetes.io/os": "linux"}
    if karpenter:
        selector = {KARPENTER_NODEPOOL: config.pools.gpu.name, "kubernetes.io/arch": "amd64", **selector}
        # Any instance of the pool whose GPUs hold at least what sizing assumed; the sized type first. With a
        # compile cache, only the GPU model it was compiled for (render/compile_cache.py).
        min_gpu_mib = max(round(placement.gpu_memory_gib * 1024) - 1, 0)
        required = [{"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(min_gpu_mib)]}]
        if compiled:
            required.append({"key": GPU_NAME_LABEL, "operator": "In", "values": [gpu_label_value(placement.gpu_name)]})
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": required}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "preference": {
                            "matchExpressions": [
                                {"key": NODE_INSTANCE_TYPE, "operator": "In", "values": [placement.instance_type]}
                            ]
                        },
                    }
                ],
            }
        }
    spec["nodeSelector"] = selector
    spec["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    if model.most_replicas > 1:
        # ScheduleAnyway: a zone without GPU capacity must not keep a replica from starting elsewhere.
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": NODE_ZONE,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(config, model)},
            }
        ]
    return spec


def _check_placement(model: ModelDeployment, placement: Placement) -> None:
    tp = model.engine.tensor_parallel_size or placement.tensor_parallel_size
    if placement.resources.gpus < tp:
        raise PlanError(
            f"model {model.name!r}: the placement gives {placement.resources.gpus} GPU(s) but tensor_parallel_size "
            f"is {tp}; re-run 'inferctl plan' or unset models[].engine.tensor_parallel_size"
        )


def render_deployment(
    config: PlatformConfig,
    model: ModelDeployment,
    placement: Placement,
    *,
    index: int = 0,
    karpenter: bool = False,
) -> Object:
    """The Deployment serving ``model`` on ``placement``. ``karpenter``: schedule onto the GPU NodePool."""
    check_cluster_model(model, index)
    _check_placement(model, placement)
    cached = check_cache_model(config, model, index) is not None
    if config.kubernetes.model_cache == "pvc" and model.most_replicas > 1:
        raise ConfigError(
            f"model {model.name!r} runs up to {model.most_replicas} replicas but kubernetes.model_cache is 'pvc', a "
            "ReadWriteOnce volume one pod can mount; run 1 replica (autoscaling.max_replicas: 1) or set model_cache "
            "to emptyDir"
        )
    compiled = compile_location(config, model, placement, index=index, karpenter=karpenter)
    labels = model_labels(config, model)
    pvc = config.kubernetes.model_cache == "pvc"
    strategy: dict[str, Any] = (
        # A ReadWriteOnce cache cannot be mounted by the old and the new pod at once.
        {"type": "Recreate"}
        if pvc
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    pod_spec: dict[str, Any] = {
        **({"serviceAccountName": MODEL_SERVICE_ACCOUNT} if cached else {}),  # Pod Identity: the bucket, read-only
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": restricted_pod_security(RUN_AS_ID, fs_group_change_policy="OnRootMismatch"),
        "terminationGracePeriodSeconds": drain_timings(config, model).grace_s,
        **_scheduling(config, model, placement, karpenter=karpenter, compiled=compiled is not None),
        "containers": [_container(config, model, placement, compiled=compiled is not None)],
        "volumes": _volumes(config, model, placement),
    }
    if compiled is not None:  # vLLM's compile cache, fetched before the engine starts
        pod_spec["initContainers"] = [render_fetch_container(config, compiled, run_as=RUN_AS_ID, home_dir=HOME_DIR)]
        pod_spec["volumes"].append(script_volume())
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": model_metadata(config, model, annotations=placement_annotations(model, placement)),
        "spec": {
            "replicas": model.replicas,
            "revisionHistoryLimit": 3,
            # Node launch and a multi-GB image pull come before the startup budget starts.
            "progressDeadlineSeconds": startup_budget_s(config) + 900,
            "strategy": strategy,
            "selector": {"matchLabels": selector_labels(config, model)},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        # Karpenter must not consolidate a node away from under a serving model.
                        KARPENTER_DO_NOT_DISRUPT: "true",
                        # The gateway registers the pod under the name clients send (render.gateway).
                        ANNOTATION_SERVED_MODEL_NAME: model.model_name,
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def placement_annotations(model: ModelDeployment, placement: Placement) -> dict[str, str]:
    """What sizing decided, readable with ``kubectl describe`` and by ``inferctl status``."""
    return {
        ANNOTATION_SOURCE: model.source,
        ANNOTATION_INSTANCE_TYPE: placement.instance_type,
        ANNOTATION_GPU: f"{placement.resources.gpus}x {placement.gpu_name}",
        ANNOTATION_MAX_MODEL_LEN: str(placement.max_model_len),
        ANNOTATION_KV_CACHE_TOKENS: str(placement.kv_cache_tokens),
    }


def compile_location(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, *, index: int, karpenter: bool
) -> CacheLocation | None:
    """The model's compile cache in the bucket, when its pods use one (Karpenter pools only)."""
    return compile_cache_location(config, model, placement, index) if karpenter else None


def render_workload(
    config: PlatformConfig,
    model: ModelDeployment,
    placement: Placement,
    *,
    index: int = 0,
    karpenter: bool = False,
) -> list[Object]:
    """The model's Deployment, preceded by its drain middleware's ConfigMap and, when ``kubernetes.model_cache`` is
    ``pvc``, its model-cache claim, and followed by the Job that writes its compile cache when it has one."""
    objects: list[Object] = [render_drain_config_map(config, model)]
    deployment = render_deployment(config, model, placement, index=index, karpenter=karpenter)
    if config.kubernetes.model_cache == "pvc":
        objects.append(render_model_cache_claim(config, model, placement))
    objects.append(deployment)
    compiled = compile_location(config, model, placement, index=index, karpenter=karpenter)
    if compiled is not None:
        job = render_compile_job(
            config, model, deployment, compiled, home_dir=HOME_DIR, secret_volumes=(HF_TOKEN_VOLUME,)
        )
        objects.append(job)
    return objects
