"""``up`` with the S3 model cache: the mirror Job runs (and must finish) before the Deployment that streams from
the bucket; it is skipped when the manifest is already there; a failed mirror is diagnosed in one sentence.

Real: sizing, renders, lightkube, boto3 against moto's S3 server on loopback (the "is it mirrored?" check).
Fakes: the API server (:class:`tests.support.kube.FakeCluster` at lightkube's transport), with the Job
controller's status scripted per GET of the Job; AWS S3 (moto), because neither a cluster nor AWS exists here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from inferctl.cache.mirror import mirror_directory
from inferctl.cache.mirror_failures import diagnose_mirror
from inferctl.config.models import PlatformConfig
from inferctl.demo_model import ensure_demo_model
from inferctl.errors import OperationError
from inferctl.home import Home
from inferctl.kube.mirror_jobs import job_finished
from inferctl.render.model_cache import render_mirror_job
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.kube import FakeCluster, RecordingReporter, kubeconfig, make_pod, stepping_poller
from tests.support.render import g5_xlarge_placement
from tests.support.s3 import FAKE_CREDENTIALS, REGION, LoopbackS3, loopback_s3, needs_moto

__all__ = ["loopback_s3"]

pytestmark = needs_moto
NS = "inferctl"
SOURCE = "meta-llama/Meta-Llama-3-8B-Instruct"
REVISION = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"
JOB = "llama-mirror"
JOB_POD = "llama-mirror-7xk2p"


class JobCluster(FakeCluster):
    """The fake API server plus a scripted Job controller: one step per GET of a Job."""

    def __init__(self) -> None:
        super().__init__()
        self.job_frames: list[Callable[[FakeCluster], None]] = []
        self.applied_when_done: list[str] = []

    def _get(self, api_version: str, kind: str, plural: str, namespace: str | None, name: str) -> httpx2.Response:
        if kind == "Job" and self.job_frames and self.get("Job", name, namespace) is not None:
            self.job_frames.pop(0)(self)
        return super()._get(api_version, kind, plural, namespace, name)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_s3: LoopbackS3) -> Iterator[JobCluster]:
    cluster = JobCluster()
    monkeypatch.setattr("inferctl.kube.client.make_transport", lambda: cluster)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    monkeypatch.setenv("AWS_ENDPOINT_URL", loopback_s3.endpoint)
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    yield cluster


def config(tmp_path: Path, bucket: str) -> PlatformConfig:
    path = tmp_path / "kubeconfig"
    kubeconfig(path)
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": "kubernetes",
            "models": [{"name": "llama", "source": SOURCE, "revision": REVISION}],
            "kubernetes": {"kubeconfig": str(path), "karpenter": True},
            "cache": {"enabled": True, "bucket": bucket, "region": REGION},
        }
    )


def target(cfg: PlatformConfig) -> KubernetesTarget:
    tgt = KubernetesTarget(cfg, Home.from_env(), poller=stepping_poller())
    return tgt


def job_running(fake: FakeCluster) -> None:
    pod = make_pod(JOB_POD, NS, {"batch.kubernetes.io/job-name": JOB}, node="ip-10-0-9-9", phase="Running",
                   container={"state": {"running": {}}})  # fmt: skip
    fake.put(pod)
    fake.logs[(NS, JOB_POD)] = ["[ 42.0%]  6.30/15.00 GB uploaded model-00002-of-00004.safetensors"]


def job_condition(kind: str) -> Callable[[FakeCluster], None]:
    def step(fake: FakeCluster) -> None:
        job = fake.get("Job", JOB, NS)
        assert job is not None
        job["status"] = {"conditions": [{"type": kind, "status": "True"}]}
        if isinstance(fake, JobCluster):
            fake.applied_when_done = list(fake.applied())

    return step


def _stop_at_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rollout after the mirror is the Kubernetes target's own business (tested elsewhere): stop there."""

    def stop(self: Any, watched: Any) -> None:
        raise StopAfterApply

    monkeypatch.setattr("inferctl.kube.rollout.RolloutWatcher.wait", stop)


class StopAfterApply(Exception):
    pass


