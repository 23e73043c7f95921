"""Diagnosis rules and readiness rules: pure functions over realistic pods, events, NodePools and log lines."""

from __future__ import annotations

import pytest

from inferctl.errors import OperationError
from inferctl.kube import karpenter_messages
from inferctl.kube.diagnose import (
    ModelContext,
    diagnose_load_balancer,
    diagnose_logs,
    diagnose_pod,
)
from inferctl.kube.objects import parse_quantity, pod_requests
from inferctl.kube.rollout import describe_nodeclaim, pod_progress, rollout_state
from tests.support.karpenter import (
    ALL_FILTERED,
    CPU_POOL,
    GPU_POOL,
    LIMITS_EXCEEDED,
    NO_OFFERING,
    NO_TYPE_BIG_ENOUGH,
    NO_TYPE_MEETS_REQUIREMENTS,
    NODE_LIMIT_EXHAUSTED,
    NOMINATED,
    TAINT_ONLY,
    karpenter_event,
)
from tests.support.kube import make_event, make_nodeclaim, make_nodepool, make_pod
from tests.support.render import g5_xlarge_placement

NS = "inferctl"
LABELS = {"inferctl.io/model": "llama"}
LLAMA = ModelContext("llama", "meta-llama/Meta-Llama-3-8B-Instruct", gated=True)
GPU_REQUESTS = {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}


def crashing(**last: object) -> dict[str, object]:
    return {
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", **last}},
        "restartCount": 3,
    }


def test_quantities_and_requests() -> None:
    assert parse_quantity("3920m") == pytest.approx(3.92)
    assert parse_quantity("14162Mi") == 14162 * 2**20
    assert parse_quantity("1e3") == 1000
    with pytest.raises(ValueError):
        parse_quantity("12 GB")
    pod = make_pod("p", NS, LABELS, requests={"cpu": "500m", "memory": "1Gi"})
    pod["spec"]["containers"].append({"name": "b", "resources": {"requests": {"cpu": "250m"}}})
    pod["spec"]["initContainers"] = [{"name": "init", "resources": {"requests": {"cpu": "2"}}}]
    assert pod_requests(pod) == {"cpu": 2.0, "memory": 2.0**30}


def test_gated_model_crash_says_accept_licence_and_check_token() -> None:
    lines = [
        "INFO 07-20 10:00:01 api_server.py:912] vLLM API server version 0.32.0",
        "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-66)",
        "Cannot access gated repo for url https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct/resolve/main/config.json.",
    ]
    pod = make_pod("llama-1", NS, LABELS, node="n1", phase="Running", container=crashing())
    found = diagnose_pod(pod, [], model=LLAMA, log_lines=lines)
    assert found is not None and found.reason == "gated-model"
    assert "accept the licence at https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct" in found.message
    assert "check the token has read access" in found.message
    assert found.details[-1].startswith("log: Cannot access gated repo")


# huggingface_hub 2.4.0 utils/_http.py hf_raise_for_status ("Repository Not Found for url: ...") and
# transformers 5.19.0 utils/hub.py cached_files ("... is not a valid model identifier listed on ...").
REPO_NOT_FOUND_LOG = [
    "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: Root=1-6a1b)",
    "Repository Not Found for url: https://huggingface.co/api/models/meta-llama/Meta-Llama-3-8B-Instruc/revision/main.",
    "Please make sure you specified the correct `repo_id` and `repo_type`.",
    "If you are trying to access a private or gated repo, make sure you are authenticated and your token has the "
    "required permissions.",
    "OSError: meta-llama/Meta-Llama-3-8B-Instruc is not a local folder and is not a valid model identifier listed on "
    "'https://huggingface.co/models'",
]


def test_a_model_id_that_does_not_exist_is_not_a_licence_problem() -> None:
    typo = ModelContext("llama", "meta-llama/Meta-Llama-3-8B-Instruc", gated=False)
    pod = make_pod("llama-1", NS, LABELS, node="n1", phase="Running", container=crashing())
    found = diagnose_pod(pod, [], model=typo, log_lines=REPO_NOT_FOUND_LOG)
    assert found is not None and found.reason == "model-not-found"
    assert "has no model meta-llama/Meta-Llama-3-8B-Instruc" in found.message
    assert "check models[].source for a typo" in found.message
    assert "licence" not in found.message
    # The transformers wording alone (the hub's lines scrolled out of the tail) is recognised too.
    assert diagnose_logs(REPO_NOT_FOUND_LOG[-1:], typo) is not None


