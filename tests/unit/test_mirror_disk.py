"""The mirror Job's disk for 8B, 14B, 32B and 70B checkpoints: its own volume where the cluster provisions one, and
a refusal in ``plan`` (with the numbers) where it would land on a CPU node too small to hold it beside the image.

What went wrong before: the Job asked ``ephemeral-storage`` for its download alone, on a CPU node whose 50 GiB data
volume also holds the ~20 GiB vLLM image. The scheduler counts requests against the node's allocatable (data
volume less kubelet's 10% eviction threshold and 1 GiB reserved: 44 GiB), the kubelet evicts on what the disk
holds, so a 14B model's download scheduled and was evicted, and past ~16B it never scheduled.

Checkpoints: Llama-3-8B and Llama-3-70B from their published config.json (tests/fixtures/models: bf16, parameters
counted by inferctl's profile); 14B and 32B as bf16 checkpoints of the parameter counts the Qwen2.5 model cards
publish ("Number of Parameters: 14.7B" for Qwen/Qwen2.5-14B-Instruct, "32.5B" for Qwen/Qwen2.5-32B). Only the
checkpoint's size matters here. Rendering is real and validated against Kubernetes' own schema.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from inferctl.catalog.prices import PriceBook
from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.render.model_cache import MIRROR_NODE_EPHEMERAL, render_mirror_job
from inferctl.sizing import memory, plan_platform
from inferctl.sizing.fit import allocatable_disk_bytes
from inferctl.sizing.model_cache import mirror_disk
from tests.support.render import g5_xlarge_placement, validate_core
from tests.support.sizing import LLAMA_3_8B_INSTRUCT, LLAMA_3_70B, fixture_profile

GIB = memory.GIB
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _profile(label: str) -> ModelProfile:
    if label == "8B":
        return fixture_profile(LLAMA_3_8B_INSTRUCT)
    if label == "70B":
        return fixture_profile(LLAMA_3_70B)
    parameters = {"14B": 14_700_000_000, "32B": 32_500_000_000}[label]
    return replace(fixture_profile(LLAMA_3_8B_INSTRUCT), checkpoint_bytes=parameters * 2)


# label -> (checkpoint GiB, the Job's scratch in GiB: checkpoint x 1.2 + 5 GiB, rounded up)
SIZES = {"8B": (14.96, 23), "14B": (27.38, 38), "32B": (60.54, 78), "70B": (131.42, 163)}


def _config(target: str = "kubernetes", **kubernetes: Any) -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "name": "disk",
            "target": target,
            "models": [{"name": "m", "source": "acme/m", "revision": REVISION}],
            "cache": {"enabled": True, "bucket": "team-cache"},
            "kubernetes": kubernetes,
        }
    )


def _job(config: PlatformConfig, label: str) -> dict[str, Any]:
    placement = g5_xlarge_placement("m", checkpoint_gib=SIZES[label][0])
    job = render_mirror_job(config, config.models[0], placement, karpenter=config.kubernetes.karpenter)
    validate_core(job, "1.33")  # raises on a schema violation (strict: no unknown fields)
    return job


@pytest.mark.parametrize("label", list(SIZES))
def test_the_scratch_follows_the_checkpoint(label: str) -> None:
    checkpoint_gib, scratch = SIZES[label]
    assert round(memory.gib(memory.checkpoint_bytes(_profile(label))), 2) == checkpoint_gib
    assert memory.ceil_gib(memory.mirror_scratch_bytes(int(checkpoint_gib * GIB))) == scratch


@pytest.mark.parametrize("label", list(SIZES))
@pytest.mark.parametrize(
    ("target", "kubernetes", "storage_class"),
    [("aws", {}, None), ("kubernetes", {"storage_class": "fast-ssd"}, "fast-ssd")],
)
def test_with_a_provisioner_the_job_gets_its_own_volume(
    label: str, target: str, kubernetes: dict[str, Any], storage_class: str | None
) -> None:
    """aws: the program installs the EBS CSI driver and a default gp3 class with the cache (no class named);
    kubernetes: the class the config names. The node's disk then only holds /tmp and the logs."""
    config = _config(target, **kubernetes)
    pod = _job(config, label)["spec"]["template"]["spec"]
    (work,) = [v for v in pod["volumes"] if v["name"] == "work"]
    claim = work["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{SIZES[label][1]}Gi"
    assert claim["accessModes"] == ["ReadWriteOnce"] and claim.get("storageClassName") == storage_class
    (container,) = pod["containers"]
    assert container["resources"]["requests"]["ephemeral-storage"] == MIRROR_NODE_EPHEMERAL
    assert {"name": "work", "mountPath": "/work"} in container["volumeMounts"]
    assert mirror_disk(config, _profile(label)) == (None, None)


# On Karpenter's CPU pool with its default 50 GiB data volume and no StorageClass: what fits beside the image.
FITS_ON_50_GIB = {"8B": True, "14B": False, "32B": False, "70B": False}


@pytest.mark.parametrize("label", list(SIZES))
def test_on_the_cpu_pools_disk_plan_refuses_what_cannot_fit_with_the_numbers(label: str) -> None:
    config = _config(karpenter=True)
    profile, (_, scratch) = _profile(label), SIZES[label]
    pod = _job(config, label)["spec"]["template"]["spec"]
    (work,) = [v for v in pod["volumes"] if v["name"] == "work"]
    assert work == {"name": "work", "emptyDir": {"sizeLimit": f"{scratch}Gi"}}
    assert pod["containers"][0]["resources"]["requests"]["ephemeral-storage"] == f"{scratch}Gi"
    allowed = allocatable_disk_bytes(50)
    assert allowed == 44 * GIB
    problem, _ = mirror_disk(config, profile)
    assert (problem is None) is FITS_ON_50_GIB[label]
    if label == "14B":
        # The old request alone fit the node (so it scheduled); beside the image it does not (so it was evicted).
        assert scratch * GIB <= allowed < (scratch + 20) * GIB
    if problem is None:
        return
    assert f"needs {scratch} GiB of scratch" in problem and "the 20 GiB vLLM image" in problem
    assert "50 GiB data volume leaves pods 44 GiB" in problem and "set kubernetes.storage_class" in problem
    proposed = int(problem.rsplit("raise pools.cpu.data_volume_gib to ", 1)[1])
    # The proposed volume holds scratch and image; 10 GiB less would not.
    assert allocatable_disk_bytes(proposed) >= (scratch + 20) * GIB > allocatable_disk_bytes(proposed - 10)
    roomy = _config(karpenter=True)
    roomy.pools.cpu.data_volume_gib = proposed
    assert mirror_disk(roomy, profile) == (None, None)


def test_plan_refuses_before_anything_is_created() -> None:
    config = _config(karpenter=True)
    with pytest.raises(ConfigError) as caught:
        plan_platform(config, profiles={"m": _profile("14B")}, prices=PriceBook.snapshot())
    assert str(caught.value).startswith("models[0] (m): its mirror Job needs 38 GiB of scratch")
    config.models[0].cache = False  # not served from the cache: no mirror, nothing to refuse
    plan_platform(config, profiles={"m": _profile("14B")}, prices=PriceBook.snapshot())


def test_without_karpenter_the_plan_says_what_the_job_needs() -> None:
    """The nodes are the user's: their disks are unknown, so the plan names the need and the way out."""
    plan = plan_platform(_config(), profiles={"m": _profile("70B")}, prices=PriceBook.snapshot())
    (note,) = [n for n in plan.notes if "mirror Job" in n]
    assert "163 GiB free beside the 20 GiB vLLM image" in note and "kubernetes.storage_class" in note


def test_a_refused_snapshot_fails_the_job_at_once() -> None:
    """mirror.py exits REFUSED_EXIT for a snapshot without safetensors; retrying cannot help, so the Job's pod
    failure policy fails it on that exit code (batch/v1 JobSpec.podFailurePolicy, restartPolicy Never)."""
    from inferctl.cache.mirror import REFUSED_EXIT

    spec = _job(_config(karpenter=True), "8B")["spec"]
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "mirror", "operator": "In", "values": [REFUSED_EXIT]},
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["name"] == "mirror"
