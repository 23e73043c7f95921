"""``up --model NAME`` on a cluster deploys one model of several; the platform's shared parts stay the whole
platform's: the gateway keeps every other model's route (a sleeping model's wake worker, registered by the
gateway pod's registrar) and the timeouts its request chain needs, and on aws the stack keeps what the other
models use (the S3 model cache).

Seams: the API server is :class:`tests.support.kube.FakeCluster` at lightkube's HTTP transport (no cluster runs
here); on aws the preflight and ``pulumi up`` are replaced (no AWS here), and the program the stack would run is
checked under Pulumi's mocks (tests.support.aws). Sizing, rendering and the apply are the real ones.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferctl.cli.app import main
from inferctl.config.loader import apply_overrides
from inferctl.config.models import PlatformConfig
from inferctl.errors import PlanError
from inferctl.home import Home
from inferctl.targets.aws import AwsTarget
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.aws import WORKSHOP_MODEL, of_type, run_program
from tests.support.kube import FakeCluster, RecordingReporter, kubeconfig, make_pod, serve, set_rollout, stepping_poller
from tests.support.render import g5_xlarge_placement
from tests.unit.test_autoscaling_kube import PROMETHEUS, interceptor_service

NS = "inferctl"
GATEWAY = "genai-gateway"
SLEEPY_WAKE_URL = "http://genai-qwen-wake.keda.svc:8080"
# The objects of the model left out of the partial up: its own, and its wake path in KEDA's namespace.
QWEN_OBJECTS = [
    ("Deployment", "qwen", NS),
    ("Service", "qwen", NS),
    ("NetworkPolicy", "qwen", NS),
    ("ScaledObject", "qwen", NS),
    ("InterceptorRoute", "qwen-wake", NS),
    ("InterceptorRoute", "qwen-status", NS),
    ("Service", "genai-qwen-wake", "keda"),
]


def platform_data(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    return {
        "name": "genai",
        "target": "kubernetes",
        "models": [
            {"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct"},
            {"name": "qwen", "source": "Qwen/Qwen3-8B", "autoscaling": {"min_replicas": 0, "max_replicas": 2}},
        ],
        "kubernetes": {"kubeconfig": str(path)},
        "observability": {"prometheus_url": PROMETHEUS},
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    cluster = serve(FakeCluster(), monkeypatch, tmp_path)
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}, "status": {"phase": "Active"}})
    cluster.put(interceptor_service())
    return cluster


def rolled_out(fake: FakeCluster) -> None:
    for model in ("llama", "qwen"):
        if fake.get("Deployment", model, NS) is None:  # not in this up
            continue
        labels = {"inferctl.io/platform": "genai", "inferctl.io/model": model}
        fake.put(make_pod(f"{model}-1", NS, labels, node="n1", phase="Running", ready=True, container={"state": {}}))
        set_rollout(fake, model, NS, ready=1)


def full_up(tmp_path: Path, fake: FakeCluster) -> PlatformConfig:
    whole = PlatformConfig.model_validate(platform_data(tmp_path))
    fake.frames = [rolled_out]
    KubernetesTarget(whole, Home.from_env(), poller=stepping_poller()).up(RecordingReporter())
    fake.frames = [rolled_out]
    return whole


def partial_up(whole: PlatformConfig, model: str, reporter: RecordingReporter | None = None) -> None:
    """What ``up --model MODEL`` runs: the config narrowed to the model, with the file's models beside it."""
    one = apply_overrides(whole, model=model)
    target = KubernetesTarget(one, Home.from_env(), poller=stepping_poller(), platform_models=whole.models)
    target.up(reporter or RecordingReporter())


def wake_workers(fake: FakeCluster) -> list[dict[str, Any]]:
    """The wake workers the gateway pods' registrar posts (none: no registrar container)."""
    gateway = fake.get("Deployment", GATEWAY, NS)
    assert gateway is not None
    containers = gateway["spec"]["template"]["spec"]["containers"]
    registrar = next((c for c in containers if c["name"] == "wake-registrar"), None)
    if registrar is None:
        return []
    found: list[dict[str, Any]] = json.loads(
        next(e["value"] for e in registrar["env"] if e["name"] == "INFERCTL_WAKE_WORKERS")
    )
    return found


def snapshot(fake: FakeCluster, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Any]:
    """What each object says (its spec, a ConfigMap's data), without the server's bookkeeping; None: absent."""
    found = {key: fake.get(*key) for key in keys}
    return {
        key: None if obj is None else copy.deepcopy({k: v for k, v in obj.items() if k not in ("metadata", "status")})
        for key, obj in found.items()
    }


def test_up_of_one_model_keeps_the_gateway_and_the_wake_path_of_the_others(fake: FakeCluster, tmp_path: Path) -> None:
    whole = full_up(tmp_path, fake)
    assert [w["url"] for w in wake_workers(fake)] == [SLEEPY_WAKE_URL]
    shared = [("Deployment", GATEWAY, NS), ("Service", GATEWAY, NS), ("ConfigMap", f"{GATEWAY}-wake-registrar", NS)]
    before = snapshot(fake, shared + QWEN_OBJECTS)
    assert all(before.values()), before

    mark = len(fake.requests)
    partial_up(whole, "llama")
    applied = [f"{r.body['kind']}/{r.body['metadata']['name']}" for r in fake.requests[mark:] if r.method == "PATCH"]
    assert "Deployment/llama" in applied and f"Deployment/{GATEWAY}" in applied
    assert not [name for name in applied if "qwen" in name]  # the other model's own objects: not touched
    # The gateway as the full up left it: qwen's wake worker still registered, the same timeouts and drain.
    assert snapshot(fake, shared + QWEN_OBJECTS) == before
    assert [w["url"] for w in wake_workers(fake)] == [SLEEPY_WAKE_URL]


