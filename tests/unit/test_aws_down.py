"""``down --target aws --platform``: no ``pulumi destroy`` while the Kubernetes teardown is incomplete (a load
balancer, Karpenter nodes, an EBS volume the CSI driver still has to delete), the leftover scan whatever destroy
did, and an unreachable API endpoint explained.

Seams, because neither a cluster nor the Pulumi engine runs here: the Kubernetes API is
:class:`tests.support.kube.FakeCluster` behind the real client and the real teardown (the target's kubeconfig is
replaced by one with a token, as the exec credential would call AWS); ``pulumi destroy`` and the pulumi CLI lookup
are recorded instead of run; the leftover scan's AWS clients are botocore clients with a Stubber.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from inferctl.errors import OperationError, UserError
from inferctl.home import Home
from inferctl.targets.aws import AwsTarget
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.aws import StubbedAws, aws_config
from tests.support.kube import LB_FINALIZER, FakeCluster, RecordingReporter, kubeconfig, stepping_poller

NS = "inferctl"
LABELS = {"inferctl.io/platform": "workshop", "inferctl.io/model": "llama3"}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeCluster]:
    cluster = FakeCluster(namespaces=("default", "kube-system", NS))
    monkeypatch.setattr("inferctl.kube.client.make_transport", lambda: cluster)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    yield cluster


class Pulumi:
    """Records what the target asks of the Automation API (the engine and its CLI cannot run here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.destroyed: list[Any] = []
        self.fail = fail
        monkeypatch.setattr("inferctl.aws.stack.ensure_pulumi", lambda *a, **k: Path("/usr/bin/pulumi"))
        monkeypatch.setattr("inferctl.aws.stack.destroy", self.destroy)

    def destroy(self, config: Any, home: Home, path: Path, reporter: Any) -> bool:
        self.destroyed.append(config)
        if self.fail:
            raise OperationError("pulumi destroy failed: DependencyViolation; fix it and re-run")
        return True


def aws_target(tmp_path: Path, aws: Any, *, s3_cache: bool = False, **kubernetes: Any) -> AwsTarget:
    """The AWS target with saved outputs, reaching the fake cluster through a token kubeconfig; ``kubernetes``
    sets fields of ``config.kubernetes``; ``s3_cache`` serves the model from the S3 cache."""
    config = aws_config()
    config = config.model_copy(update={"kubernetes": config.kubernetes.model_copy(update=kubernetes)})
    if s3_cache:
        models = [model.model_copy(update={"revision": "abc123", "cache": True}) for model in config.models]
        config = config.model_copy(update={"models": models})
    target = AwsTarget(config, Home.from_env(), clients=aws)
    target.save_outputs({"cluster_name": "workshop", "endpoint": "https://x", "certificate_authority": "Q0E="})
    path = kubeconfig(tmp_path / "token-kubeconfig")

    def on_fake_cluster(*, include_karpenter: bool) -> KubernetesTarget:
        settings = target.config.kubernetes.model_copy(
            update={"kubeconfig": str(path), "context": None, "delete_timeout_s": 30}
        )
        config = target.config.model_copy(update={"kubernetes": settings})
        return KubernetesTarget(config, target.home, include_karpenter=include_karpenter, poller=stepping_poller(5))

    target.kubernetes = on_fake_cluster  # type: ignore[method-assign]
    return target


def stuck_load_balancer(fake: FakeCluster) -> None:
    """A LoadBalancer Service whose NLB the cloud never releases (its cleanup finalizer stays)."""
    fake.lb_cleanup_ticks = 10**9
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "llama3", "namespace": NS, "labels": LABELS, "finalizers": [LB_FINALIZER]},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 8000}]},
        }
    )


