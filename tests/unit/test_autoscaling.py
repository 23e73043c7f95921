"""Autoscaling: config refusals, the sizing math (per-replica target, costs) and the rendered KEDA / HTTP add-on
objects (the wake timeout from the cold-start estimate: test_wake_estimate; with the rest of the request's chain:
test_request_timeouts; the wake path through the gateway: test_render_wake). Pure functions; nothing faked. The
CRD validation of these objects runs in test_render_schemas (variants ``aws-autoscaling`` and
``kubernetes-two-asleep``)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from inferctl.config import parse_config
from inferctl.config.models import DEFAULT_REQUEST_TOKENS, AutoscalingSettings, PlatformConfig
from inferctl.engine import API_KEY_ENV
from inferctl.errors import ConfigError
from inferctl.render import render_platform
from inferctl.render.autoscaling import REQUEST_SUCCESS
from inferctl.sizing.autoscaling import (
    ReplicaTarget,
    per_replica_target,
    replica_costs,
    replica_target,
)
from tests.support.keda import validate_keda
from tests.support.render import LLAMA3_8B, by_kind, g5_xlarge_placement, one, placements_for, workshop_config

ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0, "max_replicas": 3}}


def _config(*models: dict, **overrides: object) -> PlatformConfig:
    return workshop_config(models=list(models), **overrides)


def _yaml(autoscaling: str, extra: str = "") -> str:
    return f"target: aws\nmodels:\n  - name: m\n    source: {LLAMA3_8B}\n{extra}    autoscaling: {autoscaling}\n"


# --- config -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_yaml("{min_replicas: 3, max_replicas: 2}"), "max_replicas (2) is below min_replicas (3)"),
        (_yaml("{max_replicas: 2}", "    replicas: 2\n"), "sets both replicas and autoscaling"),
        (_yaml("{min_replicas: 0, scale_to_zero_after: 30s}"), "scale_to_zero_after must be at least 1m"),
        (_yaml("{min_replicas: 0, scale_to_zero_after: soon}"), "scale_to_zero_after"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_autoscaling_is_off_unless_set_and_defaults_to_min_one() -> None:
    config = parse_config(f"target: aws\nmodels:\n  - {{name: m, source: {LLAMA3_8B}}}\n")
    assert config.models[0].autoscaling is None
    settings = parse_config(_yaml("{}")).models[0].autoscaling
    assert settings == AutoscalingSettings()
    assert (settings.min_replicas, settings.max_replicas, settings.scales_to_zero) == (1, 2, False)


def test_any_number_of_models_may_scale_to_zero() -> None:
    """Each sleeping model has its own wake host on the interceptor (render.wake): no one-model limit."""
    config = parse_config(
        f"target: aws\nmodels:\n  - {{name: a, source: {LLAMA3_8B}, autoscaling: {{min_replicas: 0}}}}\n"
        f"  - {{name: b, source: {LLAMA3_8B}, autoscaling: {{min_replicas: 0}}}}\n"
    )
    assert [m.autoscaling.scales_to_zero for m in config.models if m.autoscaling] == [True, True]
    assert config.pools.gpu.consolidate_after == "5m"


def test_scale_to_zero_shortens_the_gpu_pools_consolidation_unless_set() -> None:
    assert _config(ZERO).pools.gpu.consolidate_after == "5m"
    assert workshop_config().pools.gpu.consolidate_after == "1h"
    explicit = _config(ZERO, pools={"gpu": {"consolidate_after": "20m"}})
    assert explicit.pools.gpu.consolidate_after == "20m"
    # min 1 keeps a node anyway: the default stays
    assert _config({**ZERO, "autoscaling": {"min_replicas": 1}}).pools.gpu.consolidate_after == "1h"


# --- sizing -----------------------------------------------------------------------------------------------------


def _tokens(request_tokens: int, **autoscaling: object) -> dict:
    return {**ZERO, "autoscaling": {"min_replicas": 0, "request_tokens": request_tokens, **autoscaling}}


def test_per_replica_target_is_what_one_kv_cache_holds_at_the_tokens_a_request_really_holds() -> None:
    """Llama-3-8B on a g5.xlarge (issue 20): the whole-context target, 24,640 // 8,192 = 3, added a GPU node at
    the 4th concurrent request. At the tokens a request holds it is 24,640 // 512 = 48; the KV-cache trigger still
    adds a replica when long requests fill the cache."""
    llama = g5_xlarge_placement(kv_cache_tokens=24_640, max_model_len=8192)
    assert per_replica_target(_config(_tokens(512)).models[0], llama) == 48
    assert per_replica_target(_config(_tokens(2048)).models[0], llama) == 12
    # no request holds more than its context: past max_model_len the whole-context arithmetic is back
    assert per_replica_target(_config(_tokens(100_000)).models[0], llama) == 3
    assert per_replica_target(_config(_tokens(512)).models[0], g5_xlarge_placement(kv_cache_tokens=300)) == 1
    capped = _config({**_tokens(512), "engine": {"max_num_seqs": 16}}).models[0]
    assert replica_target(capped, llama) == ReplicaTarget(16, "max_num_seqs", 512)
    fixed = _config(_tokens(512, target_concurrency=7)).models[0]
    assert replica_target(fixed, llama).concurrency == 7 and replica_target(fixed, llama).basis == "target_concurrency"
    kv = one(render_platform(_config(_tokens(512)), {"llama-3-8b-instruct": llama}), "ScaledObject")
    triggers = {t["name"]: t["metadata"] for t in kv["spec"]["triggers"]}
    assert triggers["vllm-requests"]["threshold"] == "48" and triggers["vllm-kv-cache"]["threshold"] == "0.8"


# vLLM v0.32.0, vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults: the OpenAI server's max_num_seqs when
# the engine sets none is 1024 on a GPU of >= 70 GiB whose name has no "a100" (device_memory >= 70 * GiB_bytes
# and "a100" not in device_name), else 256 (the >= 160 GiB tier is 1024 too).
VLLM_DEFAULT_MAX_NUM_SEQS = [("A10G", 24.0, 256), ("L40S", 48.0, 256), ("A100", 80.0, 256), ("H100", 80.0, 1024)]


@pytest.mark.parametrize(("gpu", "gib", "max_num_seqs"), VLLM_DEFAULT_MAX_NUM_SEQS)
def test_the_target_never_exceeds_what_vllm_schedules_at_once(gpu: str, gib: float, max_num_seqs: int) -> None:
    """Past ``max_num_seqs`` vLLM queues requests however much KV cache is free: another replica should start."""
    huge = g5_xlarge_placement(gpu_name=gpu, gpu_memory_gib=gib, kv_cache_tokens=5_000_000)
    target = replica_target(_config(_tokens(512)).models[0], huge)
    assert (target.concurrency, target.basis) == (max_num_seqs, "max_num_seqs")


def test_the_default_tokens_per_request_is_the_measured_one() -> None:
    """``autoscaling.request_tokens`` defaults to the mean prompt + output tokens per request that
    benchmarks/request_tokens.py measured with ``inferctl bench --dataset synthetic`` (its results file), rounded
    up to vLLM's KV block of 16 tokens (vllm/config/cache.py v0.32.0, CacheConfig.DEFAULT_BLOCK_SIZE)."""
    import json
    import math
    from pathlib import Path

    measured = json.loads((Path(__file__).parents[2] / "benchmarks/results/request_tokens.json").read_text())
    assert measured["completed"] > 0 and measured["failed"] == 0 and measured["output_tokens_from"] == "usage"
    assert math.ceil(measured["mean_request_tokens"] / 16) * 16 == DEFAULT_REQUEST_TOKENS
    assert AutoscalingSettings().request_tokens == DEFAULT_REQUEST_TOKENS


