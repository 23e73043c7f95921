"""vLLM's compile cache in the cluster: the model pods fetch it, one Job per model and configuration writes it.

What is reused and what is not: :mod:`inferctl.cache.compile_cache`. Who may write, least privilege first:

* The model pods only read. Their init container (the vLLM image running ``compile_cache.py fetch``, credentials of
  the pods' read-only ServiceAccount) copies ``s3://<bucket>/compile-cache/<model>/<revision>/<key>/`` into
  ``VLLM_CACHE_ROOT`` before vLLM starts; no cache yet, or any error, and vLLM simply compiles.
* The cache is code every later pod runs, so the process that serves requests never gets to write it: a
  compromised server could otherwise plant code in every future replica. The writer is a Job
  (``<model>-compile-<key>``) with its own ServiceAccount, whose role may write ``compile-cache/*`` and nothing
  else: it runs the Deployment's exact container (same image, arguments, environment, GPU model) with its vLLM on
  loopback and no ingress, waits until the engine is healthy, stops it and uploads what it compiled. It takes a GPU
  node for a few minutes, once per model and configuration; ``up`` skips it when the cache is already there.
* Every pod of a model with a compile cache runs on the GPU model sizing chose (a required
  ``karpenter.k8s.aws/instance-gpu-name`` affinity): vLLM's own cache key holds no device identity.
"""

from __future__ import annotations

import copy
from typing import Any

from inferctl.cache.location import CacheLocation
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import API_KEY_ENV, CONTAINER_PORT, VLLM_SERVE_COMMAND
from inferctl.kube_names import ANNOTATION_CACHE_URI, APP_COMPONENT, LABEL_COMPILE_OF
from inferctl.render.meta import Object, metadata, model_labels, platform_labels, restricted_container_security
from inferctl.render.model_cache import (
    COMPILE_COMPONENT,
    COMPILE_SCRIPT_KEY,
    COMPILE_SERVICE_ACCOUNT,
    MIRROR_SCRIPT_CONFIGMAP,
    MIRROR_SCRIPT_DIR,
)

FETCH_CONTAINER = "compile-cache"
SCRIPT_VOLUME = "inferctl-scripts"
# The init container downloads a few hundred MB with boto3: small, and Guaranteed like the server (requests ==
# limits on every container).
FETCH_RESOURCES = {"cpu": "1", "memory": "1Gi"}
# Karpenter's node label of the GPU model, lower-kebab-case ("a10g"): aws/karpenter-provider-aws v1.14.1,
# pkg/apis/v1/labels.go LabelInstanceGPUName; pkg/providers/instancetype/types.go lowerKabobCase(gpu.Name).
GPU_NAME_LABEL = "karpenter.k8s.aws/instance-gpu-name"
COMPILE_JOB_TTL_S = 3600


def cache_root(home_dir: str) -> str:
    """``VLLM_CACHE_ROOT`` in the pod: vLLM's default under ``$HOME/.cache`` (envs.py), written explicitly."""
    return f"{home_dir}/.cache/vllm"


def compile_cache_env(home_dir: str) -> dict[str, str]:
    """The server's cache variables. Triton's kernel cache is pointed inside ``VLLM_CACHE_ROOT`` too (vLLM keeps a
    caller's ``TRITON_CACHE_DIR``, compilation/compiler_interface.py) so kernels compiled outside torch.compile
    travel with it."""
    root = cache_root(home_dir)
    return {"VLLM_CACHE_ROOT": root, "TRITON_CACHE_DIR": f"{root}/triton_cache"}


def gpu_label_value(gpu_name: str) -> str:
    return gpu_name.lower().replace(" ", "-")


def script_volume() -> dict[str, Any]:
    return {"name": SCRIPT_VOLUME, "configMap": {"name": MIRROR_SCRIPT_CONFIGMAP, "defaultMode": 0o444}}