def no_leftovers(aws: StubbedAws) -> None:
    aws.stub("ec2").add_response("describe_instances", {"Reservations": []}, None)
    aws.stub("elbv2").add_response("describe_load_balancers", {"LoadBalancers": []}, {})
    aws.stub("elb").add_response("describe_load_balancers", {"LoadBalancerDescriptions": []}, {})
    aws.stub("logs").add_response(
        "describe_log_groups", {"logGroups": []}, {"logGroupNamePrefix": "/aws/eks/workshop/"}
    )
    aws.stub("ec2").add_response("describe_volumes", {"Volumes": []}, None)


def test_an_incomplete_teardown_stops_before_destroy_and_says_what_remains(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck_load_balancer(fake)
    pulumi = Pulumi(monkeypatch)
    aws = StubbedAws()  # nothing queued: any AWS call would fail the test
    with pytest.raises(OperationError) as refused:
        aws_target(tmp_path, aws).down(RecordingReporter(), platform=True)
    assert pulumi.destroyed == []
    assert refused.value.message.startswith("Kubernetes teardown is incomplete, so nothing was destroyed")
    assert "add --force to destroy anyway" in refused.value.message
    assert "Service inferctl/llama3 (type LoadBalancer: its NLB)" in refused.value.details
    assert any(d.startswith("teardown: ") for d in refused.value.details)
    assert fake.get("Service", "llama3", NS) is not None


def test_a_model_of_the_platform_still_running_also_stops_destroy(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Kubernetes teardown keeps the shared objects when another model of the platform runs, and says so
    as a warning only; destroying then would take that model's nodes and NLB with no teardown at all."""
    fake.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "qwen", "namespace": NS, "labels": {**LABELS, "inferctl.io/model": "qwen"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "qwen"}},
                "template": {"spec": {"containers": []}},
            },
        }
    )
    pulumi = Pulumi(monkeypatch)
    with pytest.raises(OperationError) as refused:
        aws_target(tmp_path, StubbedAws()).down(RecordingReporter(), platform=True)
    assert pulumi.destroyed == []
    assert "Deployment inferctl/qwen (of platform workshop: a model or its gateway)" in refused.value.details


def test_force_destroys_anyway_and_the_leftover_scan_runs(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck_load_balancer(fake)
    pulumi = Pulumi(monkeypatch)
    aws = StubbedAws()
    no_leftovers(aws)
    target = aws_target(tmp_path, aws)
    target.force_destroy = True
    reporter = RecordingReporter()
    target.down(reporter, platform=True)
    aws.assert_done()
    assert len(pulumi.destroyed) == 1
    assert any("(--force: destroying anyway)" in w for w in reporter.warnings)
    assert target.saved_outputs() is None


def test_the_leftover_scan_runs_even_when_destroy_fails(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulumi = Pulumi(monkeypatch, fail=True)
    aws = StubbedAws()
    no_leftovers(aws)
    reporter = RecordingReporter()
    with pytest.raises(OperationError, match="DependencyViolation"):
        aws_target(tmp_path, aws).down(reporter, platform=True)
    aws.assert_done()  # the four describe calls of the scan happened
    assert len(pulumi.destroyed) == 1
    assert "nothing tagged for cluster workshop remains" in reporter.infos


def test_a_complete_teardown_destroys_with_a_placeholder_for_the_endpoint_blocks(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulumi = Pulumi(monkeypatch)
    aws = StubbedAws()
    no_leftovers(aws)
    aws_target(tmp_path, aws).down(RecordingReporter(), platform=True)
    (config,) = pulumi.destroyed
    assert config.aws.public_access_cidrs == ["192.0.2.1/32"]  # destroy creates nothing; never 0.0.0.0/0


@pytest.mark.parametrize("argv", [["--target", "aws"], ["--target", "kubernetes", "--platform"]])
def test_force_is_only_for_down_platform_on_aws(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inferctl.cli.app import main

    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    assert main(["down", *argv, "--force", "--yes"]) == 2
    assert "--force applies only to 'down --target aws --platform'" in capsys.readouterr().err


# --- model_cache: pvc: the EBS volumes go before the EBS CSI driver ----------------------------------------------

# A volume the EBS CSI driver provisioned for the model cache's claim, as the API serves it (Kubernetes core/v1
# PersistentVolume: spec.csi.driver, claimRef, persistentVolumeReclaimPolicy; lightkube-models 1.37 decodes it).
# The driver's name: kubernetes-sigs/aws-ebs-csi-driver, charts/aws-ebs-csi-driver templates/ebs-csi-default-sc.yaml.
CACHE_CLAIM = "llama3-model-cache"
VOLUME = "pvc-0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


def ebs_volume(fake: FakeCluster, claim: str, size: str) -> None:
    """The EBS volume the driver provisioned for ``claim`` (reclaim policy Delete, as for a dynamic volume)."""
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": VOLUME, "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "gp3",
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": NS, "name": claim},
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc1234def567890", "fsType": "ext4"},
            },
            "status": {"phase": "Bound"},
        }
    )


def cache_volume(fake: FakeCluster) -> None:
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CACHE_CLAIM, "namespace": NS, "labels": LABELS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "27Gi"}}},
            "status": {"phase": "Bound"},
        }
    )
    ebs_volume(fake, CACHE_CLAIM, "27Gi")


