"""Why a rollout will not finish: pure functions over pods, events, NodePools and log lines.

Each rule returns a :class:`Diagnosis` (one paragraph: a message that names the fix, plus details) or None when
it does not apply. ``up`` stops with :class:`~inferctl.errors.OperationError` on the first diagnosis instead of
waiting for the timeout. Rules, in the order they are tried for a pod:

- image pull back-off (wrong image, registry auth, rate limit);
- container config errors (a missing Secret such as ``hf-secret``); ``CreateContainerError`` (which the watcher
  holds for a grace period: it may clear by itself);
- OOMKilled (host memory limit);
- CrashLoopBackOff, read from the last log lines: gated model, a model id that does not exist, a rejected token,
  CUDA out of memory, KV cache too small;
- FailedScheduling from Karpenter v1.14.1 (formats in :mod:`inferctl.kube.karpenter_messages`): NodePool limits
  reached (names the pool and the limit), no instance type of the pool fits (requirements, resources or offering),
  or no NodePool can take the pod;
- a GPU node that joined but advertises no ``nvidia.com/gpu`` (the NVIDIA device plugin is not running there).

Node-side failures that never reach the pod (NodePool / EC2NodeClass / NodeClaim conditions and NodeClaim events)
are read from the cluster state by :mod:`inferctl.kube.karpenter_state`.

And for a Service: a LoadBalancer that stays pending (no load balancer controller).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferctl.errors import OperationError
from inferctl.kube import karpenter_messages
from inferctl.kube.objects import (
    container_statuses,
    event_source,
    name_of,
    parse_quantity,
    pod_requests,
    sort_events,
)
from inferctl.kube_names import GPU_RESOURCE, KARPENTER_NODEPOOL, NODE_INSTANCE_TYPE
from inferctl.sizing.placement import Placement

LOG_LINES_SHOWN = 12


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong and what to do: ``message`` is one line naming the fix; ``details`` are evidence."""

    reason: str  # a stable key: image-pull, gated-model, cuda-oom, kv-cache, oom-killed, crash, nodepool-limits, ...
    message: str
    details: tuple[str, ...] = field(default=())

    def error(self) -> OperationError:
        return OperationError(self.message, details=list(self.details))


@dataclass(frozen=True)
class ModelContext:
    """What the rules know about the model a pod serves (for fixes that name config fields)."""

    name: str
    source: str
    gated: bool = False
    placement: Placement | None = None


# --- log patterns (vLLM / huggingface_hub / torch messages) ---------------------------------------------------

