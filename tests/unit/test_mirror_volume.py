"""The mirror Job's download volume: a claim that cannot bind is named (and stops the wait), not shown as a node wait.

Real: the rendered mirror Job, :class:`~inferctl.kube.mirror_jobs.MirrorRunner`, lightkube. Fake: the API server
(:class:`tests.support.kube.FakeCluster` at lightkube's transport; no cluster runs here), with the objects the
controllers would write put in by hand: the Job controller's pod (the template's volumes, Pending), the ephemeral
volume controller's claim ``<pod>-work`` (kubernetes ``component-helpers/storage/ephemeral/ephemeral.go``) and the
events of kube-controller-manager's PV controller and of the CSI external-provisioner, with their reasons and texts
as :mod:`inferctl.kube.volume_claims` cites them (kubernetes ``pkg/controller/volume/events/event.go`` and
``persistentvolume/pv_controller.go``; kubernetes-csi/external-provisioner 0688604, its vendored
sig-storage-lib-external-provisioner v13 ``controller/controller.go``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.errors import OperationError
from inferctl.kube.mirror_jobs import MirrorRunner
from inferctl.kube.volume_claims import diagnose_claim, ephemeral_claim_names
from inferctl.render.model_cache import render_mirror_job
from tests.support.kube import Clock, FakeCluster, RecordingReporter, connect, make_event, make_pod
from tests.support.render import g5_xlarge_placement
from tests.unit.test_cache_cluster import JOB, JOB_POD, NS, REVISION, SOURCE, JobCluster, job_condition

CLAIM = f"{JOB_POD}-work"
# An external provisioner's events come from "<driver>_<hostname>_<uuid>" (NewProvisionController).
EBS_CONTROLLER = "ebs.csi.aws.com_ebs-csi-controller-6f7d9c8b5-x2p4q_5b0c2f8e-6d1a-4c1e-9b7a-2f3e4d5c6b7a"
PV_CONTROLLER = "persistentvolume-controller"
EBS = "ebs.csi.aws.com"
# The PV controller's text when the class lister finds no such class (the API's NotFound error for storageclasses).
CLASS_NOT_FOUND = 'storageclass.storage.k8s.io "fast-ssd" not found'
NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
EXTERNAL = (
    "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually by the "
    "system administrator. If volume creation is delayed, please verify that the provisioner is running and "
    "correctly registered."
)
# The EBS CSI driver's CreateVolume failure as the provisioner relays it: grpc-go's status text ("rpc error: code =
# %s desc = %s") around kubernetes-sigs/aws-ebs-csi-driver v1.64.0 pkg/driver/controller.go ("Could not create
# volume %q: %v", code Aborted for an EC2 error) and pkg/cloud/cloud.go ("could not create volume in EC2: %w"); the
# EC2 API error itself is elided.
EBS_FAILED = (
    'rpc error: code = Aborted desc = Could not create volume "pvc-5c1e": could not create volume in EC2: '
    "operation error EC2: CreateVolume, ..."
)


def _config(storage_class: str | None = "fast-ssd") -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": "kubernetes",
            "models": [{"name": "llama", "source": SOURCE, "revision": REVISION}],
            "kubernetes": {"karpenter": True, "storage_class": storage_class},
            "cache": {"enabled": True, "bucket": "inferctl-model-cache-test", "region": "us-east-1"},
        }
    )


def _job(config: PlatformConfig) -> dict[str, Any]:
    return render_mirror_job(config, config.models[0], g5_xlarge_placement("llama"), karpenter=True)


def _pending_pod(job: dict[str, Any]) -> dict[str, Any]:
    """The Job controller's pod: the template's volumes, not scheduled (its volume is not bound)."""
    pod = make_pod(JOB_POD, NS, {"batch.kubernetes.io/job-name": JOB})
    pod["spec"]["volumes"] = job["spec"]["template"]["spec"]["volumes"]
    return pod


def _claim(job: dict[str, Any], *, phase: str = "Pending", provisioner: str | None = None) -> dict[str, Any]:
    """The ephemeral volume controller's claim from the template (owned by the pod)."""
    (work,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if "ephemeral" in v]
    template = work["ephemeral"]["volumeClaimTemplate"]
    annotations = {"volume.kubernetes.io/storage-provisioner": provisioner} if provisioner else {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": CLAIM,
            "namespace": NS,
            "labels": template["metadata"]["labels"],
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": JOB_POD, "uid": "u1", "controller": True}],
        },
        "spec": template["spec"],
        "status": {"phase": phase},
    }


def _event(reason: str, message: str, *, at: float, component: str = PV_CONTROLLER, warning: bool = False) -> Any:
    return make_event(CLAIM, NS, reason, message, component=component, type_="Warning" if warning else "Normal",
                      at=at, kind="PersistentVolumeClaim")  # fmt: skip


def test_a_storage_class_that_does_not_exist_is_named_with_the_fix(tmp_path: Path) -> None:
    job = _job(_config("fast-ssd"))
    fake = FakeCluster(namespaces=(NS,))
    fake.put(_pending_pod(job))
    fake.put(_claim(job))
    fake.put(_event("ProvisioningFailed", CLASS_NOT_FOUND, at=1, warning=True))
    clock = Clock()
    reporter = RecordingReporter()
    runner = MirrorRunner(connect(fake, tmp_path), reporter, timeout_s=7200, poller=clock.poller(interval_s=10))
    with pytest.raises(OperationError) as caught:
        runner.run([job])
    message = caught.value.message
    assert f"the mirror Job {JOB} cannot get its volume: StorageClass 'fast-ssd' does not exist" in message
    assert "set kubernetes.storage_class to a StorageClass the cluster has" in message
    assert any(CLASS_NOT_FOUND in line for line in caught.value.details)
    shown = [detail for name, detail in reporter.phases if name == "mirroring"]
    assert shown and all("StorageClass fast-ssd not found" in d and "CPU node" not in d for d in shown)
    assert 60 <= clock.now < 120  # held for a minute (the PV controller retries), then stopped: not 2 hours