def down_watching_the_volume(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **target: Any
) -> tuple[list[Any], list[str]]:
    """``down --platform`` with a driver that deletes the volume 4 ticks after its claim: the volume as destroy
    found it, and the volume waits the reporter showed."""
    fake.volume_deletion_ticks = 4
    volume_at_destroy: list[Any] = []
    pulumi = Pulumi(monkeypatch)
    recorded = pulumi.destroy

    def destroy(config: Any, home: Home, path: Path, reporter: Any) -> bool:
        volume_at_destroy.append(fake.get("PersistentVolume", VOLUME))
        return recorded(config, home, path, reporter)

    monkeypatch.setattr("inferctl.aws.stack.destroy", destroy)
    aws = StubbedAws()
    no_leftovers(aws)
    reporter = RecordingReporter()
    aws_target(tmp_path, aws, **target).down(reporter, platform=True)
    return volume_at_destroy, [
        detail for name, detail in reporter.phases if name == "waiting for volumes to be deleted"
    ]


def test_destroy_waits_until_the_cache_volume_is_deleted(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Destroyed first, the EBS CSI driver could never delete the volume: it would bill on, outside any stack."""
    cache_volume(fake)
    volume_at_destroy, waits = down_watching_the_volume(fake, tmp_path, monkeypatch, model_cache="pvc")
    assert volume_at_destroy == [None]
    assert waits and waits[0].startswith(f"PersistentVolume {VOLUME} (inferctl/{CACHE_CLAIM})")


def test_a_volume_the_driver_never_deletes_stops_destroy(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_volume(fake)
    fake.volume_deletion_ticks = 10**9
    pulumi = Pulumi(monkeypatch)
    with pytest.raises(OperationError) as refused:
        aws_target(tmp_path, StubbedAws(), model_cache="pvc").down(RecordingReporter(), platform=True)
    assert pulumi.destroyed == []
    assert f"PersistentVolume {VOLUME} (an EBS volume the EBS CSI driver must delete first)" in refused.value.details
    assert fake.get("PersistentVolume", VOLUME) is not None


def test_destroy_waits_for_the_mirror_jobs_own_volume(
    fake: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished mirror Job keeps its pod, and the pod its generic ephemeral volume (a claim named
    <pod>-<volume> that the pod owns: Kubernetes' ephemeral volume controller), for an hour. Down deletes the Job and
    its pods; the claim goes with the pod, and destroy must wait until the EBS CSI driver deleted the volume."""
    job, pod, claim = "llama3-mirror", "llama3-mirror-x7k2p", "llama3-mirror-x7k2p-work"
    fake.put({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job, "namespace": NS, "labels": LABELS},
              "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}})  # fmt: skip
    owner = fake.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": NS,
                      "labels": {"batch.kubernetes.io/job-name": job}}, "status": {"phase": "Succeeded"}})  # fmt: skip
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": claim,
                "namespace": NS,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": pod,
                        "uid": owner["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "23Gi"}}},
            "status": {"phase": "Bound"},
        }
    )
    ebs_volume(fake, claim, "23Gi")
    volume_at_destroy, waits = down_watching_the_volume(fake, tmp_path, monkeypatch, s3_cache=True)
    assert volume_at_destroy == [None] and fake.get("PersistentVolumeClaim", claim, NS) is None
    assert waits and waits[0].startswith(f"PersistentVolume {VOLUME} ({NS}/{claim})")