# huggingface_hub 2.4 (utils/_http.py, hf_raise_for_status) and transformers 5.19 (utils/hub.py) wordings.
# GatedRepoError subclasses RepositoryNotFoundError, so the gated patterns are tried first.
_GATED = re.compile(
    r"GatedRepoError|Cannot access gated repo|You are trying to access a gated repo|is a gated repository",
    re.IGNORECASE,
)
# A repo id that does not exist (404; 401 when no token is sent), or a private one the token cannot read.
_REPO_NOT_FOUND = re.compile(
    r"RepositoryNotFoundError|Repository Not Found for url|is not a valid model identifier listed on",
    re.IGNORECASE,
)
_BAD_TOKEN = re.compile(
    r"Invalid credentials in Authorization header|Invalid user token|401 Client Error|403 Client Error",
    re.IGNORECASE,
)
_CUDA_OOM = re.compile(r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory", re.IGNORECASE)
_KV_CACHE = re.compile(
    r"maximum number of tokens that can be stored in KV cache|larger than the available KV cache memory"
    r"|No available memory for the cache blocks|KV cache is needed",
    re.IGNORECASE,
)
_ESTIMATED_LEN = re.compile(r"estimated maximum model length is (\d+)|can be stored in KV cache \((\d+)\)")


def _tail(lines: Sequence[str], n: int = LOG_LINES_SHOWN) -> tuple[str, ...]:
    return tuple(f"log: {line}" for line in lines[-n:])


def diagnose_logs(lines: Sequence[str], model: ModelContext) -> Diagnosis | None:
    """Recognise the known fatal errors in a model server's last log lines."""
    text = "\n".join(lines)
    if _GATED.search(text):
        return Diagnosis(
            "gated-model",
            f"the HuggingFace hub refused to serve {model.source} (gated model); accept the "
            f"licence at https://huggingface.co/{model.source} with the account that owns HF_TOKEN, check the "
            "token has read access, export it and run up again",
            _tail(lines),
        )
    if _REPO_NOT_FOUND.search(text):
        return Diagnosis(
            "model-not-found",
            f"the HuggingFace hub has no model {model.source} that this token can read (RepositoryNotFoundError): "
            f"check models[].source for a typo (org/name, exactly as on https://huggingface.co/{model.source}); "
            "if the repository is private, export HF_TOKEN of an account with access and run up again",
            _tail(lines),
        )
    if _BAD_TOKEN.search(text):
        return Diagnosis(
            "hub-token",
            f"the HuggingFace hub rejected the token while downloading {model.source} (401/403); export a valid "
            "read token as HF_TOKEN (or fix the hf-secret in the namespace) and run up again",
            _tail(lines),
        )
    if _KV_CACHE.search(text):
        estimate = _ESTIMATED_LEN.search(text)
        fits = next((g for g in estimate.groups() if g), None) if estimate else None
        length = (
            f"models[].engine.max_model_len to {fits} or less" if fits else "a smaller models[].engine.max_model_len"
        )
        return Diagnosis(
            "kv-cache",
            f"model {model.name}: the KV cache is too small for the configured context length; set {length}"
            f"{_bigger_instance_hint(model)}",
            _tail(lines),
        )
    if _CUDA_OOM.search(text):
        return Diagnosis(
            "cuda-oom",
            f"model {model.name} ran out of GPU memory (CUDA out of memory); lower models[].engine.max_model_len "
            f"or max_num_seqs{_bigger_instance_hint(model)}",
            _tail(lines),
        )
    return None


def _bigger_instance_hint(model: ModelContext) -> str:
    """``, or a larger instance such as g5.12xlarge (4 x 24 GiB A10G)`` from sizing's alternatives."""
    placement = model.placement
    if placement is None:
        return ""
    current = placement.gpu_memory_gib * placement.tensor_parallel_size
    for alt in sorted(placement.alternatives, key=lambda a: a.gpu_memory_gib * a.tensor_parallel_size):
        if alt.gpu_memory_gib * alt.tensor_parallel_size > current:
            return (
                f", or give it more GPU memory: sizing's next option is {alt.instance_type} "
                f"({alt.tensor_parallel_size} x {alt.gpu_memory_gib:g} GiB {alt.gpu_name}, "
                f"tensor_parallel_size {alt.tensor_parallel_size})"
            )
    return ", or add an instance family with more GPU memory to pools.gpu.instance_families (e.g. g6e)"


# --- pods ----------------------------------------------------------------------------------------------------


def diagnose_pod(
    pod: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    *,
    model: ModelContext,
    log_lines: Sequence[str] = (),
    nodepools: Sequence[Mapping[str, Any]] = (),
) -> Diagnosis | None:
    """The first fatal condition of a model server pod, or None while it may still come up."""
    pod_name = name_of(pod)
    ordered = sort_events(events)
    for status in container_statuses(pod):
        waiting = status.get("state", {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in ("ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
            return _image_pull(pod_name, status, waiting, ordered)
        if reason == "CreateContainerError":
            # Often transient (the runtime timing out on a large image, a name still reserved): the watcher
            # gives it a short grace period before it is final.
            return Diagnosis(
                "container-create",
                f"pod {pod_name} cannot create its container: {waiting.get('message', reason)}; "
                "check the node's container runtime (kubectl describe pod) and run up again",
            )
        if reason == "CreateContainerConfigError":
            return Diagnosis(
                "container-config",
                f"pod {pod_name} cannot start its container: {waiting.get('message', reason)}; "
                + _config_error_fix(str(waiting.get("message", ""))),
            )
        terminated = status.get("lastState", {}).get("terminated") or status.get("state", {}).get("terminated")
        if terminated and terminated.get("reason") == "OOMKilled":
            return _oom_killed(pod, pod_name, status, model)
        if reason == "CrashLoopBackOff":
            found = diagnose_logs(log_lines, model)
            if found is not None:
                return found
            exit_code = (terminated or {}).get("exitCode")
            details = _tail(log_lines) or ("(the container wrote no log)",)
            probe = [e for e in ordered if e.get("reason") == "Unhealthy" and "liveness" in str(e.get("message"))]
            hint = (
                "the liveness probe killed it: give the model more start-up time (a startup probe) "
                if probe
                else "read the log lines below; fix the model source or engine settings "
            )
            return Diagnosis(
                "crash",
                f"model {model.name}'s server keeps crashing (CrashLoopBackOff, exit code {exit_code}); {hint}"
                "and run up again",
                details,
            )
    return diagnose_scheduling(pod, ordered, nodepools, model)


def _image_pull(
    pod_name: str, status: Mapping[str, Any], waiting: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> Diagnosis:
    image = status.get("image", "")
    failures = [
        str(e.get("message")) for e in events if e.get("reason") == "Failed" and "pull" in str(e.get("message"))
    ]
    evidence = failures[-1] if failures else str(waiting.get("message", ""))
    lowered = evidence.lower()
    if "not found" in lowered or "manifest unknown" in lowered:
        fix = "the image or tag does not exist: fix kubernetes.image"
    elif "unauthorized" in lowered or "denied" in lowered or "403" in lowered:
        fix = "the registry refused the pull: use a public image or add an imagePullSecret to the namespace"
    elif "toomanyrequests" in lowered or "rate limit" in lowered:
        fix = "the registry rate-limited the node: mirror the image (e.g. to ECR) and set kubernetes.image"
    else:
        fix = "check kubernetes.image and that the nodes reach the registry (NAT gateway or VPC endpoints)"
    return Diagnosis(
        "image-pull",
        f"pod {pod_name} cannot pull image {image} ({waiting.get('reason')}); {fix}",
        (evidence,) if evidence else (),
    )


def _config_error_fix(message: str) -> str:
    if "secret" in message and "not found" in message:
        return "export HF_TOKEN (and INFERCTL_API_KEY if you set one) so up can create the secret, then run up again"
    return "check the Deployment's environment and volumes, then run up again"


def _oom_killed(pod: Mapping[str, Any], pod_name: str, status: Mapping[str, Any], model: ModelContext) -> Diagnosis:
    limit = ""
    for container in pod.get("spec", {}).get("containers") or []:
        if container.get("name") == status.get("name"):
            limit = str((container.get("resources", {}).get("limits") or {}).get("memory", ""))
    where = f" of {limit}" if limit else ""
    return Diagnosis(
        "oom-killed",
        f"pod {pod_name} was OOMKilled: the model server used more than its memory limit{where} (host RAM, not "
        f"GPU); lower models[].engine.max_num_seqs or give it a larger instance{_bigger_instance_hint(model)}",
        (f"container {status.get('name')} restarted {status.get('restartCount', 0)} times",),
    )


# --- scheduling ----------------------------------------------------------------------------------------------


def diagnose_scheduling(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    nodepools: Sequence[Mapping[str, Any]],
    model: ModelContext | None = None,
) -> Diagnosis | None:
    """Karpenter's verdict on an unschedulable pod (v1.14.1's ``Failed to schedule pod, <err>``).

    Only the latest Karpenter event counts, and only if Karpenter has not nominated a node since. The formats
    and where they come from are in :mod:`inferctl.kube.karpenter_messages`.
    """
    karpenter = [e for e in sort_events(events) if event_source(e) == "karpenter"]
    if not karpenter or karpenter[-1].get("reason") != "FailedScheduling":
        return None
    if _is_scheduled(pod):
        return None
    message = str(karpenter[-1].get("message", ""))
    found = karpenter_messages.failures(message)
    if not found:
        return None
    pod_name = name_of(pod)
    pool_name = _pod_nodepool(pod)
    evidence = tuple(f"karpenter: {f.text}" for f in found)
    limited = next((f for f in found if f.kind == "limits" and (pool_name is None or f.pool == pool_name)), None)
    if limited is not None and limited.pool:
        pool = next((p for p in nodepools if name_of(p) == limited.pool), None)
        return Diagnosis(
            "nodepool-limits",
            f"NodePool {limited.pool} has reached its limits ({_limit_summary(pool, pod)}); raise "
            "pools.gpu.limits (gpus, cpu, memory_gib) in inferctl.yaml and run up again, or stop other work in "
            "that pool",
            evidence,
        )
    # Errors that only say "this pod selects another NodePool" are about the other pools: not the answer.
    relevant = [f for f in found if pool_name is None or not karpenter_messages.other_pool_only(f, pool_name)]
    where = f"NodePool {pool_name}" if pool_name else "any NodePool"
    for failure in relevant:
        fix = _INSTANCE_TYPE_FIXES.get(failure.kind)
        if fix is None:
            continue
        hint = _bigger_instance_hint(model) if model is not None and failure.kind != "offering" else ""
        return Diagnosis(
            "no-instance-type",
            f"Karpenter found no instance type in {where} for pod {pod_name}: {fix[0]} "
            f"(pod needs {failure.resources}); {fix[1]}{hint}",
            evidence,
        )
    if any(f.kind in ("incompatible", "all-filtered", "taint") for f in relevant) or not relevant:
        pools = ", ".join(sorted(name_of(p) for p in nodepools)) or "none exist"
        return Diagnosis(
            "no-nodepool",
            f"no Karpenter NodePool can run pod {pod_name} (NodePools: {pools}); apply the platform's NodePools "
            "(kubernetes.karpenter: true, or target aws) or widen pools.gpu.instance_families so one matches",
            evidence,
        )
    return None


# kind -> (what it means, what to change); kinds from karpenter_messages.classify.
_INSTANCE_TYPE_FIXES = {
    "resources": (
        "no type of the pool is big enough for the pod's requests",
        "add an instance family with more CPU, memory or GPUs to pools.gpu.instance_families",
    ),
    "requirements": (
        "no type of the pool meets the pod's node requirements (GPU memory per GPU, architecture)",
        "add an instance family whose GPUs hold the model to pools.gpu.instance_families, or re-run plan",
    ),
    "offering": (
        "no type has an available offering (capacity type and zone; spot may be exhausted or marked "
        "unavailable after failed launches)",
        "allow on-demand in pools.gpu.capacity_types, or add instance families or subnets in more zones",
    ),
}


def _pod_nodepool(pod: Mapping[str, Any]) -> str | None:
    """The NodePool the pod selects (inferctl renders ``karpenter.sh/nodepool`` in its nodeSelector)."""
    selector = pod.get("spec", {}).get("nodeSelector") or {}
    value = selector.get(KARPENTER_NODEPOOL)
    return str(value) if value else None


def is_gpu_node(node: Mapping[str, Any], gpu_pool: str | None) -> bool:
    """A node meant to carry GPUs: in the GPU NodePool, or of an instance type the catalog lists with GPUs."""
    labels = node.get("metadata", {}).get("labels") or {}
    if gpu_pool and labels.get(KARPENTER_NODEPOOL) == gpu_pool:
        return True
    from inferctl.catalog import get_instance
    from inferctl.errors import NotFoundError

    try:
        return get_instance(str(labels.get(NODE_INSTANCE_TYPE, ""))).gpu_count > 0
    except NotFoundError:
        return False


def diagnose_gpu_not_advertised(
    pod: Mapping[str, Any], events: Sequence[Mapping[str, Any]], gpu_nodes: Sequence[Mapping[str, Any]]
) -> Diagnosis | None:
    """The scheduler says "Insufficient nvidia.com/gpu" while a Ready GPU node advertises none: no device plugin.

    The watcher raises it only once it has held for a while, since a new node's plugin needs a minute to register.
    """
    if _is_scheduled(pod):
        return None
    scheduler = [e for e in sort_events(events) if event_source(e) == "default-scheduler"]
    if not scheduler or scheduler[-1].get("reason") != "FailedScheduling":
        return None
    if f"Insufficient {GPU_RESOURCE}" not in str(scheduler[-1].get("message", "")):
        return None
    blind = [node for node in gpu_nodes if _node_ready(node) and not _advertised_gpus(node)]
    if not blind:
        return None
    node = blind[0]
    instance = (node.get("metadata", {}).get("labels") or {}).get(NODE_INSTANCE_TYPE, "?")
    return Diagnosis(
        "gpu-not-advertised",
        f"GPU node {name_of(node)} ({instance}) joined the cluster but advertises no {GPU_RESOURCE}, so pod "
        f"{name_of(pod)} cannot be scheduled: the NVIDIA device plugin is not running there; keep a Bottlerocket "
        "NVIDIA AMI (pools.gpu.ami_alias: bottlerocket@...), which ships it, or install the NVIDIA device plugin "
        "DaemonSet, then run up again",
        (f"scheduler: {scheduler[-1].get('message', '')}",),
    )


def _node_ready(node: Mapping[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _advertised_gpus(node: Mapping[str, Any]) -> float:
    return parse_quantity(str((node.get("status", {}).get("allocatable") or {}).get(GPU_RESOURCE, "0")))


def _is_scheduled(pod: Mapping[str, Any]) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled":
            return bool(cond.get("status") == "True")
    return bool(pod.get("spec", {}).get("nodeName"))


def _limit_summary(pool: Mapping[str, Any] | None, pod: Mapping[str, Any]) -> str:
    """``nvidia.com/gpu: 16 in use of 16, pod needs 1`` for each limit the pod would break."""
    if pool is None:
        return "limits unknown: the NodePool was not found"
    limits: Mapping[str, Any] = pool.get("spec", {}).get("limits") or {}
    used: Mapping[str, Any] = pool.get("status", {}).get("resources") or {}
    wanted = pod_requests(pod)
    parts = []
    for resource, limit in limits.items():
        in_use = parse_quantity(used.get(resource, "0"))
        need = wanted.get(resource, 0.0)
        if in_use + need > parse_quantity(limit):
            parts.append(f"{resource}: {used.get(resource, '0')} in use of {limit}, pod needs {_fmt(resource, need)}")
    if not parts:
        parts = [f"{resource} limit {value}" for resource, value in limits.items()]
    return "; ".join(parts) or "no limits set"


def _fmt(resource: str, value: float) -> str:
    if resource == "memory" or resource.endswith("storage"):
        return f"{value / 2**30:g}Gi"
    return f"{value:g}"


# --- services ------------------------------------------------------------------------------------------------


def load_balancer_hostname(service: Mapping[str, Any]) -> str | None:
    for ingress in service.get("status", {}).get("loadBalancer", {}).get("ingress") or []:
        host = ingress.get("hostname") or ingress.get("ip")
        if host:
            return str(host)
    return None


def diagnose_load_balancer(
    service: Mapping[str, Any], events: Iterable[Mapping[str, Any]], *, waited_s: float, grace_s: float
) -> Diagnosis | None:
    """A LoadBalancer Service with no address after ``grace_s``: which controller is missing or failing."""
    if service.get("spec", {}).get("type") != "LoadBalancer" or load_balancer_hostname(service):
        return None
    if waited_s < grace_s:
        return None
    name = name_of(service)
    ordered = sort_events(events)
    failures = [e for e in ordered if e.get("type") == "Warning"]
    if failures:
        last = failures[-1]
        return Diagnosis(
            "load-balancer-failed",
            f"the load balancer of Service {name} failed ({last.get('reason')}): {last.get('message')}; fix the "
            "controller's permissions or subnet tags, or set endpoint.exposure.service_type: ClusterIP",
            tuple(f"{event_source(e)}: {e.get('reason')}: {e.get('message')}" for e in failures[-3:]),
        )
    return Diagnosis(
        "load-balancer-pending",
        f"Service {name} has waited {waited_s:.0f}s for a load balancer and no controller acted on it; install the "
        "AWS Load Balancer Controller (target aws installs it) or set endpoint.exposure.service_type: ClusterIP "
        "and use a port-forward",
        ("no events from a load balancer controller on the Service",),
    )


__all__ = [
    "Diagnosis",
    "ModelContext",
    "diagnose_load_balancer",
    "diagnose_logs",
    "diagnose_pod",
    "diagnose_scheduling",
    "load_balancer_hostname",
]