def _script_env(location: CacheLocation, home_dir: str) -> list[dict[str, str]]:
    values = {
        "CACHE_BUCKET": location.bucket,
        "COMPILE_CACHE_PREFIX": location.prefix,
        "VLLM_CACHE_ROOT": cache_root(home_dir),
        "AWS_REGION": location.region,
        "AWS_DEFAULT_REGION": location.region,
        "PYTHONUNBUFFERED": "1",
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def render_fetch_container(
    config: PlatformConfig, location: CacheLocation, *, run_as: int, home_dir: str
) -> dict[str, Any]:
    """The model pod's init container: the compile cache into ``VLLM_CACHE_ROOT`` (the pod's ``home`` volume)."""
    return {
        "name": FETCH_CONTAINER,
        "image": config.kubernetes.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", f"{MIRROR_SCRIPT_DIR}/{COMPILE_SCRIPT_KEY}", "fetch"],
        "env": [*_script_env(location, home_dir), {"name": "HOME", "value": home_dir}],
        "resources": {"requests": dict(FETCH_RESOURCES), "limits": dict(FETCH_RESOURCES)},
        "securityContext": restricted_container_security(run_as),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "home", "mountPath": home_dir},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": SCRIPT_VOLUME, "mountPath": MIRROR_SCRIPT_DIR, "readOnly": True},
        ],
    }


def compile_job_name(model: ModelDeployment, location: CacheLocation) -> str:
    """One name per configuration (a Job's template is immutable): ``<model>-compile-<key>``."""
    key = location.prefix.rstrip("/").rsplit("/", 1)[-1][:8]
    return f"{model.name[:46]}-compile-{key}"


def _loopback(args: list[str]) -> list[str]:
    """The server's arguments with ``--host`` on loopback: nothing outside the pod reaches the Job's vLLM (the host
    is no part of vLLM's compile hash: it is not in the engine's config)."""
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg == "--host":
            out[i + 1] = "127.0.0.1"
    return out


def render_compile_job(
    config: PlatformConfig,
    model: ModelDeployment,
    deployment: Object,
    location: CacheLocation,
    *,
    home_dir: str,
    secret_volumes: tuple[str, ...] = (),
) -> Object:
    """The Job that writes the compile cache: the Deployment's pod, serving nobody, then an upload. The pod's
    ``secret_volumes`` (the hub token) are left out: with the weights in S3 the Job never calls the hub."""
    template = copy.deepcopy(deployment["spec"]["template"])
    pod = template["spec"]
    pod.pop("initContainers", None)  # it writes the cache, it never reads one
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] not in secret_volumes]
    pod["serviceAccountName"] = COMPILE_SERVICE_ACCOUNT
    pod["restartPolicy"] = "Never"
    server = pod["containers"][0]
    for field in ("startupProbe", "readinessProbe", "livenessProbe", "lifecycle", "ports"):
        server.pop(field, None)
    server["command"] = ["python3", f"{MIRROR_SCRIPT_DIR}/{COMPILE_SCRIPT_KEY}", "publish", "--", *VLLM_SERVE_COMMAND]
    server["args"] = _loopback(server["args"])
    known = {item["name"] for item in server["env"]}
    env = [item for item in server["env"] if item["name"] != API_KEY_ENV]  # the Job serves no one: no key
    env += [item for item in _script_env(location, home_dir) if item["name"] not in known]
    env.append({"name": "HEALTH_URL", "value": f"http://127.0.0.1:{CONTAINER_PORT}/health"})
    server["env"] = env
    server["volumeMounts"] = [
        *(m for m in server["volumeMounts"] if m["name"] not in secret_volumes),
        {"name": SCRIPT_VOLUME, "mountPath": MIRROR_SCRIPT_DIR, "readOnly": True},
    ]
    if not any(v["name"] == SCRIPT_VOLUME for v in pod["volumes"]):
        pod["volumes"] = [*pod["volumes"], script_volume()]
    # Not the Deployment's labels: its Services, rollout and status must never count this pod as a model server.
    template["metadata"]["labels"] = {
        **platform_labels(config),
        APP_COMPONENT: COMPILE_COMPONENT,
        LABEL_COMPILE_OF: model.name,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(
            compile_job_name(model, location),
            namespace=config.kubernetes.namespace,
            labels={**model_labels(config, model), APP_COMPONENT: COMPILE_COMPONENT},
            annotations={ANNOTATION_CACHE_URI: location.uri},
        ),
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": deployment["spec"]["progressDeadlineSeconds"],
            "ttlSecondsAfterFinished": COMPILE_JOB_TTL_S,
            "template": template,
        },
    }