def test_costs_idle_and_at_max_replicas() -> None:
    placement = g5_xlarge_placement()  # 1.006 on-demand, 0.4 spot
    costs = replica_costs(_config(ZERO).models[0], placement, spot=False)
    assert (costs.idle_usd_per_hour, costs.max_usd_per_hour) == (0.0, 3.018)
    fixed = replica_costs(workshop_config().models[0], placement, spot=True)
    assert (fixed.idle_usd_per_hour, fixed.max_usd_per_hour) == (0.4, 0.4)


# --- render -----------------------------------------------------------------------------------------------------


def test_a_model_at_zero_keeps_its_api_key_and_its_service_stays_in_the_cluster() -> None:
    config = _config(ZERO, endpoint={"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}})
    objects = render_platform(config, placements_for(config))
    model_service = one(objects, "Service", "llama-3-8b-instruct")
    assert model_service["spec"]["type"] == "ClusterIP" and "annotations" not in model_service["metadata"]
    # the one LoadBalancer is the gateway's (test_render_gateway); no entry Service of the model's own
    assert [s["metadata"]["name"] for s in by_kind(objects, "Service") if s["spec"]["type"] == "LoadBalancer"] == [
        "genai-gateway"
    ]
    wake = one(objects, "InterceptorRoute", "llama-3-8b-instruct-wake")
    assert wake["spec"]["target"] == {"service": "llama-3-8b-instruct", "portName": "http"}
    assert "coldStart" not in wake["spec"]  # no placeholder answers an inference request in vLLM's place
    # Llama-3-8B on the hub path: the cold start's high bound 715 s x 1.5 -> 1080 s (test_wake_estimate)
    assert wake["spec"]["timeouts"]["readiness"] == "1080s"
    container = one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["template"]["spec"]["containers"][0]
    assert API_KEY_ENV in {e["name"] for e in container["env"]}  # vLLM still checks every proxied request


def test_model_pods_drain_for_the_cluster_never_for_an_nlb() -> None:
    """The platform's NLB targets the gateway; every model pod is reached at its IP by the gateway or through its
    ClusterIP Service by the interceptor, so its preStop waits for endpoints only (render/drain.py: 10 s, grace
    10 + 120 + 15 = 145 s), whether it scales to zero or not."""
    warm = {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {}}
    exposure = {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}
    config = _config(ZERO, warm, endpoint={"exposure": exposure})
    objects = render_platform(config, placements_for(config))
    for name in ("llama-3-8b-instruct", "qwen"):
        pod = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        script = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1]
        assert "; sleep 10;" in script, name
        assert pod["terminationGracePeriodSeconds"] == 145, name


def test_scaled_object_scales_the_deployment_on_vllm_metrics_and_pending_requests() -> None:
    config = _config(ZERO, {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {}})
    objects = render_platform(config, placements_for(config))
    for deployment in by_kind(objects, "Deployment"):
        if deployment["metadata"]["name"] != "genai-gateway":
            assert "replicas" not in deployment["spec"]  # KEDA owns it; up must not reset it
    zero, busy = (one(objects, "ScaledObject", name) for name in ("llama-3-8b-instruct", "qwen"))
    assert (zero["spec"]["minReplicaCount"], zero["spec"]["maxReplicaCount"]) == (0, 3)
    assert zero["spec"]["cooldownPeriod"] == 900
    triggers = {t["name"]: t for t in zero["spec"]["triggers"]}
    assert triggers["vllm-requests"]["metadata"]["threshold"] == str(41_000 // DEFAULT_REQUEST_TOKENS)
    assert "vllm:num_requests_waiting" in triggers["vllm-requests"]["metadata"]["query"]
    assert "vllm:kv_cache_usage_perc" in triggers["vllm-kv-cache"]["metadata"]["query"]
    # only the wake route counts: the status route answers the gateway's own polls and wakes nothing
    assert triggers["interceptor"]["metadata"]["interceptorRoute"] == "llama-3-8b-instruct-wake"
    assert {t["type"] for t in busy["spec"]["triggers"]} == {"prometheus"}
    assert busy["spec"]["minReplicaCount"] == 1 and "cooldownPeriod" not in busy["spec"]
    assert "vllm-recent-requests" not in {t["name"] for t in busy["spec"]["triggers"]}  # min 1 never sleeps
    assert len(by_kind(objects, "InterceptorRoute")) == 2  # the wake and the status route of the one at zero
    assert one(objects, "Service", "qwen")["spec"]["type"] == "ClusterIP"  # min 1: reached through the gateway


def _hpa_replicas(metric_total: float, threshold: float) -> int:
    """What the HPA KEDA makes wants for one ``AverageValue`` external metric: ceil(total / per-pod target) once the
    ratio leaves the tolerance band (kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go,
    GetExternalPerPodMetricReplicas: usage summed over the metric's series, then divided by the per-pod target)."""
    import math

    return math.ceil(metric_total / threshold)


def test_a_model_the_gateway_keeps_busy_stays_awake_though_the_interceptor_sees_nothing() -> None:
    """Awake, the gateway sends a model's requests to its pods, past the interceptor: the interceptor's trigger
    reads ~0 between requests and vLLM's running + waiting reads 0 whenever a scrape falls between two requests.
    The recent-requests trigger reads vLLM's own finished-request counter over a window: 1 while any request
    finished in it, so KEDA keeps the ScaledObject active (a trigger above its activationThreshold, 0 by
    default: keda v2.20.2 pkg/scalers/prometheus_scaler.go) and the HPA keeps one replica, never more."""
    config = _config(ZERO)
    scaled = one(render_platform(config, placements_for(config)), "ScaledObject")
    triggers = {t["name"]: t for t in scaled["spec"]["triggers"]}
    recent = triggers["vllm-recent-requests"]
    query = recent["metadata"]["query"]
    assert query.startswith(f"sum(increase({REQUEST_SUCCESS}{{") and query.endswith("[2m])) > bool 0")
    assert 'model_name="llama-3-8b-instruct"' in query and 'namespace="inferctl"' in query
    assert recent["metricType"] == "AverageValue" and recent["metadata"]["threshold"] == "1"
    assert "activationThreshold" not in recent["metadata"]  # active above 0: any recent request
    # the HPA's view: in use -> one replica; idle -> nothing asked, the other triggers decide (and KEDA sleeps it)
    assert (_hpa_replicas(1, 1), _hpa_replicas(0, 1)) == (1, 0)
    # the queue trigger still asks for more under load: five replicas' worth of running requests -> 5
    per_replica = int(triggers["vllm-requests"]["metadata"]["threshold"])
    assert _hpa_replicas(5 * per_replica, per_replica) == 5


def test_models_without_autoscaling_render_as_before() -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config))
    assert not by_kind(objects, "ScaledObject") and not by_kind(objects, "InterceptorRoute")
    assert one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["replicas"] == 1


