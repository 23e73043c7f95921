"""The request path's chain of timeouts (inferctl.sizing.request_timeouts): every hop outlasts the one inside it
(vLLM's first byte -> the interceptor -> the gateway -> the NLB -> the client), and render, ``chat`` and ``bench``
read theirs from the one function. Pure functions and the real renderers; nothing faked. Facts from upstream are
the constants below, each with its source.
"""

from __future__ import annotations

import pytest
import yaml

from inferctl.config import parse_config
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.render import render_platform
from inferctl.render.gateway import wake_workers
from inferctl.sizing.request_timeouts import (
    HOP_MARGIN_S,
    INTERCEPTOR_DIAL_S,
    client_timeouts,
    gateway_timeouts,
    request_timeouts,
)
from tests.support.render import (
    LLAMA3_8B,
    SHARED,
    g5_xlarge_placement,
    one,
    placements_for,
    variant_configs,
    workshop_config,
)

# kedacore/http-add-on v0.15.0, interceptor/config/timeouts.go: the global defaults an InterceptorRoute overrides.
# KEDA_HTTP_RESPONSE_HEADER_TIMEOUT 300s, KEDA_HTTP_READINESS_TIMEOUT 0s, KEDA_HTTP_REQUEST_TIMEOUT 0s (no deadline).
INTERCEPTOR_RESPONSE_HEADER_DEFAULT_S = 300
# pkg/net/dial_context.go: "When the parent context has no deadline, retries are bounded by maxRetryDuration";
# maxRetryDuration = 1 * time.Minute.
INTERCEPTOR_DIAL_RETRY_MAX_S = 60
# AWS ELB user guide, "Update the TCP idle timeout for your Network Load Balancer listener": "The default idle
# timeout value for TCP flows is 350 seconds", "Enter a value for TCP idle timeout from 60-6000 seconds".
NLB_IDLE_DEFAULT_S, NLB_IDLE_MIN_S, NLB_IDLE_MAX_S = 350, 60, 6000
# kubernetes-sigs/aws-load-balancer-controller v2.14.0, docs/guide/service/annotations.md ("listener-attributes"):
# service.beta.kubernetes.io/aws-load-balancer-listener-attributes.${Protocol}-${Port}, example
# "tcp.idle_timeout.seconds=400" on TCP-80.
LISTENER_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80"
# smg 1.13.0 src/smg/router_args.py: RouterArgs.request_timeout_secs = 1800 (the upstream HTTP client's whole
# request: model_gateway/src/worker/http_client.rs, WorkerHttpClientCache::key; a worker's http_pool.timeout_secs
# wins for that worker); idle_connection_timeout_secs = 90, whose help says to keep it above the idle timeout of
# any load balancer in front (model_gateway/src/main.rs, CliArgs).
SMG_REQUEST_TIMEOUT_DEFAULT_S = 1800
INTERCEPTOR_ROUTE_CRD = SHARED / "schemas" / "keda-http-add-on-v0.15.0" / "http.keda.sh_interceptorroutes.yaml"

ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0, "max_replicas": 3}}
GATEWAY = "genai-gateway"


def _idle_s(service: dict) -> int:
    key, _, value = service["metadata"]["annotations"][LISTENER_ANNOTATION].partition("=")
    assert key == "tcp.idle_timeout.seconds"
    return int(value)


def _flag(objects: list[dict], flag: str) -> int | None:
    args = one(objects, "Deployment", GATEWAY)["spec"]["template"]["spec"]["containers"][0]["args"]
    return int(args[args.index(flag) + 1]) if flag in args else None


def test_the_interceptor_waits_for_readiness_then_dials_then_waits_for_headers() -> None:
    """What the chain adds up comes from the add-on: the route's responseHeader "does not include cold-start wait
    time" (the InterceptorRoute CRD at v0.15.0), the dial after readiness retries up to a minute when the request
    has no deadline, and the route sets none (so the add-on's KEDA_HTTP_REQUEST_TIMEOUT default of none applies)."""
    crd = yaml.safe_load(INTERCEPTOR_ROUTE_CRD.read_text(encoding="utf-8"))
    timeouts = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["timeouts"]
    assert "Does not include cold-start wait time" in timeouts["properties"]["responseHeader"]["description"]
    assert INTERCEPTOR_DIAL_S == INTERCEPTOR_DIAL_RETRY_MAX_S
    config = workshop_config(models=[ZERO])
    objects = render_platform(config, placements_for(config))
    wake = one(objects, "InterceptorRoute", "llama-3-8b-instruct-wake")
    assert set(wake["spec"]["timeouts"]) == {"readiness", "responseHeader"}  # never a total request deadline
    status = one(objects, "InterceptorRoute", "llama-3-8b-instruct-status")
    assert "timeouts" not in status["spec"]  # its placeholder answers at once; awake, the add-on's defaults


