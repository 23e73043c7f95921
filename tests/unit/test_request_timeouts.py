"""The request path's chain of timeouts (inferctl.sizing.request_timeouts): every hop outlasts the one inside it,
and render, ``chat`` and ``bench`` read theirs from the one function. Pure functions and the real renderers;
nothing faked. Facts from upstream are the constants below, each with its source.
"""

from __future__ import annotations

import pytest
import yaml

from inferctl.config import parse_config
from inferctl.config.models import PlatformConfig
from inferctl.errors import ConfigError
from inferctl.render import render_platform
from inferctl.render.autoscaling import entry_service_name
from inferctl.sizing.request_timeouts import (
    HOP_MARGIN_S,
    INTERCEPTOR_DIAL_S,
    client_timeouts,
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
INTERCEPTOR_ROUTE_CRD = SHARED / "schemas" / "keda-http-add-on-v0.15.0" / "http.keda.sh_interceptorroutes.yaml"

ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0, "max_replicas": 3}}


def _idle_s(service: dict) -> int:
    key, _, value = service["metadata"]["annotations"][LISTENER_ANNOTATION].partition("=")
    assert key == "tcp.idle_timeout.seconds"
    return int(value)


def test_the_interceptor_waits_for_readiness_then_dials_then_waits_for_headers() -> None:
    """What the chain adds up comes from the add-on: the route's responseHeader "does not include cold-start wait
    time" (the InterceptorRoute CRD at v0.15.0), the dial after readiness retries up to a minute when the request
    has no deadline, and the route sets none (so the add-on's KEDA_HTTP_REQUEST_TIMEOUT default of none applies)."""
    crd = yaml.safe_load(INTERCEPTOR_ROUTE_CRD.read_text(encoding="utf-8"))
    timeouts = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["timeouts"]
    assert "Does not include cold-start wait time" in timeouts["properties"]["responseHeader"]["description"]
    assert INTERCEPTOR_DIAL_S == INTERCEPTOR_DIAL_RETRY_MAX_S
    config = workshop_config(models=[ZERO])
    route = one(render_platform(config, placements_for(config)), "InterceptorRoute")
    assert set(route["spec"]["timeouts"]) == {"readiness", "responseHeader"}  # never a total request deadline


def test_a_long_wake_then_a_non_streaming_answer_fits_inside_the_nlb() -> None:
    """Issue 20's case: Llama-3-8B at zero on a g5.xlarge wakes in up to 660 s, then a non-streaming completion
    may take the whole first-byte timeout (10m by default, twice the add-on's 300 s default). The entry NLB used
    to close the silent flow at wake + 60 s = 720 s, resetting the request the interceptor was still serving."""
    config = workshop_config(models=[ZERO])
    placement = g5_xlarge_placement()
    chain = request_timeouts(config, config.models[0], placement)
    assert (chain.readiness_s, chain.first_byte_s) == (660, 600)
    assert chain.first_byte_s > INTERCEPTOR_RESPONSE_HEADER_DEFAULT_S  # so the route must set its own
    assert chain.interceptor_s == 660 + 60 + 600
    assert chain.load_balancer_s == 1320 + HOP_MARGIN_S == 1350
    assert chain.client_s == 1350 + HOP_MARGIN_S == 1380
    assert chain.client_s > chain.readiness_s  # chat used to give up at 600 s, inside the 660 s wake
    objects = render_platform(config, {"llama-3-8b-instruct": placement})
    route = one(objects, "InterceptorRoute")
    assert route["spec"]["timeouts"] == {"readiness": "660s", "responseHeader": "600s"}
    entry = one(objects, "Service", entry_service_name(config, config.models[0]))
    assert _idle_s(entry) == 1350


def test_a_model_with_replicas_gets_an_nlb_that_outlasts_its_first_byte() -> None:
    """No interceptor: the client's flow reaches vLLM through the model's own NLB, whose 350 s default would cut
    a non-streaming completion of 6 minutes."""
    config = workshop_config()
    chain = request_timeouts(config, config.models[0], None)
    assert (chain.readiness_s, chain.interceptor_s) == (None, None)
    assert (chain.load_balancer_s, chain.client_s) == (630, 660)
    service = one(render_platform(config, placements_for(config)), "Service", "llama-3-8b-instruct")
    assert _idle_s(service) == 630