def test_when_the_others_do_not_size_the_gateway_still_routes_them(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sizing the other models can fail (e.g. the hub unreachable for a profile): up says so, and their wake
    worker keeps a timeout at least as long as before: the longest wake the request chain allows
    (sizing.request_timeouts with no placement)."""
    whole = full_up(tmp_path, fake)
    (sized,) = wake_workers(fake)
    placements = KubernetesTarget(apply_overrides(whole, model="llama"), Home.from_env()).placements()

    def unsizable(config: PlatformConfig, **_: Any) -> Any:
        raise PlanError("no profile for Qwen/Qwen3-8B: the HuggingFace hub did not answer")

    monkeypatch.setattr("inferctl.sizing.plan_platform", unsizable)
    monkeypatch.setattr(KubernetesTarget, "placements", lambda self: placements)
    reporter = RecordingReporter()
    partial_up(whole, "llama", reporter)
    assert any("do not size (no profile for Qwen/Qwen3-8B" in w for w in reporter.warnings), reporter.warnings
    (worker,) = wake_workers(fake)
    assert (worker["url"], worker["models"]) == (SLEEPY_WAKE_URL, [{"id": "qwen"}])
    assert worker["http_pool"]["timeout_secs"] >= sized["http_pool"]["timeout_secs"]


def test_a_model_of_the_file_never_deployed_gets_no_route_from_a_partial_up(fake: FakeCluster, tmp_path: Path) -> None:
    """The first up of a platform can be one model's: the sleeping model in the file has no wake path yet, so
    the gateway must not route to it (a worker at a wake host that does not exist)."""
    whole = PlatformConfig.model_validate(platform_data(tmp_path))
    fake.frames = [rolled_out]
    partial_up(whole, "llama")
    assert fake.get("Deployment", "qwen", NS) is None and wake_workers(fake) == []
    fake.frames = [rolled_out]
    partial_up(whole, "qwen")  # then the sleeping one: llama runs, qwen gets its wake path and worker
    assert [w["url"] for w in wake_workers(fake)] == [SLEEPY_WAKE_URL]
    assert fake.get("Service", "genai-qwen-wake", "keda") is not None


def test_the_cli_hands_the_whole_platform_to_a_partial_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "inferctl.yaml"
    file.write_text(yaml.safe_dump(platform_data(tmp_path)), encoding="utf-8")
    seen: list[tuple[list[str], list[str]]] = []

    def recorded_up(self: KubernetesTarget, reporter: Any) -> list[Any]:
        seen.append(([m.name for m in self.config.models], [m.name for m in self.platform_config().models]))
        return []

    monkeypatch.setattr(KubernetesTarget, "up", recorded_up)
    for argv in (["--model", "qwen"], [], ["--model", "Qwen/Qwen2.5-7B"]):
        assert main(["up", "-c", str(file), "-y", *argv]) == 0, capsys.readouterr().err
    assert seen == [
        (["qwen"], ["llama", "qwen"]),  # one model deployed; the gateway from both
        (["llama", "qwen"], ["llama", "qwen"]),
        (["qwen2-5-7b"], ["llama", "qwen", "qwen2-5-7b"]),  # a source served by --model joins them
    ]


def test_on_aws_a_partial_up_keeps_the_stack_of_the_whole_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Pulumi program creates the S3 model cache only while a model uses it: deployed from the one model
    ``--model`` picked (here one that does not use the cache), it would destroy the bucket the others stream from."""
    from inferctl.aws import preflight, stack
    from inferctl.progress import NullReporter

    whole = PlatformConfig.model_validate(
        {
            "name": "workshop",
            "target": "aws",
            "models": [
                {"name": "llama3", "source": WORKSHOP_MODEL, "revision": "abc123"},
                {"name": "small", "source": WORKSHOP_MODEL, "cache": False},
            ],
            "cache": {"enabled": True},
        }
    )
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    report = preflight.PreflightReport()
    report.add("pulumi", "ok", str(tmp_path / "pulumi"))
    monkeypatch.setattr(preflight, "run_preflight", lambda *a, **k: report)
    deployed: list[PlatformConfig] = []

    def deploy(config: PlatformConfig, *args: Any, **kwargs: Any) -> dict[str, Any]:
        deployed.append(config)
        return {"cluster_name": "workshop", "endpoint": "https://x", "model_cache_bucket": "workshop-model-cache-abc"}

    monkeypatch.setattr(stack, "deploy", deploy)
    models: list[list[str]] = []

    def kubernetes_up(self: KubernetesTarget, reporter: Any) -> list[Any]:
        models.append([m.name for m in self.config.models])
        return []

    monkeypatch.setattr(KubernetesTarget, "up", kubernetes_up)
    monkeypatch.setattr(KubernetesTarget, "placements", lambda self: {"small": g5_xlarge_placement("small")})
    one = apply_overrides(whole, model="small")
    AwsTarget(one, Home(tmp_path), platform_models=whole.models).up(NullReporter())
    (config,) = deployed
    assert [m.name for m in config.models] == ["llama3", "small"]  # the file's order
    assert models == [["small"]]  # the Kubernetes side deploys the one model
    assert of_type(run_program(config).resources, "aws:s3/bucket:Bucket")  # the bucket stays in the program
