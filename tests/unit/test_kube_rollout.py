"""The rollout watcher end to end through the real client: live phases, diagnosis instead of a hang, timeout.

The cluster is :class:`tests.support.kube.FakeCluster` at lightkube's HTTP transport (no API server runs here);
each test scripts what the cluster looks like at each poll (one frame per GET of the Deployment). Time is a
counter advanced by the watcher's own ``sleep``, so a 60 s grace period costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inferctl.errors import OperationError
from inferctl.kube.diagnose import ModelContext
from inferctl.kube.rollout import RolloutWatcher, WatchedDeployment
from inferctl.poller import Poller
from tests.support.karpenter import ALL_FILTERED, LIMITS_EXCEEDED
from tests.support.kube import (
    Clock,
    FakeCluster,
    RecordingReporter,
    connect,
    make_deployment,
    make_event,
    make_node,
    make_nodeclaim,
    make_nodepool,
    make_pod,
    set_rollout,
)

NS = "inferctl"
SELECTOR = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
GPU_REQUESTS = {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}
POD = "llama-6d4cf56db6-x2x9p"
MODEL = ModelContext("llama", "meta-llama/Meta-Llama-3-8B-Instruct", gated=True)
Frame = Callable[[FakeCluster], None]


def cluster(frames: list[Frame]) -> FakeCluster:
    fake = FakeCluster(namespaces=[NS])
    fake.put(make_nodepool("g5-gpu-karpenter", limits={"nvidia.com/gpu": "1"}, resources={"nvidia.com/gpu": "1"}))
    fake.put(make_deployment("llama", NS, SELECTOR))
    fake.frames = list(frames)
    return fake


def watch(fake: FakeCluster, tmp_path: Path, *, timeout_s: float = 1800) -> tuple[RecordingReporter, Clock]:
    reporter, clock = RecordingReporter(), Clock()
    watcher = RolloutWatcher(
        connect(fake, tmp_path),
        reporter,
        timeout_s=timeout_s,
        poller=Poller(interval_s=10, clock=clock, sleep=clock.sleep),
    )
    watcher.wait([WatchedDeployment("llama", MODEL)])
    return reporter, clock


def pending(message: str = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.") -> Frame:
    def frame(fake: FakeCluster) -> None:
        set_rollout(fake, "llama", NS, ready=0)
        fake.put(make_pod(POD, NS, SELECTOR, requests=GPU_REQUESTS, unschedulable=message))
        fake.put(make_event(POD, NS, "FailedScheduling", message, component="default-scheduler", type_="Warning"))

    return frame


def nominated(fake: FakeCluster) -> None:
    fake.put(make_nodeclaim("g5-gpu-karpenter-x7k2p", "g5-gpu-karpenter"))
    message = "Pod should schedule on: nodeclaim/g5-gpu-karpenter-x7k2p"
    fake.put(make_event(POD, NS, "Nominated", message, component="karpenter", at=5))


def on_node(container: dict[str, object], *, phase: str = "Pending", ready: bool = False) -> Frame:
    def frame(fake: FakeCluster) -> None:
        if fake.get("Node", "ip-10-0-1-23.ec2.internal") is None:
            fake.put(make_node("ip-10-0-1-23.ec2.internal", "g5.xlarge", nodepool="g5-gpu-karpenter", gpus=1))
        pod = make_pod(
            POD,
            NS,
            SELECTOR,
            node="ip-10-0-1-23.ec2.internal",
            requests=GPU_REQUESTS,
            phase=phase,
            container=container,
            ready=ready,
        )
        fake.put(pod)

    return frame


def pulling(fake: FakeCluster) -> None:
    on_node({"state": {"waiting": {"reason": "ContainerCreating"}}})(fake)
    fake.put(make_event(POD, NS, "Pulling", 'Pulling image "vllm/vllm-openai:v0.32.0"', at=60))


def loading(fake: FakeCluster) -> None:
    on_node({"state": {"running": {"startedAt": "2026-07-20T10:05:00Z"}}}, phase="Running")(fake)
    fake.logs[(NS, POD)] = ["INFO vLLM API server version 0.32.0", "INFO Loading weights took 41.20 seconds"]


def ready(fake: FakeCluster) -> None:
    on_node({"state": {"running": {"startedAt": "2026-07-20T10:05:00Z"}}}, phase="Running", ready=True)(fake)
    set_rollout(fake, "llama", NS, ready=1)


def test_successful_rollout_reports_each_phase(tmp_path: Path) -> None:
    fake = cluster([pending(), nominated, pulling, loading, ready])
    reporter, _ = watch(fake, tmp_path)
    assert reporter.phase_names() == [
        "unschedulable",
        "waiting for a Karpenter node",
        "pulling image",
        "loading model",
        "ready",
    ]
    assert ("loading model", "INFO Loading weights took 41.20 seconds") in reporter.phases
    assert "NodeClaim g5-gpu-karpenter-x7k2p launched: g5.xlarge spot in us-east-1b" in reporter.infos
    assert reporter.infos[-1] == "model llama: ready"
    # The server log was read only once the container ran, and only its tail.
    log_reads = [r for r in fake.requests if r.path.endswith("/log")]
    assert log_reads and all(r.query["tailLines"] == "40" for r in log_reads)


def test_image_pull_back_off_stops_the_wait(tmp_path: Path) -> None:
    back_off = on_node({"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}})
    fake = cluster([pending(), back_off])
    with pytest.raises(OperationError) as caught:
        watch(fake, tmp_path)
    assert "cannot pull image vllm/vllm-openai:v0.32.0 (ImagePullBackOff)" in caught.value.message


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            [
                "OSError: You are trying to access a gated repo.",
                "403 Client Error. Cannot access gated repo for url https://huggingface.co/meta-llama/...",
            ],
            "accept the licence at https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct",
        ),
        (
            ["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB."],
            "ran out of GPU memory (CUDA out of memory); lower models[].engine.max_model_len",
        ),
        (
            [
                "ValueError: The model's max seq len (8192) is larger than the maximum number of tokens that can be "
                "stored in KV cache (5936). Try increasing `gpu_memory_utilization` or decreasing `max_model_len`"
            ],
            "the KV cache is too small for the configured context length; set models[].engine.max_model_len to 5936",
        ),
        (["Traceback (most recent call last):", "SystemExit: 3"], "keeps crashing (CrashLoopBackOff, exit code 1)"),
    ],
    ids=["gated-model", "cuda-oom", "kv-cache", "unknown-crash"],
)
def test_crash_loop_is_diagnosed_from_the_log(tmp_path: Path, log: list[str], expected: str) -> None:
    def crash(fake: FakeCluster) -> None:
        container = {
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            "restartCount": 2,
        }
        on_node(container, phase="Running")(fake)
        fake.logs[(NS, POD)] = log

    with pytest.raises(OperationError) as caught:
        watch(cluster([pending(), crash]), tmp_path)
    assert expected in caught.value.message
    assert caught.value.details[-1] == f"log: {log[-1]}"


def test_oom_killed_stops_the_wait(tmp_path: Path) -> None:
    oom = on_node(
        {
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
            "restartCount": 1,
        },
        phase="Running",
    )
    with pytest.raises(OperationError, match="was OOMKilled"):
        watch(cluster([pending(), oom]), tmp_path)


def test_nodepool_limits_are_diagnosed_once_they_persist(tmp_path: Path) -> None:
    message = LIMITS_EXCEEDED  # Karpenter v1.14.1's wording: see tests/support/karpenter.py

    def limited(fake: FakeCluster) -> None:
        pending()(fake)
        fake.put(make_event(POD, NS, "FailedScheduling", message, component="karpenter", type_="Warning", at=3))

    fake = cluster([limited])
    with pytest.raises(OperationError) as caught:
        watch(fake, tmp_path)
    assert "NodePool g5-gpu-karpenter has reached its limits (nvidia.com/gpu: 1 in use of 1, pod needs 1)" in (
        caught.value.message
    )
    gets = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/deployments/llama")]
    assert len(gets) == 7  # seen at t=0, diagnosed when it still holds 60 s later (polls every 10 s)


def test_no_matching_nodepool_is_diagnosed(tmp_path: Path) -> None:
    message = ALL_FILTERED  # Karpenter v1.14.1's wording: see tests/support/karpenter.py

    def unmatched(fake: FakeCluster) -> None:
        pending()(fake)
        fake.put(make_event(POD, NS, "FailedScheduling", message, component="karpenter", type_="Warning", at=3))

    with pytest.raises(OperationError, match=r"no Karpenter NodePool can run pod .*\(NodePools: g5-gpu-karpenter\)"):
        watch(cluster([unmatched]), tmp_path)


def test_timeout_names_the_last_phase(tmp_path: Path) -> None:
    with pytest.raises(OperationError) as caught:
        watch(cluster([pending()]), tmp_path, timeout_s=30)
    assert "did not finish within kubernetes.rollout_timeout_s=30s" in caught.value.message
    assert "last: unschedulable: 0/2 nodes are available" in caught.value.message


def test_gpu_node_without_device_plugin_is_diagnosed_once_it_persists(tmp_path: Path) -> None:
    """Karpenter launched a g5 node, but it advertises no nvidia.com/gpu (no device plugin): the workshop's
    "device plugin not advertising GPUs" pain. The diagnosis waits 3 x the scheduling grace (the plugin needs time
    to register on a fresh node), then names the node and the fix."""

    def blind_node(fake: FakeCluster) -> None:
        pending()(fake)
        fake.put(make_node("ip-10-0-1-23.ec2.internal", "g5.xlarge", nodepool="g5-gpu-karpenter", gpus=0))

    fake = cluster([blind_node])
    with pytest.raises(OperationError) as caught:
        watch(fake, tmp_path)
    message = caught.value.message
    assert message.startswith("GPU node ip-10-0-1-23.ec2.internal (g5.xlarge) joined the cluster but advertises no")
    assert "NVIDIA device plugin is not running there" in message
    assert "pools.gpu.ami_alias" in message
    gets = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/deployments/llama")]
    assert len(gets) == 19  # first seen at t=0, raised when it still holds 180 s later (polls every 10 s)


def test_gpu_diagnosis_needs_a_ready_node_without_gpus() -> None:
    from inferctl.kube.diagnose import diagnose_gpu_not_advertised, is_gpu_node
    from tests.support.kube import make_pod

    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    pod = make_pod(POD, NS, SELECTOR, requests=GPU_REQUESTS, unschedulable=message)
    events = [make_event(POD, NS, "FailedScheduling", message, component="default-scheduler", type_="Warning")]
    blind = make_node("n1", "g5.xlarge", nodepool="g5-gpu-karpenter", gpus=0)
    working = make_node("n2", "g5.xlarge", nodepool="g5-gpu-karpenter", gpus=1)
    not_ready = make_node("n3", "g5.xlarge", gpus=0)
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert diagnose_gpu_not_advertised(pod, events, [blind]) is not None
    assert diagnose_gpu_not_advertised(pod, events, [working]) is None
    assert diagnose_gpu_not_advertised(pod, events, [not_ready]) is None
    other = [make_event(POD, NS, "FailedScheduling", "0/3 nodes: Insufficient cpu.", component="default-scheduler")]
    assert diagnose_gpu_not_advertised(pod, other, [blind]) is None
    system = make_node("s1", "m5.xlarge", nodegroup="system")
    assert is_gpu_node(blind, "g5-gpu-karpenter")
    assert is_gpu_node(make_node("x", "g6.2xlarge"), None)  # a GPU type outside Karpenter
    assert not is_gpu_node(system, "g5-gpu-karpenter")


def test_create_container_error_gets_a_grace_period(tmp_path: Path) -> None:
    """A CreateContainerError that clears (the runtime timed out once) does not stop the rollout; one that
    persists stops it after the grace, not at once."""
    failing = on_node(
        {"state": {"waiting": {"reason": "CreateContainerError", "message": "context deadline exceeded"}}}
    )
    reporter, _ = watch(cluster([pending(), failing, failing, loading, ready]), tmp_path)
    assert reporter.phase_names()[-1] == "ready"

    fake = cluster([pending(), failing])
    with pytest.raises(OperationError, match="cannot create its container: context deadline exceeded"):
        watch(fake, tmp_path)
    gets = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/deployments/llama")]
    assert len(gets) == 8  # first seen at the second poll, raised when it still holds 60 s later