def test_crd_validation_catches_a_typo_and_a_broken_rule() -> None:
    config = _config(ZERO)
    objects = render_platform(config, placements_for(config))
    scaled = copy.deepcopy(one(objects, "ScaledObject"))
    scaled["spec"]["cooldownperiod"] = 60
    with pytest.raises(jsonschema.ValidationError):
        validate_keda(scaled)
    route = copy.deepcopy(one(objects, "InterceptorRoute", "llama-3-8b-instruct-wake"))
    route["spec"]["target"]["port"] = 80  # both port and portName
    with pytest.raises(AssertionError, match="exactly one of 'port' or 'portName'"):
        validate_keda(route)


def test_the_gpu_pools_limits_must_hold_max_replicas() -> None:
    from inferctl.sizing.platform_plan import pool_limits_problem

    config = _config({**ZERO, "autoscaling": {"min_replicas": 0, "max_replicas": 20}})
    problem = pool_limits_problem(config, placements_for(config))
    assert problem is not None and "20 x g5.xlarge" in problem
    assert pool_limits_problem(_config(ZERO), placements_for(_config(ZERO))) is None


def test_the_gpu_pool_removes_its_empty_node_minutes_after_a_model_scales_to_zero() -> None:
    from inferctl.render import render_karpenter

    pools = {p["metadata"]["name"]: p for p in render_karpenter(_config(ZERO)) if p["kind"] == "NodePool"}
    disruption = pools["g5-gpu-karpenter"]["spec"]["disruption"]
    assert (disruption["consolidationPolicy"], disruption["consolidateAfter"]) == ("WhenEmpty", "5m")
