"""The S3 model cache in config, the engine-argument builder and the renders (pure: no I/O)."""

from __future__ import annotations

import json

import pytest

from inferctl.cache.location import PENDING_BUCKET, streamer_limits, uses_cache
from inferctl.cache.mirror import MANIFEST_NAME
from inferctl.config.models import PlatformConfig
from inferctl.engine import engine_args, streamer_args
from inferctl.errors import ConfigError
from inferctl.render import render_platform
from inferctl.render.model_cache import (
    COMPILE_SERVICE_ACCOUNT,
    MIRROR_RUN_AS,
    MIRROR_SERVICE_ACCOUNT,
    MODEL_SERVICE_ACCOUNT,
    render_mirror_job,
)
from inferctl.render.order import sort_for_apply
from tests.support.render import (
    LLAMA3_8B,
    LLAMA3_8B_REVISION,
    by_kind,
    g5_xlarge_placement,
    one,
    placements_for,
    variant_configs,
    workshop_config,
)

PREFIX = f"models/{LLAMA3_8B}/{LLAMA3_8B_REVISION}/"


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _cached(**cache: object) -> PlatformConfig:
    return workshop_config(
        models=[{"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "revision": LLAMA3_8B_REVISION}],
        cache={"enabled": True, **cache},
    )


def test_cache_is_off_by_default_and_per_model_overrides() -> None:
    config = workshop_config()
    assert config.cache.enabled is False and not uses_cache(config, config.models[0])
    objects = render_platform(config, placements_for(config))
    assert not by_kind(objects, "Job")
    assert [sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")] == ["genai-gateway"]
    args = one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--load-format" not in args and args[0] == LLAMA3_8B
    off = _cached()
    off.models[0].cache = False
    assert not uses_cache(off, off.models[0])
    demo = PlatformConfig.model_validate({"cache": {"enabled": True}, "models": [{"name": "demo", "source": "demo"}]})
    assert not uses_cache(demo, demo.models[0])  # the demo model is never mirrored


def test_streamer_args_match_vllm_runai_loader() -> None:
    args = streamer_args("s3://b/models/x/1/", concurrency=12, memory_limit_bytes=3 * 2**30)
    assert args == [
        "--load-format",
        "runai_streamer",
        "--tokenizer",
        "s3://b/models/x/1/",
        "--model-loader-extra-config",
        '{"concurrency":12,"memory_limit":3221225472}',
    ]
    distributed = streamer_args("s3://b/models/x/1/", concurrency=12, memory_limit_bytes=3 * 2**30, distributed=True)
    # vLLM 0.32's loader accepts exactly these keys and wants a JSON bool for 'distributed'.
    assert json.loads(distributed[-1]) == {"distributed": True, "concurrency": 12, "memory_limit": 3 * 2**30}


@pytest.mark.parametrize(
    ("cpu", "worker_bytes", "concurrency", "limit"),
    [("3", 2 * 2**30, 12, 2 * 2**30), ("500m", 2**20, 8, 8 * 8 * 2**20), ("48", 45 * 2**30, 64, 45 * 2**30)],
)
def test_streamer_limits_follow_the_pod(cpu: str, worker_bytes: int, concurrency: int, limit: int) -> None:
    """Readers from the pod's CPUs (8..64); the buffer is sizing's, but never less than a chunk per reader."""
    limits = streamer_limits(_cached(), cpu, worker_bytes)
    assert (limits.concurrency, limits.memory_limit_bytes) == (concurrency, limit)


def test_configured_streamer_concurrency_wins_and_an_unsized_placement_is_refused() -> None:
    limits = streamer_limits(_cached(streamer_concurrency=5), "3", 2**30)
    assert (limits.concurrency, limits.memory_limit_bytes) == (5, 2**30)
    with pytest.raises(ValueError, match="no streamer buffer"):
        streamer_limits(_cached(), "3", 0)


def test_deployment_streams_from_the_bucket() -> None:
    config = _cached(bucket="team-cache")
    objects = render_platform(config, placements_for(config))
    pod = one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    uri = f"s3://team-cache/{PREFIX}"
    assert args[0] == uri and _arg(args, "--tokenizer") == uri
    assert _arg(args, "--load-format") == "runai_streamer"
    assert json.loads(_arg(args, "--model-loader-extra-config")) == {"concurrency": 12, "memory_limit": 2 * 2**30}
    assert "--revision" not in args  # the path pins it
    # Everything else of the engine arguments is the one builder's, unchanged.
    engine = [a for a in engine_args(config.models[0], max_model_len=8192, gpu_memory_utilization=0.9)]
    assert _arg(args, "--max-model-len") == _arg(engine, "--max-model-len")
    assert pod["serviceAccountName"] == MODEL_SERVICE_ACCOUNT and pod["automountServiceAccountToken"] is False
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["HF_HUB_OFFLINE"] == "1" and env["AWS_REGION"] == "us-east-1"
    accounts = {sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")}
    assert accounts == {MODEL_SERVICE_ACCOUNT, MIRROR_SERVICE_ACCOUNT, COMPILE_SERVICE_ACCOUNT, "genai-gateway"}


def test_aws_before_up_renders_the_pending_bucket() -> None:
    config = _cached()
    args = one(render_platform(config, placements_for(config)), "Deployment", "llama-3-8b-instruct")["spec"][
        "template"
    ]["spec"]["containers"][0]["args"]
    assert args[0] == f"s3://{PENDING_BUCKET}/{PREFIX}"


def test_mirror_job_runs_the_mirror_module_on_the_cpu_pool() -> None:
    config = variant_configs()["kubernetes-model-cache"]
    objects = render_platform(config, placements_for(config))
    job = one(objects, "Job", "llama-3-8b-instruct-mirror")
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "x86-cpu-karpenter"
    assert pod["serviceAccountName"] == MIRROR_SERVICE_ACCOUNT and pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (env["CACHE_BUCKET"], env["MODEL_ID"], env["MODEL_REVISION"]) == (
        "team-model-cache",
        LLAMA3_8B,
        LLAMA3_8B_REVISION,
    )
    assert env["AWS_REGION"] == "eu-west-1"
    token = next(v for v in pod["volumes"] if v["name"] == "hf-token")["secret"]
    assert token["secretName"] == "hf-secret" and token["items"][0]["key"] == "hf_api_token"
    assert token["optional"] is False  # Llama 3 is gated
    script = one(objects, "ConfigMap", "inferctl-model-mirror")["data"]["mirror.py"]
    assert MANIFEST_NAME in script and "def main(" in script
    assert container["command"] == ["python3", "/opt/inferctl/mirror.py"]
    # The namespace enforces 'restricted' (render.meta), like the model server's pods.
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": MIRROR_RUN_AS,
        "runAsGroup": MIRROR_RUN_AS,
        "fsGroup": MIRROR_RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"] == {"drop": ["ALL"]}
    assert (security["runAsUser"], security["runAsGroup"], security["allowPrivilegeEscalation"]) == (
        MIRROR_RUN_AS,
        MIRROR_RUN_AS,
        False,
    )
    assert job["spec"]["activeDeadlineSeconds"] == config.cache.mirror_timeout_s
    selector = one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["selector"]["matchLabels"]
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not all(pod_labels.get(k) == v for k, v in selector.items())  # not counted as a model server pod
    policy = one(objects, "NetworkPolicy", "inferctl-model-mirror")["spec"]
    assert policy["policyTypes"] == ["Ingress"] and "ingress" not in policy  # nothing may call the mirror
    assert all(pod_labels[k] == v for k, v in policy["podSelector"]["matchLabels"].items())
    kinds = [o["kind"] for o in sort_for_apply(objects)]
    assert kinds.index("Job") < kinds.index("Deployment")
    assert kinds.index("ServiceAccount") < kinds.index("Job")


def test_mirror_job_without_karpenter_has_no_pool_selector() -> None:
    config = workshop_config(
        target="kubernetes",
        models=[{"name": "m", "source": LLAMA3_8B, "revision": "v1"}],
        cache={"enabled": True, "bucket": "b-cache"},
    )
    job = render_mirror_job(config, config.models[0], g5_xlarge_placement("m"))
    assert "karpenter.sh/nodepool" not in job["spec"]["template"]["spec"]["nodeSelector"]


@pytest.mark.parametrize(
    ("models", "cache", "target", "message"),
    [
        ([{"name": "m", "source": LLAMA3_8B}], {"enabled": True}, "aws", "revision is unset"),
        ([{"name": "m", "source": LLAMA3_8B, "revision": "v1"}], {"enabled": True}, "kubernetes", "cache.bucket"),
        (
            [{"name": "m", "source": LLAMA3_8B, "revision": "v1", "engine": {"extra_args": ["--load-format=pt"]}}],
            {"enabled": True},
            "aws",
            "--load-format",
        ),
    ],
)
def test_refusals_say_what_to_do(models: list, cache: dict, target: str, message: str) -> None:
    config = workshop_config(models=models, cache=cache, target=target)
    with pytest.raises(ConfigError, match=message):
        render_platform(config, placements_for(config))


def test_bucket_name_is_checked() -> None:
    with pytest.raises(ValueError, match="bucket"):
        workshop_config(cache={"bucket": "Not_A_Bucket"})
