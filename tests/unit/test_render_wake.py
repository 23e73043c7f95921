"""A model asleep at zero, reached through its own wake host on the KEDA HTTP add-on's interceptor (render/wake.py):
the wake Service, the wake and status routes, the wake worker the gateway registers, for any number of models.

Pure renderers, nothing faked. Which route a request takes is decided by tests/support/interceptor.py's model of
the add-on's routing, itself checked against the add-on's own test cases here. The routes and the gateway running
for real against a stand-in interceptor: tests/e2e/test_gateway_cluster_e2e.py.
"""

from __future__ import annotations

import json

import pytest

from inferctl.gateway import HOUSEKEEPING_PATHS
from inferctl.render import render_platform
from inferctl.render.gateway import wake_workers
from inferctl.render.wake import (
    INTERCEPTOR_PROXY_PORT,
    INTERCEPTOR_SELECTOR,
    KEDA_NAMESPACE,
    model_list_body,
    wake_host,
    wake_url,
)
from tests.support.interceptor import UPSTREAM_ROUTE_CASES, route_for, upstream_routes
from tests.support.keda import validate_keda
from tests.support.render import LLAMA3_8B, by_kind, one, placements_for, workshop_config

ASLEEP = [
    {"name": "llama", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}},
    {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "served_model_name": "Qwen/Qwen2.5-7B-Instruct",
     "autoscaling": {"min_replicas": 0}},
    {"name": "mistral", "source": "mistralai/Mistral-7B-v0.1"},
]  # fmt: skip
# Paths a request for the model may take (OpenAI's and vLLM's APIs): whatever is not the gateway's own polling
# (inferctl.gateway.HOUSEKEEPING_PATHS, with their sources) wakes the model.
INFERENCE_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/generate"]


@pytest.mark.parametrize(("stored", "host", "path", "want"), UPSTREAM_ROUTE_CASES)
def test_the_stand_ins_routing_agrees_with_the_add_ons_own_cases(stored, host, path, want) -> None:  # type: ignore[no-untyped-def]
    assert route_for(upstream_routes(stored), host, path) == want


def _objects() -> tuple[object, list[dict]]:
    config = workshop_config(models=ASLEEP)
    return config, render_platform(config, placements_for(config))


def test_every_sleeping_model_gets_its_own_wake_host_and_two_routes() -> None:
    _, objects = _objects()
    routes = by_kind(objects, "InterceptorRoute")
    assert [r["metadata"]["name"] for r in routes] == ["llama-wake", "llama-status", "qwen-wake", "qwen-status"]
    hosts = {r["spec"]["rules"][0]["hosts"][0] for r in routes}
    assert hosts == {"genai-llama-wake.keda.svc", "genai-qwen-wake.keda.svc"}  # one per model: none is "*"
    for route in routes:
        validate_keda(route)
    for model in ("llama", "qwen"):
        service = one(objects, "Service", f"genai-{model}-wake")
        assert service["metadata"]["namespace"] == KEDA_NAMESPACE and service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["selector"] == INTERCEPTOR_SELECTOR  # the interceptor's own pods
        assert service["spec"]["ports"][0]["port"] == INTERCEPTOR_PROXY_PORT
        assert service["spec"]["ports"][0]["targetPort"] == "proxy"  # the chart's container port name
    # a model with replicas has none of it
    assert not [o for o in objects if "mistral" in o["metadata"]["name"] and o["kind"] == "InterceptorRoute"]


def test_inference_wakes_the_model_and_the_gateways_polls_do_not() -> None:
    config, objects = _objects()
    routes = by_kind(objects, "InterceptorRoute")
    host = wake_host(config, config.models[0])
    for path in [*INFERENCE_PATHS, "/", "/health_generate", "/v1/models_extra"]:
        assert route_for(routes, host, path) == "llama-wake", path
    for path in [*HOUSEKEEPING_PATHS, "/v1/models/llama", "/loads?model=llama", "/v1/loads?include=core"]:
        assert route_for(routes, host, path) == "llama-status", path
    # the other model's host never reaches this model's routes
    assert route_for(routes, wake_host(config, config.models[1]), "/v1/chat/completions") == "qwen-wake"
    scaled = {o["metadata"]["name"]: o for o in by_kind(objects, "ScaledObject")}
    pushes = [t["metadata"]["interceptorRoute"] for s in scaled.values() for t in s["spec"]["triggers"]
              if t["type"] == "external-push"]  # fmt: skip
    assert pushes == ["llama-wake", "qwen-wake"]  # the status routes count for nobody


def test_the_status_route_answers_as_an_openai_model_list_at_once_while_the_model_sleeps() -> None:
    config, objects = _objects()
    status = one(objects, "InterceptorRoute", "qwen-status")
    response = status["spec"]["coldStart"]["placeholder"]["response"]
    assert response["statusCode"] == 200 and response["headers"] == {"Content-Type": "application/json"}
    body = json.loads(response["body"])
    card = {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "owned_by": "vllm"}
    assert body == {"object": "list", "data": [card]}
    assert response["body"] == model_list_body(config.models[1])
    assert status["spec"]["target"] == one(objects, "InterceptorRoute", "qwen-wake")["spec"]["target"]
    assert "coldStart" not in one(objects, "InterceptorRoute", "qwen-wake")["spec"]


def test_the_gateway_knows_each_sleeping_model_by_its_served_name_at_its_wake_url() -> None:
    """smg's WorkerSpec (crates/protocols/src/worker.rs): explicit model id, vLLM runtime, no health checks (each
    would reach the wake host), no retries and no circuit breaker (crates/protocols/src/worker.rs ResilienceUpdate:
    ``disable_retry``, ``disable_circuit_breaker``), its own request timeout (http_pool.timeout_secs)."""
    config, objects = _objects()
    workers = wake_workers(config, placements_for(config))
    assert [w["url"] for w in workers] == [wake_url(config, m) for m in config.models[:2]]
    assert workers[0]["url"] == "http://genai-llama-wake.keda.svc:8080"
    assert [w["models"] for w in workers] == [[{"id": "llama"}], [{"id": "Qwen/Qwen2.5-7B-Instruct"}]]
    for worker in workers:
        assert worker["runtime_type"] == "vllm" and worker["health"] == {"disable_health_check": True}
        assert worker["resilience"] == {"disable_retry": True, "disable_circuit_breaker": True}
        assert worker["http_pool"]["timeout_secs"] >= 1800
        assert "api_key" not in worker  # the registrar adds the key from the Secret; never in a manifest
    gateway = one(objects, "Deployment", "genai-gateway")["spec"]["template"]["spec"]
    registrar = next(c for c in gateway["containers"] if c["name"] == "wake-registrar")
    env = {e["name"]: e.get("value") for e in registrar["env"]}
    assert json.loads(env["INFERCTL_WAKE_WORKERS"]) == workers


def test_wake_names_stay_dns_labels_for_long_names() -> None:
    long_name = "m" * 60
    config = workshop_config(
        name="p" * 40, models=[{"name": long_name, "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}}]
    )
    objects = render_platform(config, placements_for(config))
    names = [o["metadata"]["name"] for o in objects if o["kind"] in {"Service", "InterceptorRoute"}]
    assert all(len(n) <= 63 for n in names), names
    assert len({n for n in names if n.startswith("m")}) == 3  # model Service, wake and status routes differ