def test_a_rejected_token_is_its_own_diagnosis() -> None:
    lines = ["huggingface_hub.errors.HfHubHTTPError: 401 Client Error: Invalid credentials in Authorization header"]
    found = diagnose_logs(lines, LLAMA)
    assert found is not None and found.reason == "hub-token"


def test_create_container_error_is_a_settling_diagnosis() -> None:
    """CreateContainerError may clear on its own (a runtime timeout): its own reason, which the watcher holds
    for a grace period (test_kube_rollout), unlike a missing Secret (CreateContainerConfigError)."""
    message = "context deadline exceeded"
    container = {"state": {"waiting": {"reason": "CreateContainerError", "message": message}}}
    found = diagnose_pod(make_pod("p", NS, LABELS, node="n1", container=container), [], model=LLAMA)
    assert found is not None and found.reason == "container-create"


def test_kv_cache_too_small_suggests_the_length_vllm_estimates_and_a_bigger_instance() -> None:
    bigger = g5_xlarge_placement(instance_type="g5.12xlarge", tensor_parallel_size=4)
    placement = g5_xlarge_placement(alternatives=(bigger,))
    line = (
        "ValueError: To serve at least one request with the models's max seq len (32768), (4.0 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (2.1 GiB). Based on the available memory, "
        "the estimated maximum model length is 17200. Try increasing `gpu_memory_utilization` or decreasing "
        "`max_model_len` when initializing the engine."
    )
    found = diagnose_logs([line], ModelContext("llama", "x/y", placement=placement))
    assert found is not None and found.reason == "kv-cache"
    assert "set models[].engine.max_model_len to 17200 or less" in found.message
    assert "sizing's next option is g5.12xlarge (4 x 24 GiB A10G" in found.message


def test_cuda_out_of_memory() -> None:
    line = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has 22.1 GiB in use"
    found = diagnose_logs(["loading", line], LLAMA)
    assert found is not None and found.reason == "cuda-oom"
    assert "lower models[].engine.max_model_len" in found.message


def test_crash_without_known_cause_shows_the_last_log_lines() -> None:
    pod = make_pod("llama-1", NS, LABELS, node="n1", phase="Running", container=crashing())
    lines = [f"line {i}" for i in range(30)]
    found = diagnose_pod(pod, [], model=LLAMA, log_lines=lines)
    assert found is not None and found.reason == "crash"
    assert "CrashLoopBackOff, exit code 1" in found.message
    assert found.details == tuple(f"log: line {i}" for i in range(18, 30))


def test_oom_killed_names_the_memory_limit() -> None:
    pod = make_pod(
        "llama-1",
        NS,
        LABELS,
        node="n1",
        phase="Running",
        requests=GPU_REQUESTS,
        container=crashing(reason="OOMKilled", exitCode=137),
    )
    found = diagnose_pod(pod, [], model=LLAMA)
    assert found is not None and found.reason == "oom-killed"
    assert "OOMKilled" in found.message and "memory limit of 12Gi" in found.message


def test_image_pull_back_off_quotes_the_registry() -> None:
    container = {"state": {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}}}
    pod = make_pod("llama-1", NS, LABELS, node="n1", container=container, image="vllm/vllm-openai:v9.9.9")
    events = [
        make_event("llama-1", NS, "Pulling", 'Pulling image "vllm/vllm-openai:v9.9.9"', at=1),
        make_event(
            "llama-1",
            NS,
            "Failed",
            'Failed to pull image "vllm/vllm-openai:v9.9.9": rpc error: code = NotFound desc = failed to pull and '
            "unpack image: not found",
            type_="Warning",
            at=2,
        ),
    ]
    found = diagnose_pod(pod, events, model=LLAMA)
    assert found is not None and found.reason == "image-pull"
    assert "cannot pull image vllm/vllm-openai:v9.9.9" in found.message
    assert "fix kubernetes.image" in found.message