def test_a_long_wake_then_a_non_streaming_answer_fits_inside_the_gateway_and_the_nlb() -> None:
    """Issue 20's case: Llama-3-8B at zero on a g5.xlarge wakes in up to 1080 s (test_wake_estimate), then a
    non-streaming completion may take the whole first-byte timeout (10m by default, twice the add-on's 300 s
    default). The gateway's wake worker waits longer than the interceptor (never less than smg's own 1800 s), the
    NLB longer than the gateway, the CLI longer than the NLB."""
    config = workshop_config(models=[ZERO])
    placement = g5_xlarge_placement()
    chain = request_timeouts(config, config.models[0], placement)
    assert (chain.readiness_s, chain.first_byte_s) == (1080, 600)
    assert chain.first_byte_s > INTERCEPTOR_RESPONSE_HEADER_DEFAULT_S  # so the route must set its own
    assert chain.interceptor_s == 1080 + 60 + 600 == 1740
    assert chain.gateway_s == max(1740 + HOP_MARGIN_S, SMG_REQUEST_TIMEOUT_DEFAULT_S) == 1800
    assert chain.load_balancer_s == 1800 + HOP_MARGIN_S == 1830
    assert chain.client_s == 1830 + HOP_MARGIN_S == 1860
    objects = render_platform(config, {"llama-3-8b-instruct": placement})
    wake = one(objects, "InterceptorRoute", "llama-3-8b-instruct-wake")
    assert wake["spec"]["timeouts"] == {"readiness": "1080s", "responseHeader": "600s"}
    assert _idle_s(one(objects, "Service", GATEWAY)) == 1830
    (worker,) = wake_workers(config, {"llama-3-8b-instruct": placement})
    assert worker["http_pool"] == {"timeout_secs": 1800}


def test_a_first_byte_longer_than_smgs_default_stretches_the_gateway_and_the_nlb() -> None:
    """With a 1h first byte the gateway's own 1800 s would cut a slow non-streaming answer: it gets 3630 s, the
    NLB 3660 s, and the gateway keeps idle client connections longer than the NLB does."""
    config = workshop_config(endpoint={"first_byte_timeout": "1h"})
    chain = request_timeouts(config, config.models[0], None)
    assert (chain.gateway_s, chain.load_balancer_s, chain.client_s) == (3630, 3660, 3690)
    objects = render_platform(config, placements_for(config))
    assert _flag(objects, "--request-timeout-secs") == 3630
    assert _idle_s(one(objects, "Service", GATEWAY)) == 3660
    assert _flag(objects, "--idle-connection-timeout-secs") == 3690


@pytest.mark.parametrize(
    ("target", "first_byte", "lb", "client"),
    [("local", "10m", None, 1830), ("kubernetes", "2m", None, 1830), ("aws", "1m", 1830, 1860)],
)
def test_without_a_wake_the_chain_is_the_first_byte_behind_the_gateway(
    target: str, first_byte: str, lb: int | None, client: int
) -> None:
    """Every target has the gateway (smg's default 1800 s wins over a short first byte); elsewhere inferctl puts
    no NLB of its own in front (kubernetes: ClusterIP)."""
    models = [{"name": "m", "source": "demo" if target == "local" else LLAMA3_8B}]
    if target == "local":  # the local target has no interceptor, whatever autoscaling says
        models[0]["autoscaling"] = {"min_replicas": 0}
    config = PlatformConfig.model_validate(
        {"target": target, "models": models, "endpoint": {"first_byte_timeout": first_byte}}
    )
    chain = request_timeouts(config, config.models[0], None)
    assert (chain.readiness_s, chain.gateway_s) == (None, SMG_REQUEST_TIMEOUT_DEFAULT_S)
    assert (chain.load_balancer_s, chain.client_s) == (lb, client)


