"""The cold-start phase timeline from what the cluster records (pod conditions, Karpenter's NodeClaim, kubelet
events, vLLM's log lines), and ``up``/``status`` showing it. The API server is the fake at lightkube's transport;
the timeline itself is pure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.kube.timeline import pod_timeline, summarize
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.kube import (
    FakeCluster,
    RecordingReporter,
    kubeconfig,
    make_event,
    make_pod,
    set_rollout,
    stepping_poller,
)

NS = "inferctl"
POD = "llama-6d4cf56db6-x2x9p"
CLAIM = "g5-gpu-karpenter-x7k2p"
LABELS = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}


def at(seconds: int) -> str:
    return datetime.fromtimestamp(1_800_000_000 + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vllm_stamp(seconds: int) -> str:
    return datetime.fromtimestamp(1_800_000_000 + seconds, UTC).strftime("%m-%d %H:%M:%S")


def started_pod() -> dict[str, Any]:
    pod = make_pod(POD, NS, LABELS, node="ip-10-0-1-23.ec2.internal", phase="Running", ready=True,
                   container={"state": {"running": {"startedAt": at(150)}}})  # fmt: skip
    pod["metadata"]["creationTimestamp"] = at(0)
    for condition in pod["status"]["conditions"]:
        condition["lastTransitionTime"] = at({"PodScheduled": 70, "Ready": 190}[condition["type"]])
    return pod


def claim() -> dict[str, Any]:
    conditions = [("Launched", 8), ("Registered", 55), ("Initialized", 68)]
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": CLAIM, "creationTimestamp": at(2)},
        "status": {"conditions": [{"type": t, "status": "True", "lastTransitionTime": at(s)} for t, s in conditions]},
    }


def events() -> list[dict[str, Any]]:
    out = []
    for reason, seconds, message in [
        ("Nominated", 1, f"Pod should schedule on: nodeclaim/{CLAIM}"),
        ("Pulling", 72, 'Pulling image "vllm/vllm-openai:v0.32.0"'),
        ("Pulled", 148, 'Successfully pulled image "vllm/vllm-openai:v0.32.0" in 1m16s'),
    ]:
        event = make_event(POD, NS, reason, message)
        event["lastTimestamp"] = at(seconds)
        out.append(event)
    return out


LOG = [
    f"(EngineCore pid=70) INFO {vllm_stamp(160)} [default_loader.py:502] Loading weights took 9.81 seconds",
    f"(APIServer pid=1) INFO {vllm_stamp(189)} [entry.py:140] Starting vLLM server on http://0.0.0.0:8000",
]


def test_every_recorded_phase_in_order() -> None:
    phases = pod_timeline(started_pod(), events(), claim(), LOG)
    assert [(p.phase, p.seconds) for p in phases] == [
        ("pod created", 0),
        ("node requested", 2),
        ("node launched", 6),
        ("node registered", 47),
        ("node initialized", 13),
        ("pod scheduled", 2),
        ("image pull started", 2),
        ("image pulled", 76),
        ("container started", 2),
        ("weights loaded", 10),
        ("engine ready", 30),
    ]
    assert summarize(phases).startswith("pod created -> engine ready in 190s: node requested +2s")


# The kubelet's Pulled message when the node already has the image, without and with the KubeletEnsureSecretPulledImages
# check (kubernetes pkg/kubelet/images/image_manager.go); no Pulling event comes before it.
ALREADY_PRESENT = [
    'Container image "vllm/vllm-openai:v0.32.0" already present on machine',
    'Container image "vllm/vllm-openai:v0.32.0" already present on machine and can be accessed by the pod',
]


@pytest.mark.parametrize("message", ALREADY_PRESENT)
def test_an_image_already_on_the_node_is_not_a_pull(message: str) -> None:
    present = make_event(POD, NS, "Pulled", message)
    present["lastTimestamp"] = at(71)
    phases = pod_timeline(started_pod(), [present], None, LOG)
    names = [p.phase for p in phases]
    assert "image pulled" not in names and "image pull started" not in names
    assert ("image already on node", 1) in [(p.phase, p.seconds) for p in phases]
    assert names.index("pod scheduled") < names.index("image already on node") < names.index("container started")


def test_a_restart_finding_the_pulled_image_does_not_move_the_pull() -> None:
    restart = make_event(POD, NS, "Pulled", ALREADY_PRESENT[1])
    restart["lastTimestamp"] = at(400)
    phases = pod_timeline(started_pod(), [*events(), restart], claim(), LOG)
    assert ("image pulled", 76) in [(p.phase, p.seconds) for p in phases]
    assert "image already on node" not in [p.phase for p in phases]


def test_without_karpenter_or_a_pull_nothing_is_guessed() -> None:
    pod = started_pod()
    phases = pod_timeline(pod, [], None, [])
    assert [p.phase for p in phases] == ["pod created", "pod scheduled", "container started", "engine ready"]
    assert pod_timeline({"metadata": {}}, [], None, []) == []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeCluster]:
    cluster = FakeCluster()
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    yield cluster


def test_up_prints_the_timeline_and_status_keeps_it(fake: FakeCluster, tmp_path: Path) -> None:
    kubeconfig(tmp_path / "kubeconfig")
    cfg = PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": "kubernetes",
            "models": [{"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct"}],
            "kubernetes": {"kubeconfig": str(tmp_path / "kubeconfig"), "karpenter": True},
        }
    )

    def rolled_out(f: FakeCluster) -> None:
        f.put(claim())
        for event in events():
            f.put(event)
        stored = f.put(started_pod())
        stored["metadata"]["creationTimestamp"] = at(0)
        f.logs[(NS, POD)] = LOG
        set_rollout(f, "llama", NS, ready=1)

    fake.frames = [rolled_out]
    fake.proxy[(NS, "llama")] = (401, {"error": "Unauthorized"})
    target = KubernetesTarget(cfg, Home.from_env(), transport=fake, poller=stepping_poller())
    reporter = RecordingReporter()
    target.up(reporter)
    line = next(i for i in reporter.infos if i.startswith(f"cold start {POD}"))
    assert "engine ready in 190s" in line and "image pulled +76s" in line
    (kept,) = KubernetesTarget(cfg, Home.from_env(), transport=fake).status().last_cold_start
    assert (kept["model"], kept["pod"], kept["total_s"]) == ("llama", POD, 190.0)
