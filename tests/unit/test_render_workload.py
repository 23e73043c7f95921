"""The model server Deployment: arguments from the one engine-argument builder, probes, drain, security,
scheduling, caches. Pure functions: no fakes."""

from __future__ import annotations

import pytest

from inferctl.config.models import PlatformConfig
from inferctl.engine import API_KEY_ENV, CONTAINER_PORT, engine_args, server_args
from inferctl.errors import ConfigError, PlanError
from inferctl.render import container_args, render_platform, render_workload
from inferctl.render.drain import IN_CLUSTER_DRAIN, VLLM_SHUTDOWN_TIMEOUT_S, drain_server_args, prestop_command
from inferctl.render.workload import MIN_STARTUP_BUDGET_S, render_deployment
from inferctl.sizing.placement import PodResources
from tests.support.render import (
    LLAMA3_8B,
    by_kind,
    g5_xlarge_placement,
    one,
    placements_for,
    workshop_config,
)


def _deployment(config: PlatformConfig, **placement_changes: object) -> dict:
    placement = g5_xlarge_placement(config.models[0].name, **placement_changes)
    return render_deployment(config, config.models[0], placement, karpenter=config.target == "aws")


def _pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def _container(deployment: dict) -> dict:
    containers = _pod(deployment)["containers"]
    assert len(containers) == 1
    return containers[0]


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def test_local_and_deployment_use_the_same_engine_args() -> None:
    """The local target calls engine_args(model, ...) + server_args(...); the Deployment must carry exactly the
    same engine arguments for the same config and placement, with only location/host/port/drain added."""
    config = workshop_config(
        models=[
            {
                "name": "llama",
                "source": LLAMA3_8B,
                "revision": "main",
                "engine": {
                    "dtype": "bfloat16",
                    "kv_cache_dtype": "fp8",
                    "max_num_seqs": 32,
                    "enable_prefix_caching": True,
                    "extra_args": ["--seed", "0"],
                },
            }
        ]
    )
    model = config.models[0]
    placement = g5_xlarge_placement(
        "llama",
        tensor_parallel_size=2,
        max_model_len=4096,
        gpu_memory_utilization=0.85,
        resources=PodResources(gpus=2, cpu="40", memory="160Gi", ephemeral_storage="100Gi", shm="8Gi"),
    )
    expected_engine = engine_args(
        model,
        tensor_parallel_size=placement.tensor_parallel_size,
        max_model_len=placement.max_model_len,
        gpu_memory_utilization=placement.gpu_memory_utilization,
    )
    args = _container(render_deployment(config, model, placement, karpenter=True))["args"]
    assert _contains_run(args, expected_engine)
    assert args == server_args(
        LLAMA3_8B,
        host="0.0.0.0",
        port=CONTAINER_PORT,
        engine=expected_engine,
        extra=drain_server_args(),
        entry="serve",
    )
    assert args == container_args(model, placement)
    for flag in ("--tensor-parallel-size", "--max-model-len", "--kv-cache-dtype", "--seed", "--revision"):
        assert flag in args


def test_secrets_are_never_arguments_and_the_key_comes_from_its_secret() -> None:
    config = workshop_config()
    container = _container(_deployment(config))
    assert not any("api-key" in a or "token" in a.lower() for a in container["args"])
    key_env = next(e for e in container["env"] if e["name"] == API_KEY_ENV)
    assert key_env["valueFrom"]["secretKeyRef"] == {"name": "inferctl-api-key", "key": "api-key"}
    assert "HF_TOKEN" not in {e["name"] for e in container["env"]}
    token_volume = next(v for v in _pod(_deployment(config))["volumes"] if v["name"] == "hf-token")
    assert token_volume["secret"]["secretName"] == "hf-secret"
    assert token_volume["secret"]["items"] == [{"key": "hf_api_token", "path": "token"}]
    assert token_volume["secret"]["optional"] is False  # Llama 3 is gated
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"


def test_api_key_disabled_means_no_key_env_and_open_models_mount_the_token_optionally() -> None:
    config = workshop_config(
        endpoint={"api_key": {"enabled": False}}, models=[{"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct"}]
    )
    deployment = _deployment(config)
    assert API_KEY_ENV not in {e["name"] for e in _container(deployment)["env"]}
    token_volume = next(v for v in _pod(deployment)["volumes"] if v["name"] == "hf-token")
    assert token_volume["secret"]["optional"] is True