def test_missing_secret_is_a_config_error_diagnosis() -> None:
    container = {
        "state": {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "hf-secret" not found'}}
    }
    found = diagnose_pod(make_pod("p", NS, LABELS, node="n1", container=container), [], model=LLAMA)
    assert found is not None and "export HF_TOKEN" in found.message


def _karpenter_failed(message: str, at: float = 5) -> dict[str, object]:
    return karpenter_event("llama-1", NS, "FailedScheduling", message, at=at)


def _gpu_pod() -> dict[str, object]:
    """A model pod as inferctl renders it with Karpenter: it selects the GPU NodePool."""
    pod = make_pod("llama-1", NS, LABELS, requests=GPU_REQUESTS, unschedulable="0/2 nodes are available")
    pod["spec"]["nodeSelector"] = {"karpenter.sh/nodepool": GPU_POOL, "kubernetes.io/os": "linux"}
    return pod


@pytest.mark.parametrize("message", [LIMITS_EXCEEDED, NODE_LIMIT_EXHAUSTED], ids=["types-exceed", "node-limit"])
def test_nodepool_limit_names_pool_and_limit(message: str) -> None:
    """Karpenter v1.14.1 prints the pool as ``(NodePool=<name>)`` (operatorpkg serrors); see tests/support."""
    pool = make_nodepool(
        GPU_POOL,
        limits={"cpu": "1000", "memory": "4000Gi", "nvidia.com/gpu": "4"},
        resources={"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"},
        nodes=4,
    )
    found = diagnose_pod(_gpu_pod(), [_karpenter_failed(message)], model=LLAMA, nodepools=[pool])
    assert found is not None and found.reason == "nodepool-limits"
    assert found.message.startswith(f"NodePool {GPU_POOL} has reached its limits")
    assert "nvidia.com/gpu: 4 in use of 4, pod needs 1" in found.message
    assert "raise pools.gpu.limits" in found.message
    assert found.details[0] == f"karpenter: {message.removeprefix('Failed to schedule pod, ').split('; ')[0]}"


@pytest.mark.parametrize(
    ("message", "meaning", "fix"),
    [
        (NO_TYPE_MEETS_REQUIREMENTS, "meets the pod's node requirements", "pools.gpu.instance_families"),
        (NO_TYPE_BIG_ENOUGH, "big enough for the pod's requests", "more CPU, memory or GPUs"),
        (NO_OFFERING, "no type has an available offering", "allow on-demand in pools.gpu.capacity_types"),
    ],
    ids=["requirements", "resources", "offering"],
)
def test_no_instance_type_family_says_which_criterion_failed(message: str, meaning: str, fix: str) -> None:
    found = diagnose_pod(_gpu_pod(), [_karpenter_failed(message)], model=LLAMA)
    assert found is not None and found.reason == "no-instance-type"
    assert found.message.startswith(f"Karpenter found no instance type in NodePool {GPU_POOL} for pod llama-1")
    assert meaning in found.message and fix in found.message
    assert '"nvidia.com/gpu":"' in found.message  # the pod's needs, as Karpenter computed them


def test_the_other_pools_selector_mismatch_is_not_the_answer() -> None:
    """The CPU pool's "incompatible requirements, key karpenter.sh/nodepool ..." is noise for a GPU pod."""
    found = diagnose_pod(_gpu_pod(), [_karpenter_failed(NO_TYPE_MEETS_REQUIREMENTS)], model=LLAMA)
    assert found is not None and found.reason == "no-instance-type"
    assert len(found.details) == 2  # both errors are shown as evidence


@pytest.mark.parametrize("message", [ALL_FILTERED, TAINT_ONLY], ids=["all-filtered", "taint"])
def test_no_pool_can_take_the_pod(message: str) -> None:
    pools = [make_nodepool(GPU_POOL), make_nodepool(CPU_POOL)]
    found = diagnose_pod(_gpu_pod(), [_karpenter_failed(message)], model=LLAMA, nodepools=pools)
    assert found is not None and found.reason == "no-nodepool"
    assert f"(NodePools: {GPU_POOL}, {CPU_POOL})" in found.message


def test_messages_in_older_formats_are_not_recognised() -> None:
    """Pre-v1 wordings (``incompatible with nodepool "X"``, ``exceed limits for nodepool: "X"``) are gone in
    v1.14.1: nothing may be concluded from them, and the watcher keeps waiting (or reads the cluster state)."""
    old = 'incompatible with nodepool "g5-gpu-karpenter", incompatible requirements'
    assert diagnose_pod(_gpu_pod(), [_karpenter_failed(old)], model=LLAMA) is None
    assert karpenter_messages.failures(old) is None


def test_split_keeps_several_key_errors_with_their_pool() -> None:
    message = (
        "Failed to schedule pod, incompatible requirements, key a, a In [x] not in a In [y]; key b, b In [x] not in "
        "b In [z]; all available instance types exceed limits for nodepool (NodePool=p)"
    )
    parts = karpenter_messages.failures(message)
    assert parts is not None and [p.kind for p in parts] == ["incompatible", "limits"]
    assert parts[1].pool == "p"


def test_a_later_nomination_supersedes_a_scheduling_failure() -> None:
    events = [
        _karpenter_failed(NO_OFFERING, at=1),
        karpenter_event("llama-1", NS, "Nominated", NOMINATED, at=9),
    ]
    assert diagnose_pod(_gpu_pod(), events, model=LLAMA) is None


def test_load_balancer_pending_without_controller_after_grace() -> None:
    service = {"metadata": {"name": "llama"}, "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}
    assert diagnose_load_balancer(service, [], waited_s=30, grace_s=600) is None
    found = diagnose_load_balancer(service, [], waited_s=601, grace_s=600)
    assert found is not None and found.reason == "load-balancer-pending"
    assert "install the AWS Load Balancer Controller" in found.message
    failed = make_event(
        "llama",
        NS,
        "FailedDeployModel",
        "AccessDenied: elasticloadbalancing:CreateLoadBalancer",
        component="service",
        type_="Warning",
        kind="Service",
    )
    found = diagnose_load_balancer(service, [failed], waited_s=601, grace_s=600)
    assert found is not None and "FailedDeployModel" in found.message and "AccessDenied" in found.message
    service["status"] = {"loadBalancer": {"ingress": [{"hostname": "k8s-x.elb.us-east-1.amazonaws.com"}]}}
    assert diagnose_load_balancer(service, [], waited_s=9999, grace_s=600) is None


def _deployment(generation: int = 1, **status: object) -> dict[str, object]:
    return {"metadata": {"name": "llama", "generation": generation}, "spec": {"replicas": 2}, "status": status}


def test_rollout_state_follows_kubectl() -> None:
    assert not rollout_state(_deployment(2, observedGeneration=1)).done
    assert "1 of 2 new replicas" in rollout_state(_deployment(observedGeneration=1, updatedReplicas=1)).message
    old = rollout_state(_deployment(observedGeneration=1, updatedReplicas=2, replicas=3))
    assert "1 old replicas" in old.message
    waiting = _deployment(observedGeneration=1, updatedReplicas=2, replicas=2, availableReplicas=1)
    assert "1 of 2 updated replicas" in rollout_state(waiting).message
    done = _deployment(observedGeneration=1, updatedReplicas=2, replicas=2, availableReplicas=2)
    assert rollout_state(done).done
    stuck = _deployment(
        observedGeneration=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "x"}],
    )
    with pytest.raises(OperationError, match="exceeded its progress deadline"):
        rollout_state(stuck)