# --- the endpoint does not answer from here -----------------------------------------------------------------------


class Unreachable(httpx2.BaseTransport):
    """The API server's address answers nothing (the public endpoint's allowed blocks leave this machine out)."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectTimeout("timed out", request=request)


def described_cluster(aws: StubbedAws, *, public: bool, cidrs: list[str]) -> None:
    """EKS DescribeCluster's resourcesVpcConfig (botocore 1.44.18 eks model; the Stubber checks the shape)."""
    aws.stub("eks").add_response(
        "describe_cluster",
        {
            "cluster": {
                "name": "workshop",
                "resourcesVpcConfig": {
                    "vpcId": "vpc-0abc1234def567890",
                    "endpointPublicAccess": public,
                    "endpointPrivateAccess": True,
                    "publicAccessCidrs": cidrs,
                },
            }
        },
        {"name": "workshop"},
    )


@pytest.mark.parametrize("platform", [True, False])
def test_an_address_that_changed_since_up_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: bool
) -> None:
    monkeypatch.setattr("inferctl.kube.client.make_transport", Unreachable)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    pulumi = Pulumi(monkeypatch)
    aws = StubbedAws()
    described_cluster(aws, public=True, cidrs=["203.0.113.7/32"])
    target = aws_target(tmp_path, aws)
    target.fetch_egress_ip = lambda _: "198.51.100.99\n"
    with pytest.raises(UserError) as refused:
        target.down(RecordingReporter(), platform=platform)
    aws.assert_done()
    assert pulumi.destroyed == []
    message = refused.value.message
    assert message.startswith(
        "this machine's address 198.51.100.99 is not among the blocks the cluster's API endpoint admits "
        "(203.0.113.7/32): it changed since 'up'"
    )
    assert "re-run 'inferctl up --target aws'" in message
    assert "or set aws.public_access_cidrs to a block that includes it" in message
    command = "down --target aws --platform" if platform else "down --target aws"
    assert f"then re-run 'inferctl {command}'" in message
    assert refused.value.exit_code == 2


def test_a_private_only_endpoint_says_where_to_run_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inferctl.kube.client.make_transport", Unreachable)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    pulumi = Pulumi(monkeypatch)
    aws = StubbedAws()
    described_cluster(aws, public=False, cidrs=[])
    target = aws_target(tmp_path, aws)
    target.fetch_egress_ip = no_lookup
    with pytest.raises(UserError) as refused:
        target.down(RecordingReporter(), platform=True)
    assert pulumi.destroyed == []
    assert refused.value.message.startswith(
        "cannot reach the cluster's API endpoint, which is private: run 'inferctl down --target aws --platform' "
        "inside vpc-0abc1234def567890 or a network routed to it"
    )


def test_an_admitted_address_keeps_the_clients_own_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inferctl.kube.client.make_transport", Unreachable)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    Pulumi(monkeypatch)
    aws = StubbedAws()
    described_cluster(aws, public=True, cidrs=["198.51.100.0/24"])
    target = aws_target(tmp_path, aws)
    target.fetch_egress_ip = lambda _: "198.51.100.99\n"
    with pytest.raises(UserError, match="cannot reach the Kubernetes API server"):
        target.down(RecordingReporter(), platform=True)


def no_lookup(url: str) -> str:
    raise AssertionError(f"no egress-IP lookup expected, got {url}")