def test_up_mirrors_before_the_deployment(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stop_at_rollout(monkeypatch)
    fake.job_frames = [job_running, job_running, job_condition("Complete")]
    reporter = RecordingReporter()
    with pytest.raises(StopAfterApply):
        target(config(tmp_path, loopback_s3.bucket)).up(reporter)
    applied = fake.applied()
    assert f"Job/{JOB}" in fake.applied_when_done and "Deployment/llama" not in fake.applied_when_done
    assert "Deployment/llama" in applied
    for needed in ("ServiceAccount/inferctl-model-mirror", "ConfigMap/inferctl-model-mirror", "Secret/hf-secret"):
        assert applied.index(needed) < applied.index(f"Job/{JOB}")
    assert any("42.0%" in detail for _, detail in reporter.phases)
    assert any(f"s3://{loopback_s3.bucket}/models/{SOURCE}/{REVISION}/" in line for line in reporter.infos)


def test_up_skips_the_mirror_when_the_manifest_is_there(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(ensure_demo_model(Home(tmp_path / "demo-home")), snapshot)
    mirror_directory(loopback_s3.client(), snapshot, bucket=loopback_s3.bucket, model_id=SOURCE, revision=REVISION)
    _stop_at_rollout(monkeypatch)
    reporter = RecordingReporter()
    with pytest.raises(StopAfterApply):
        target(config(tmp_path, loopback_s3.bucket)).up(reporter)
    assert f"Job/{JOB}" not in fake.applied() and "Deployment/llama" in fake.applied()
    assert any("already in the bucket" in line for line in reporter.infos)


def test_a_gated_failure_is_one_sentence_and_no_deployment(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3
) -> None:
    def failed(f: FakeCluster) -> None:
        job_running(f)
        f.logs[(NS, JOB_POD)] = [
            "huggingface_hub.errors.GatedRepoError: 403 Client Error.",
            f"Cannot access gated repo for url https://huggingface.co/api/models/{SOURCE}/revision/{REVISION}.",
        ]
        job_condition("Failed")(f)

    fake.job_frames = [job_running, failed]
    with pytest.raises(OperationError, match="gated") as caught:
        target(config(tmp_path, loopback_s3.bucket)).up(RecordingReporter())
    assert "accept the licence" in caught.value.message
    assert "Deployment/llama" not in fake.applied()


def test_a_finished_job_from_an_earlier_run_is_replaced(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path, loopback_s3.bucket)
    earlier = render_mirror_job(cfg, cfg.models[0], g5_xlarge_placement("llama"), karpenter=True)
    fake.put({**earlier, "status": {"conditions": [{"type": "Failed", "status": "True"}]}})
    _stop_at_rollout(monkeypatch)
    fake.job_frames = [lambda f: None, job_condition("Complete")]
    with pytest.raises(StopAfterApply):
        target(cfg).up(RecordingReporter())
    assert f"jobs/{JOB}" in fake.deleted()
    assert f"Job/{JOB}" in fake.applied()  # then applied afresh


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        ("OSError: [Errno 28] No space left on device", "scratch volume is full"),
        ("botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling PutObject", "AccessDenied"),
        ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", "no AWS credentials"),
        ("404 Client Error. Revision Not Found for url: https://huggingface.co/...", "revision does not exist"),
    ],
)
def test_diagnoses(line: str, cause: str) -> None:
    found = diagnose_mirror(["downloading", line])
    assert found is not None and cause in found.cause


def test_job_finished_reads_conditions() -> None:
    assert job_finished({"status": {}}) is None
    assert job_finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) == "Failed"
    assert job_finished({"status": {"conditions": [{"type": "Complete", "status": "False"}]}}) is None


def test_cache_warm_runs_only_the_mirror(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from inferctl.cli.app import main

    cfg = config(tmp_path, loopback_s3.bucket)
    path = tmp_path / "inferctl.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True)))
    fake.job_frames = [job_condition("Complete")]
    assert main(["cache", "warm", "-c", str(path), "--output", "json"]) == 0, capsys.readouterr().err
    applied = fake.applied()
    assert f"Job/{JOB}" in applied and "NetworkPolicy/inferctl-model-mirror" in applied
    assert not any(item.startswith(("Deployment/", "Service/")) for item in applied)


def test_down_deletes_the_mirror_jobs_pods_too(fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3) -> None:
    """A batch/v1 Job deleted without a propagation policy orphans its pods (the API's default for Jobs): a
    finished mirror pod would outlive 'down' and keep a created namespace alive ("other pod(s) run there")."""
    cfg = config(tmp_path, loopback_s3.bucket)
    job = render_mirror_job(cfg, cfg.models[0], g5_xlarge_placement("llama"), karpenter=True)
    fake.put({**job, "status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    fake.put(make_pod(JOB_POD, NS, {"batch.kubernetes.io/job-name": JOB}, node="ip-10-0-9-9", phase="Succeeded"))
    target(cfg).down(RecordingReporter())
    assert fake.get("Job", JOB, NS) is None
    assert fake.get("Pod", JOB_POD, NS) is None


def test_up_adds_the_compile_job_until_its_cache_is_written(
    fake: JobCluster, tmp_path: Path, loopback_s3: LoopbackS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compile Job takes a GPU node: ``up`` applies it with the Deployment (never waits for it) while the
    bucket lacks its compile cache, and leaves it out once the manifest is there."""
    from inferctl.cache.compile_cache import publish_tree
    from inferctl.cache.location import compile_cache_location

    snapshot = tmp_path / "snapshot"
    shutil.copytree(ensure_demo_model(Home(tmp_path / "demo-home")), snapshot)
    mirror_directory(loopback_s3.client(), snapshot, bucket=loopback_s3.bucket, model_id=SOURCE, revision=REVISION)
    _stop_at_rollout(monkeypatch)
    cfg = config(tmp_path, loopback_s3.bucket)
    reporter = RecordingReporter()
    with pytest.raises(StopAfterApply):
        target(cfg).up(reporter)
    compile_jobs = [name for name in fake.applied() if name.startswith("Job/llama-compile-")]
    assert len(compile_jobs) == 1 and "Deployment/llama" in fake.applied()
    assert any("compile cache: Job llama-compile-" in line for line in reporter.infos)

    location = compile_cache_location(cfg, cfg.models[0], g5_xlarge_placement("llama"))
    assert location is not None and location.uri in " ".join(reporter.infos)
    (tmp_path / "vllm" / "torch_compile_cache").mkdir(parents=True)
    (tmp_path / "vllm" / "torch_compile_cache" / "artifact").write_bytes(b"compiled")
    publish_tree(loopback_s3.client(), tmp_path / "vllm", bucket=loopback_s3.bucket, prefix=location.prefix)
    before = len(fake.applied())
    again = RecordingReporter()
    with pytest.raises(StopAfterApply):
        target(cfg).up(again)
    assert not [name for name in fake.applied()[before:] if name.startswith("Job/llama-compile-")]
    assert any(f"compile cache: already written to {location.uri}" in line for line in again.infos)