def test_workshop_deployment_shape() -> None:
    config = workshop_config()
    deployment = _deployment(config)
    container = _container(deployment)
    assert deployment["spec"]["replicas"] == 1
    assert container["image"] == "vllm/vllm-openai:v0.32.0"
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    limits = container["resources"]["limits"]
    assert limits == {"cpu": "3", "memory": "12Gi", "ephemeral-storage": "60Gi", "nvidia.com/gpu": "1"}
    assert container["resources"]["requests"] == limits
    shm = next(v for v in _pod(deployment)["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/dev/shm", "/var/cache/inferctl"}
    # Karpenter keeps the node; the gateway registers the pod under the name clients send (render.gateway)
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {
        "karpenter.sh/do-not-disrupt": "true",
        "inferctl.io/served-model-name": "llama-3-8b-instruct",
    }


def test_probes_allow_a_cold_load_and_drain_fits_the_grace_period() -> None:
    config = workshop_config()
    deployment = _deployment(config)
    container = _container(deployment)
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/health", "port": "http"}
    assert startup["periodSeconds"] * startup["failureThreshold"] >= MIN_STARTUP_BUDGET_S >= 40 * 60
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == prestop_command(IN_CLUSTER_DRAIN)
    assert container["args"][-4:] == drain_server_args()
    assert _pod(deployment)["terminationGracePeriodSeconds"] > IN_CLUSTER_DRAIN.prestop_s + VLLM_SHUTDOWN_TIMEOUT_S
    assert deployment["spec"]["progressDeadlineSeconds"] > startup["periodSeconds"] * startup["failureThreshold"]


def test_longer_rollout_timeout_stretches_the_startup_budget() -> None:
    config = workshop_config(kubernetes={"rollout_timeout_s": 7200})
    startup = _container(_deployment(config))["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 7200


def test_security_context_is_restrictive() -> None:
    deployment = _deployment(workshop_config())
    pod, container = _pod(deployment), _container(deployment)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsUser"] >= 10000
    # Everything vLLM writes has a writable volume.
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    for path in (env["HOME"], env["XDG_CACHE_HOME"], env["HF_HOME"], "/tmp"):
        assert any(path == m or path.startswith(m + "/") for m in mounts), path
    assert env["USER"]  # getpass.getuser() for a UID without a passwd entry


def test_scheduling_onto_the_gpu_pool_with_karpenter() -> None:
    pod = _pod(_deployment(workshop_config()))
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "g5-gpu-karpenter"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expression = required["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expression == {"key": "karpenter.k8s.aws/instance-gpu-memory", "operator": "Gt", "values": ["24575"]}
    assert "topologySpreadConstraints" not in pod


def test_no_karpenter_selector_on_a_plain_cluster() -> None:
    config = workshop_config(target="kubernetes")
    pod = _pod(_deployment(config))
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert "affinity" not in pod
    assert pod["tolerations"]


def test_replicas_spread_across_zones() -> None:
    config = workshop_config(models=[{"name": "llama", "source": LLAMA3_8B, "replicas": 3}])
    pod = _pod(_deployment(config))
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"]["matchLabels"] == {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}


def test_demo_and_local_sources_are_refused_on_a_cluster(tmp_path) -> None:
    config = workshop_config(models=[{"name": "demo", "source": "demo"}])
    with pytest.raises(ConfigError, match=r"models\[0\].source.*local target"):
        render_platform(config, placements_for(config))
    config = workshop_config(models=[{"name": "mine", "source": str(tmp_path)}])
    with pytest.raises(ConfigError, match="directory on this machine"):
        render_platform(config, placements_for(config))


def test_placement_with_too_few_gpus_is_refused() -> None:
    config = workshop_config(models=[{"name": "llama", "source": LLAMA3_8B, "engine": {"tensor_parallel_size": 2}}])
    with pytest.raises(PlanError, match="tensor_parallel_size"):
        _deployment(config)


def test_missing_placement_is_a_plan_error() -> None:
    config = workshop_config()
    with pytest.raises(PlanError, match="no placement"):
        render_platform(config, {})


def test_pvc_model_cache() -> None:
    config = workshop_config(kubernetes={"model_cache": "pvc", "storage_class": "gp3"})
    objects = render_workload(config, config.models[0], g5_xlarge_placement())
    claim = one(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "llama-3-8b-instruct-model-cache"
    assert claim["spec"]["storageClassName"] == "gp3"
    # This hand-built placement has no checkpoint size: the weights' 14.96 GiB * 1.1 + 10, rounded up.
    assert claim["spec"]["resources"]["requests"]["storage"] == "27Gi"
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    cache = next(v for v in _pod(deployment)["volumes"] if v["name"] == "model-cache")
    assert cache == {"name": "model-cache", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    sized = workshop_config(kubernetes={"model_cache": "pvc", "model_cache_gib": 100})
    claim = one(render_workload(sized, sized.models[0], g5_xlarge_placement()), "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"


def test_pvc_cache_with_several_replicas_is_refused() -> None:
    config = workshop_config(
        kubernetes={"model_cache": "pvc"}, models=[{"name": "llama", "source": LLAMA3_8B, "replicas": 2}]
    )
    with pytest.raises(ConfigError, match="ReadWriteOnce"):
        _deployment(config)


def test_user_env_is_added_and_shm_override_applies() -> None:
    config = workshop_config(
        models=[{"name": "llama", "source": LLAMA3_8B, "engine": {"env": {"VLLM_LOGGING_LEVEL": "DEBUG"}}}],
        kubernetes={"shm_gib": 16},
    )
    deployment = _deployment(config)
    env = {e["name"]: e.get("value") for e in _container(deployment)["env"]}
    assert env["VLLM_LOGGING_LEVEL"] == "DEBUG"
    shm = next(v for v in _pod(deployment)["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["sizeLimit"] == "16Gi"


def test_two_models_get_their_own_objects() -> None:
    config = workshop_config(
        models=[{"name": "a", "source": LLAMA3_8B}, {"name": "b", "source": "Qwen/Qwen2.5-7B-Instruct"}]
    )
    objects = render_platform(config, placements_for(config))
    # each model its own Deployment and ClusterIP Service; the one gateway in front of both
    assert [d["metadata"]["name"] for d in by_kind(objects, "Deployment")] == ["a", "b", "genai-gateway"]
    assert [s["metadata"]["name"] for s in by_kind(objects, "Service")] == ["a", "b", "genai-gateway"]


def test_local_target_builds_the_same_engine_args() -> None:
    """Cross-check with the real local target: for a config that pins the engine settings sizing would
    otherwise fill in, the local server's engine arguments equal the Deployment's."""
    from inferctl.targets.local.server import vllm_args

    config = workshop_config(
        models=[
            {
                "name": "llama",
                "source": LLAMA3_8B,
                "engine": {"max_model_len": 4096, "dtype": "bfloat16", "extra_args": ["--seed", "0"]},
            }
        ]
    )
    model = config.models[0]
    placement = g5_xlarge_placement("llama", max_model_len=4096, gpu_memory_utilization=0.9)
    local_args = vllm_args(config.local, model, "/models/llama", 8123, None)
    deployment_args = container_args(model, placement)
    engine = engine_args(model)
    # vllm serve <model> --host --port: the model is positional; the drain's arguments close the list
    assert deployment_args[5 : -len(drain_server_args())] == engine
    assert local_args[:6] == ["--model", "/models/llama", "--host", "127.0.0.1", "--port", "8123"]
    assert local_args[6 : 6 + len(engine)] == engine


@pytest.mark.parametrize(
    "overrides",
    [{}, {"endpoint": {"exposure": {"service_type": "ClusterIP"}}}, {"target": "kubernetes"}],
    ids=["aws-nlb", "aws-clusterip", "kubernetes"],
)
def test_drain_numbers_hold_together(overrides: dict[str, object]) -> None:
    """preStop + vLLM's shutdown timeout (+ teardown) fit the grace period. A model pod is never an NLB target
    (the platform's NLB targets the gateway: test_render_gateway), so its preStop waits for the endpoints only and
    rollouts and down stay quick (render/drain.py has the sources)."""
    from inferctl.render.drain import NLB_NEW_CONNECTIONS_S

    config = workshop_config(**overrides)
    objects = render_platform(config, placements_for(config))
    pod = _pod(one(objects, "Deployment", "llama-3-8b-instruct"))
    container = pod["containers"][0]
    script = container["lifecycle"]["preStop"]["exec"]["command"][-1]
    prestop = int(script.split("sleep ")[1].split(";")[0])
    args = container["args"]
    shutdown = int(args[args.index("--shutdown-timeout") + 1])
    grace = pod["terminationGracePeriodSeconds"]
    assert shutdown > 0  # 0 would abort in-flight requests at SIGTERM (vLLM's default)
    assert prestop + shutdown <= grace
    assert prestop < NLB_NEW_CONNECTIONS_S
    service = one(objects, "Service", "llama-3-8b-instruct")
    assert service["spec"]["type"] == "ClusterIP" and "annotations" not in service["metadata"]


def test_the_container_runs_the_images_own_vllm_serve_with_the_model_first() -> None:
    """vLLM 0.32: `python -m vllm.entrypoints.openai.api_server` is a deprecated shim; `vllm serve` takes the model
    as its positional argument (``--model`` there is deprecated too)."""
    container = _container(_deployment(workshop_config()))
    assert container["command"] == ["vllm", "serve"]
    assert container["args"][0] == LLAMA3_8B
    assert "--model" not in container["args"]


def test_cache_and_disk_are_sized_from_the_download_not_from_gpu_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Llama-3-70B with quantization fp8: ~68 GiB in GPU memory, but the hub serves ~131 GiB of bf16 safetensors,
    and that is what the model cache must hold (the old rule, weights x 1.2 + 10, gave 92Gi). The profile here is
    the packaged config.json snapshot (no network): parameters x stored dtype."""
    from inferctl.catalog import hub
    from inferctl.sizing import plan_platform

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    config = workshop_config(
        models=[{"name": "big", "source": "meta-llama/Meta-Llama-3-70B-Instruct", "engine": {"quantization": "fp8"}}],
        kubernetes={"model_cache": "pvc"},
    )
    placement = plan_platform(config).placements["big"]
    assert placement.weight_gib < 70
    assert 131 < placement.checkpoint_gib < 132
    claim = one(render_workload(config, config.models[0], placement), "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "155Gi"  # 131.42 * 1.1 + 10, rounded up
    # The pod's ephemeral storage: the checkpoint + 10 GiB margin; the image's 20 GiB are not the pod's.
    assert placement.resources.ephemeral_storage == "142Gi"