def test_pod_progress_phases() -> None:
    pending = make_pod("llama-1", NS, LABELS, unschedulable="0/2 nodes are available: 2 Insufficient nvidia.com/gpu.")
    failed = make_event(
        "llama-1",
        NS,
        "FailedScheduling",
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
        component="default-scheduler",
        type_="Warning",
    )
    assert pod_progress(pending, [failed]).phase == "unschedulable"
    nominated = make_event(
        "llama-1",
        NS,
        "Nominated",
        "Pod should schedule on: nodeclaim/g5-gpu-karpenter-x7k2p",
        component="karpenter",
        at=3,
    )
    claim = make_nodeclaim("g5-gpu-karpenter-x7k2p", "g5-gpu-karpenter")
    progress = pod_progress(pending, [failed, nominated], [claim])
    assert progress.phase == "waiting for a Karpenter node"
    assert progress.detail == "NodeClaim g5-gpu-karpenter-x7k2p launched: g5.xlarge spot in us-east-1b"
    creating = make_pod(
        "llama-1", NS, LABELS, node="n1", container={"state": {"waiting": {"reason": "ContainerCreating"}}}
    )
    pulling = make_event("llama-1", NS, "Pulling", 'Pulling image "vllm/vllm-openai:v0.32.0"', at=10)
    assert pod_progress(creating, [pulling]).phase == "pulling image"
    running = make_pod("llama-1", NS, LABELS, node="n1", phase="Running", container={"state": {"running": {}}})
    loading = pod_progress(running, [], last_log_line="Loading weights took 41.2 seconds")
    assert (loading.phase, loading.detail) == ("loading model", "Loading weights took 41.2 seconds")
    ready = make_pod(
        "llama-1", NS, LABELS, node="n1", phase="Running", ready=True, container={"state": {"running": {}}}
    )
    assert pod_progress(ready, []).phase == "ready"


def test_describe_nodeclaim_before_launch() -> None:
    claim = make_nodeclaim("g5-gpu-karpenter-abc", "g5-gpu-karpenter", launched=False)
    assert describe_nodeclaim(claim) == "NodeClaim g5-gpu-karpenter-abc requested: instance type pending"