def test_the_nlbs_ceiling_takes_its_room_from_the_wake_not_from_the_answer() -> None:
    """An NLB holds a silent flow 6000 s at most: a 1h first byte and a 3h wake give the wake what is left
    behind the gateway's and the NLB's margins."""
    settings = {"min_replicas": 0, "wake_timeout": "3h"}
    config = workshop_config(models=[{**ZERO, "autoscaling": settings}], endpoint={"first_byte_timeout": "1h"})
    chain = request_timeouts(config, config.models[0], g5_xlarge_placement())
    assert chain.first_byte_s == 3600 and chain.load_balancer_s == NLB_IDLE_MAX_S
    assert chain.readiness_s == NLB_IDLE_MAX_S - 2 * HOP_MARGIN_S - INTERCEPTOR_DIAL_S - 3600 == 2280
    assert chain.gateway_s == NLB_IDLE_MAX_S - HOP_MARGIN_S
    # without an NLB nothing caps it
    elsewhere = workshop_config(target="kubernetes", models=[{**ZERO, "autoscaling": settings}])
    assert request_timeouts(elsewhere, elsewhere.models[0], None).readiness_s == 3 * 3600


def test_the_one_nlb_outlasts_the_longest_chain_of_any_model() -> None:
    """One NLB per platform: a model with a long wake sets the listener for every model."""
    slow = {**ZERO, "autoscaling": {"min_replicas": 0, "wake_timeout": "40m"}}
    warm = {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct"}
    config = workshop_config(models=[slow, warm])
    placements = placements_for(config)
    chains = {m.name: request_timeouts(config, m, placements[m.name]) for m in config.models}
    assert chains["llama-3-8b-instruct"].gateway_s == 2400 + 60 + 600 + HOP_MARGIN_S == 3090
    assert chains["qwen"].gateway_s == SMG_REQUEST_TIMEOUT_DEFAULT_S
    platform = gateway_timeouts(config, placements)
    assert platform.load_balancer_s == 3090 + HOP_MARGIN_S == max(c.load_balancer_s or 0 for c in chains.values())
    assert platform.request_s == SMG_REQUEST_TIMEOUT_DEFAULT_S  # pod workers: the first byte inside
    assert platform.idle_connection_s == platform.load_balancer_s + HOP_MARGIN_S


@pytest.mark.parametrize("value", ["30s", "61m", "2h"])
def test_a_first_byte_timeout_the_chain_cannot_hold_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"first_byte_timeout .* must be between 1m and 1h"):
        parse_config(f"target: aws\nendpoint: {{first_byte_timeout: {value}}}\nmodels: [{{name: m}}]\n")


@pytest.mark.parametrize("name", sorted(variant_configs()))
def test_every_rendered_listener_stays_in_the_nlbs_range_and_outlasts_every_chain(name: str) -> None:
    config = variant_configs()[name]
    objects = render_platform(config, placements_for(config))
    services = [s for s in objects if s["kind"] == "Service" and s["metadata"].get("annotations")]
    assert [s["metadata"]["name"] for s in services] == ([GATEWAY] if config.traits.load_balancer_by_default else [])
    idle = _idle_s(services[0]) if services else None
    if idle is not None:
        assert NLB_IDLE_DEFAULT_S <= idle <= NLB_IDLE_MAX_S and idle >= NLB_IDLE_MIN_S
        assert _flag(objects, "--idle-connection-timeout-secs") == idle + HOP_MARGIN_S
    request_s = _flag(objects, "--request-timeout-secs")
    assert request_s is not None and request_s >= SMG_REQUEST_TIMEOUT_DEFAULT_S
    for model in config.models:
        chain = request_timeouts(config, model, placements_for(config)[model.name])
        inner = chain.interceptor_s or chain.first_byte_s
        assert inner < chain.gateway_s < chain.client_s, model.name
        if idle is not None:
            assert chain.gateway_s < idle < chain.client_s + HOP_MARGIN_S, model.name
        if chain.readiness_s is None:
            assert chain.gateway_s <= request_s, model.name  # its pods are the gateway's global-timeout workers


def test_chat_and_bench_take_the_client_budget_from_the_same_chain() -> None:
    """``client_timeouts`` sizes the model for its wake estimate (Llama-3-8B's profile ships with inferctl)."""
    config = workshop_config(models=[ZERO])
    assert client_timeouts(config, config.models[0]).client_s == 1860
    explicit = workshop_config(
        models=[{**ZERO, "autoscaling": {"min_replicas": 0, "wake_timeout": "2m"}}],
        endpoint={"first_byte_timeout": "1h"},
    )
    assert client_timeouts(explicit, explicit.models[0]).client_s == 120 + 60 + 3600 + 30 + 30 + 30
