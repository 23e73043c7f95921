"""Autoscaling: config refusals, the sizing math (per-replica target, cold start, wake timeout, costs) and the
rendered KEDA / HTTP add-on objects. Pure functions; nothing faked. The CRD validation of these objects runs in
test_render_schemas (variant ``aws-autoscaling``)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from inferctl.config import parse_config
from inferctl.config.models import AutoscalingSettings, PlatformConfig
from inferctl.engine import API_KEY_ENV
from inferctl.errors import ConfigError
from inferctl.render import render_platform
from inferctl.render.autoscaling import INTERCEPTOR_SELECTOR, KEDA_NAMESPACE, entry_service_name
from inferctl.sizing.autoscaling import (
    NLB_WAKE_CAP_S,
    cold_start_estimate,
    per_replica_target,
    replica_costs,
    wake_timeout_s,
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
        (
            "target: aws\nmodels:\n  - {name: a, autoscaling: {min_replicas: 0}}\n"
            "  - {name: b, autoscaling: {min_replicas: 0}}\n",
            "one model per platform can scale to zero",
        ),
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


def test_scale_to_zero_shortens_the_gpu_pools_consolidation_unless_set() -> None:
    assert _config(ZERO).pools.gpu.consolidate_after == "5m"
    assert workshop_config().pools.gpu.consolidate_after == "1h"
    explicit = _config(ZERO, pools={"gpu": {"consolidate_after": "20m"}})
    assert explicit.pools.gpu.consolidate_after == "20m"
    # min 1 keeps a node anyway: the default stays
    assert _config({**ZERO, "autoscaling": {"min_replicas": 1}}).pools.gpu.consolidate_after == "1h"


# --- sizing -----------------------------------------------------------------------------------------------------


def test_per_replica_target_is_what_one_kv_cache_holds_at_the_configured_length() -> None:
    model = _config(ZERO).models[0]
    assert per_replica_target(model, g5_xlarge_placement()) == 41_000 // 8192 == 5
    assert per_replica_target(model, g5_xlarge_placement(kv_cache_tokens=330_000, max_model_len=4096)) == 80
    assert per_replica_target(model, g5_xlarge_placement(kv_cache_tokens=4000, max_model_len=8192)) == 1
    capped = _config({**ZERO, "engine": {"max_num_seqs": 16}}).models[0]
    assert per_replica_target(capped, g5_xlarge_placement(kv_cache_tokens=330_000, max_model_len=4096)) == 16
    fixed = _config({**ZERO, "autoscaling": {"min_replicas": 0, "target_concurrency": 7}}).models[0]
    assert per_replica_target(fixed, g5_xlarge_placement()) == 7


def test_wake_timeout_follows_the_cold_start_estimate_and_stays_under_the_nlbs_longest_idle_timeout() -> None:
    small, big = g5_xlarge_placement(weight_gib=1.0), g5_xlarge_placement(weight_gib=140.0)
    assert cold_start_estimate(big).total_s > cold_start_estimate(small).total_s
    assert cold_start_estimate(big).download_s == 956  # 140 GiB at 150 MiB/s
    settings = AutoscalingSettings(min_replicas=0)
    # 120 node + 120 image + 7 download + 90 engine = 337 s, x1.5 = 505.5 -> whole minutes: 540 s
    assert wake_timeout_s(settings, small, behind_nlb=False) == 540
    assert wake_timeout_s(settings, big, behind_nlb=False) > 540
    # 120 + 120 + 956 + 90 = 1286 s, x1.5 -> 1980 s: under the NLB's longest idle timeout, so not capped
    assert wake_timeout_s(settings, big, behind_nlb=True) == wake_timeout_s(settings, big, behind_nlb=False) == 1980
    assert wake_timeout_s(AutoscalingSettings(min_replicas=0, wake_timeout="2m"), big, behind_nlb=False) == 120
    hours = AutoscalingSettings(min_replicas=0, wake_timeout="3h")
    assert wake_timeout_s(hours, small, behind_nlb=False) == 10_800
    assert wake_timeout_s(hours, small, behind_nlb=True) == NLB_WAKE_CAP_S < 6000


def test_cold_start_downloads_the_checkpoint_not_the_weights_in_gpu_memory() -> None:
    """A model quantized to fp8 at load downloads its bf16 checkpoint: ~131 GiB for 70B, though its weights take
    ~66 GiB on the GPU. The wake timeout estimated from the weights would cut the real download short (504)."""
    fp8 = g5_xlarge_placement(weight_gib=66.0, checkpoint_gib=131.0)
    assert cold_start_estimate(fp8).download_s == 895  # 131 GiB at 150 MiB/s
    # 120 + 120 + 895 + 90 = 1225 s of real cold start; x1.5 -> 1860 s (from the weights it was 1200 s < 1225 s)
    assert wake_timeout_s(AutoscalingSettings(min_replicas=0), fp8, behind_nlb=False) == 1860
    assert cold_start_estimate(g5_xlarge_placement(weight_gib=66.0)).download_s == 451  # no checkpoint size known


def test_costs_idle_and_at_max_replicas() -> None:
    placement = g5_xlarge_placement()  # 1.006 on-demand, 0.4 spot
    costs = replica_costs(_config(ZERO).models[0], placement, spot=False)
    assert (costs.idle_usd_per_hour, costs.max_usd_per_hour) == (0.0, 3.018)
    fixed = replica_costs(workshop_config().models[0], placement, spot=True)
    assert (fixed.idle_usd_per_hour, fixed.max_usd_per_hour) == (0.4, 0.4)


# --- render -----------------------------------------------------------------------------------------------------


def test_a_model_at_zero_is_reached_through_the_interceptor_and_keeps_its_api_key() -> None:
    config = _config(ZERO, endpoint={"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}})
    objects = render_platform(config, placements_for(config))
    model_service = one(objects, "Service", "llama-3-8b-instruct")
    assert model_service["spec"]["type"] == "ClusterIP" and "annotations" not in model_service["metadata"]
    entry = one(objects, "Service", entry_service_name(config, config.models[0]))
    assert entry["metadata"]["namespace"] == KEDA_NAMESPACE
    assert entry["spec"]["selector"] == INTERCEPTOR_SELECTOR
    assert entry["spec"]["type"] == "LoadBalancer"
    assert entry["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    annotations = entry["metadata"]["annotations"]
    # the NLB asks the interceptor, not vLLM: healthy while the model has no replica
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] == "/readyz"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"] == "9090"
    # a held request is silent: the NLB must not drop it before the interceptor's 504 (660 s + 60 s margin)
    listener = annotations["service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80"]
    assert listener == "tcp.idle_timeout.seconds=720"
    # its targets are the interceptor's pods: the NLB keeps their connections for the interceptor's whole grace
    # (135 s shutdown delay + 3455 s drain + 10 s, render/drain.py), not the model pods' 270 s
    deregistration = annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"]
    assert deregistration == "deregistration_delay.timeout_seconds=3600"
    route = one(objects, "InterceptorRoute")
    assert route["spec"]["target"] == {"service": "llama-3-8b-instruct", "portName": "http"}
    assert "coldStart" not in route["spec"]  # no placeholder or fallback answers in vLLM's place
    # Llama-3-8B: 120 node + 120 image + 103 download (14.96 GiB) + 90 engine = 433 s, x1.5 -> 660 s
    assert route["spec"]["timeouts"]["readiness"] == "660s"
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert API_KEY_ENV in {e["name"] for e in container["env"]}  # vLLM still checks every proxied request


def test_pods_behind_the_interceptor_drain_for_their_cluster_ip_not_for_an_nlb() -> None:
    """Only the interceptor is an NLB target for a model at zero; its own pods are reached through a ClusterIP
    Service, so their preStop waits for endpoints only (render/drain.py: 10 s, grace 10 + 120 + 15 = 145 s). A
    model that keeps a replica stays the NLB's target (135 s, grace 270 s)."""
    warm = {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {}}
    exposure = {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}
    config = _config(ZERO, warm, endpoint={"exposure": exposure})
    objects = render_platform(config, placements_for(config))
    for name, prestop, grace in (("llama-3-8b-instruct", 10, 145), ("qwen", 135, 270)):
        pod = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(prestop)], name
        assert pod["terminationGracePeriodSeconds"] == grace, name