@pytest.mark.parametrize(
    ("target", "first_byte", "lb", "client"),
    [("local", "10m", None, 630), ("kubernetes", "2m", None, 150), ("aws", "1m", NLB_IDLE_DEFAULT_S, 380)],
)
def test_without_a_wake_the_chain_is_the_first_byte(target: str, first_byte: str, lb: int | None, client: int) -> None:
    """Elsewhere inferctl puts no NLB of its own in front (kubernetes: ClusterIP); on aws a short first byte keeps
    the listener at AWS's default rather than below it."""
    models = [{"name": "m", "source": "demo" if target == "local" else LLAMA3_8B}]
    if target == "local":  # the local target has no interceptor, whatever autoscaling says
        models[0]["autoscaling"] = {"min_replicas": 0}
    config = PlatformConfig.model_validate(
        {"target": target, "models": models, "endpoint": {"first_byte_timeout": first_byte}}
    )
    chain = request_timeouts(config, config.models[0], None)
    assert (chain.load_balancer_s, chain.client_s) == (lb, client)


def test_the_nlbs_ceiling_takes_its_room_from_the_wake_not_from_the_answer() -> None:
    """An NLB holds a silent flow 6000 s at most: a 1h first byte and a 3h wake give the wake what is left."""
    settings = {"min_replicas": 0, "wake_timeout": "3h"}
    config = workshop_config(models=[{**ZERO, "autoscaling": settings}], endpoint={"first_byte_timeout": "1h"})
    chain = request_timeouts(config, config.models[0], g5_xlarge_placement())
    assert chain.first_byte_s == 3600 and chain.load_balancer_s == NLB_IDLE_MAX_S
    assert chain.readiness_s == NLB_IDLE_MAX_S - HOP_MARGIN_S - INTERCEPTOR_DIAL_S - 3600 == 2310
    # without an NLB nothing caps it
    elsewhere = workshop_config(target="kubernetes", models=[{**ZERO, "autoscaling": settings}])
    assert request_timeouts(elsewhere, elsewhere.models[0], None).readiness_s == 3 * 3600


@pytest.mark.parametrize("value", ["30s", "61m", "2h"])
def test_a_first_byte_timeout_the_chain_cannot_hold_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"first_byte_timeout .* must be between 1m and 1h"):
        parse_config(f"target: aws\nendpoint: {{first_byte_timeout: {value}}}\nmodels: [{{name: m}}]\n")


@pytest.mark.parametrize("name", sorted(variant_configs()))
def test_every_rendered_listener_stays_in_the_nlbs_range_and_outlasts_its_chain(name: str) -> None:
    config = variant_configs()[name]
    objects = render_platform(config, placements_for(config))
    services = [s for s in objects if s["kind"] == "Service" and s["metadata"].get("annotations")]
    assert services or not config.traits.load_balancer_by_default
    for service in services:
        idle = _idle_s(service)
        assert NLB_IDLE_DEFAULT_S <= idle <= NLB_IDLE_MAX_S and idle >= NLB_IDLE_MIN_S
    for model in config.models:
        chain = request_timeouts(config, model, placements_for(config)[model.name])
        inner = chain.interceptor_s or chain.first_byte_s
        outer = chain.load_balancer_s or inner
        assert inner <= outer < chain.client_s, model.name


def test_chat_and_bench_take_the_client_budget_from_the_same_chain() -> None:
    """``client_timeouts`` sizes the model for its wake estimate (Llama-3-8B's profile ships with inferctl)."""
    config = workshop_config(models=[ZERO])
    assert client_timeouts(config, config.models[0]).client_s == 1380
    explicit = workshop_config(models=[{**ZERO, "autoscaling": {"min_replicas": 0, "wake_timeout": "2m"}}])
    assert client_timeouts(explicit, explicit.models[0]).client_s == 120 + 60 + 600 + 30 + 30