def test_a_silent_provisioner_is_named_after_five_minutes(tmp_path: Path) -> None:
    job = _job(_config("gp3"))
    fake = FakeCluster(namespaces=(NS,))
    fake.put(_pending_pod(job))
    fake.put(_claim(job, provisioner=EBS))
    fake.put(_event("ExternalProvisioning", EXTERNAL, at=1))
    clock = Clock()
    reporter = RecordingReporter()
    runner = MirrorRunner(connect(fake, tmp_path), reporter, timeout_s=7200, poller=clock.poller(interval_s=10))
    with pytest.raises(OperationError, match=f"no provisioner acts on it \\({EBS} is not running"):
        runner.run([job])
    assert any(f"volume {CLAIM}: waiting for {EBS}" in d for _, d in reporter.phases)
    assert 300 <= clock.now < 400


def test_a_provisioner_that_recovers_does_not_stop_the_wait(tmp_path: Path) -> None:
    """A failed attempt, then the provisioner's retry succeeds: the Job runs and completes."""
    job = _job(_config("gp3"))
    fake = JobCluster()
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})

    def failing(f: FakeCluster) -> None:
        f.put(_pending_pod(job))
        f.put(_claim(job, provisioner=EBS))
        f.put(_event("Provisioning", f'External provisioner is provisioning volume for claim "{NS}/{CLAIM}"', at=1,
                     component=EBS_CONTROLLER))  # fmt: skip
        f.put(_event("ProvisioningFailed", EBS_FAILED, at=2, component=EBS_CONTROLLER, warning=True))

    def bound(f: FakeCluster) -> None:
        f.put(_event("ProvisioningSucceeded", "Successfully provisioned volume pvc-5c1e", at=40,
                     component=EBS_CONTROLLER))  # fmt: skip
        f.put(_claim(job, phase="Bound", provisioner=EBS))

    frames: list[Callable[[FakeCluster], None]] = [failing, lambda f: None, lambda f: None, bound, lambda f: None]
    fake.job_frames = [*frames, job_condition("Complete")]
    clock = Clock()
    reporter = RecordingReporter()
    MirrorRunner(connect(fake, tmp_path), reporter, timeout_s=7200, poller=clock.poller(interval_s=10)).run([job])
    assert any(f"{EBS} failed: rpc error: code = Aborted" in d for _, d in reporter.phases)
    assert any("mirrored to s3://" in line for line in reporter.infos)


def test_a_class_that_binds_on_the_node_is_a_node_wait(tmp_path: Path) -> None:
    """WaitForFirstConsumer: the claim waits for the scheduler's node, so the wait is for a CPU node, as before."""
    job = _job(_config("gp3"))
    fake = FakeCluster(namespaces=(NS,))
    fake.put(_pending_pod(job))
    fake.put(_claim(job))
    fake.put(_event("WaitForFirstConsumer", "waiting for first consumer to be created before binding", at=1))
    clock = Clock()
    reporter = RecordingReporter()
    runner = MirrorRunner(connect(fake, tmp_path), reporter, timeout_s=100, poller=clock.poller(interval_s=10))
    with pytest.raises(OperationError, match="did not finish in 100 s"):
        runner.run([job])
    assert all(d.endswith("waiting for a CPU node") for name, d in reporter.phases if name == "mirroring")


def test_no_default_class_names_the_setting() -> None:
    """The aws target leaves storage_class unset (the program's gp3 class is the default): with no default class
    at all the PV controller says so, and the fix is the same setting."""
    claim = {"metadata": {"name": CLAIM}, "spec": {}, "status": {"phase": "Pending"}}
    found = diagnose_claim(claim, [_event("FailedBinding", NO_CLASS, at=1)], what=f"the mirror Job {JOB}")
    assert found is not None and found.diagnosis is not None
    assert found.diagnosis.reason == "volume-no-class"
    assert "the cluster has no default StorageClass; set kubernetes.storage_class" in found.diagnosis.message


def test_the_newest_provisioning_event_decides() -> None:
    """An old failure does not count once the provisioner has moved on; a bound claim needs nothing."""
    claim = {"metadata": {"name": CLAIM, "annotations": {}}, "spec": {}, "status": {"phase": "Pending"}}
    failed = _event("ProvisioningFailed", CLASS_NOT_FOUND, at=1, warning=True)
    later = _event("WaitForFirstConsumer", "waiting for first consumer to be created before binding", at=5)
    assert diagnose_claim(claim, [later, failed], what="x") is None  # order of the list does not matter
    found = diagnose_claim(claim, [failed], what="x")
    assert found is not None and found.diagnosis is not None and found.diagnosis.reason == "volume-class-missing"
    assert diagnose_claim({**claim, "status": {"phase": "Bound"}}, [failed], what="x") is None
    assert diagnose_claim(None, [failed], what="x") is None


def test_claims_are_named_after_the_pod_and_volume() -> None:
    pod = _pending_pod(_job(_config("gp3")))
    assert ephemeral_claim_names(pod) == [CLAIM]
    assert ephemeral_claim_names(_pending_pod(_job(_config(None)))) == []  # an emptyDir: no claim