def test_scaled_object_scales_the_deployment_on_vllm_metrics_and_pending_requests() -> None:
    config = _config(ZERO, {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {}})
    objects = render_platform(config, placements_for(config))
    for deployment in by_kind(objects, "Deployment"):
        assert "replicas" not in deployment["spec"]  # KEDA owns it; up must not reset it
    zero, busy = (one(objects, "ScaledObject", name) for name in ("llama-3-8b-instruct", "qwen"))
    assert (zero["spec"]["minReplicaCount"], zero["spec"]["maxReplicaCount"]) == (0, 3)
    assert zero["spec"]["cooldownPeriod"] == 900
    triggers = {t["name"]: t for t in zero["spec"]["triggers"]}
    assert triggers["vllm-requests"]["metadata"]["threshold"] == "5"
    assert "vllm:num_requests_waiting" in triggers["vllm-requests"]["metadata"]["query"]
    assert "vllm:kv_cache_usage_perc" in triggers["vllm-kv-cache"]["metadata"]["query"]
    assert triggers["interceptor"]["metadata"]["interceptorRoute"] == "llama-3-8b-instruct"
    assert {t["type"] for t in busy["spec"]["triggers"]} == {"prometheus"}
    assert busy["spec"]["minReplicaCount"] == 1 and "cooldownPeriod" not in busy["spec"]
    assert len(by_kind(objects, "InterceptorRoute")) == 1
    assert one(objects, "Service", "qwen")["spec"]["type"] == "LoadBalancer"  # min 1: reached directly


def test_models_without_autoscaling_render_as_before() -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config))
    assert not by_kind(objects, "ScaledObject") and not by_kind(objects, "InterceptorRoute")
    assert one(objects, "Deployment")["spec"]["replicas"] == 1


def test_crd_validation_catches_a_typo_and_a_broken_rule() -> None:
    config = _config(ZERO)
    objects = render_platform(config, placements_for(config))
    scaled = copy.deepcopy(one(objects, "ScaledObject"))
    scaled["spec"]["cooldownperiod"] = 60
    with pytest.raises(jsonschema.ValidationError):
        validate_keda(scaled)
    route = copy.deepcopy(one(objects, "InterceptorRoute"))
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
