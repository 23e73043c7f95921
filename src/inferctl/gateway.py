"""The model gateway every target puts in front of its models: Shepherd Model Gateway (``smg``) 1.13.0.

Why smg, and every fact below with its source, is in ``docs/gateway-choice.md`` (the measurement, and smg's
1.13.0 sdist: ``src/smg/router_args.py``, ``src/smg/launch_router.py``, ``model_gateway/src/main.rs``,
``crates/protocols/src/worker.rs``). This module holds what every target's gateway shares: the pinned image and
version, how the process starts with the key out of its arguments, the routing flags, and the shape of a
``POST /workers`` body. Pure data; no I/O.
"""

from __future__ import annotations

from typing import Any

GATEWAY_VERSION = "1.13.0"
# smg-project/smg .github/workflows/release-docker.yml (main, f8daa8835a8b) tags lightseekorg/smg:<version of
# bindings/python/pyproject.toml> and builds linux/amd64 and linux/arm64 from docker/Dockerfile, which runs as user
# ``smg``, UID 65532, with ``ENTRYPOINT ["python3", "-m", "smg.launch_router"]`` in an Ubuntu 24.04 base.
GATEWAY_IMAGE = f"lightseekorg/smg:{GATEWAY_VERSION}"
GATEWAY_IMAGE_ARM64 = True
GATEWAY_UID = 65532

# smg has no environment variable for --api-key, and a flag shows in ``ps`` and in a manifest: both targets start
# it through its documented Python entry (smg/launch_router.py: parse_router_args, launch_router) with the key
# read from this variable.
API_KEY_ENV = "INFERCTL_GATEWAY_API_KEY"
SMG_LAUNCH = (
    "import os, sys; from smg.launch_router import launch_router, parse_router_args; "
    f"args = parse_router_args(sys.argv[1:]); args.api_key = os.environ['{API_KEY_ENV}']; "
    "launch_router(args)"
)

# Route by the request's ``model``; across a model's replicas by prefix cache and load (cache_aware is always
# load-aware: model_gateway/src/policies/registry.rs). ``--backend vllm`` fixes only ZMQ workers' wire protocol
# (HTTP workers are detected); HTTP workers need no tokenizer in the gateway.
ROUTING_FLAGS = ("--policy", "cache_aware", "--backend", "vllm", "--disable-tokenizer-autoload")

# What smg sends a worker by itself, besides the requests it routes (docs/gateway-choice.md, "What the gateway
# sends a worker, and when"): registration (model_gateway/src/workflow/steps: util.rs ``/health``;
# local/discover_metadata.rs and local/detect_backend.rs ``/v1/models``, ``/version``, ``/server_info``,
# ``/model_info`` and their ``/get_`` forms), health checks (``--health-check-endpoint``, ``/health``) and the load
# monitor every ``--load-monitor-interval`` (worker/monitor.rs: ``/loads``, ``/v1/loads``, ``/metrics``). A
# sleeping model's status route answers exactly these paths (render.wake); every other path wakes it.
HOUSEKEEPING_PATHS = (
    "/health",
    "/v1/models",
    "/version",
    "/server_info",
    "/get_server_info",
    "/model_info",
    "/get_model_info",
    "/loads",
    "/v1/loads",
    "/metrics",
)


def wake_worker_spec(url: str, model_id: str, *, timeout_s: int) -> dict[str, Any]:
    """The ``POST /workers`` body (smg's ``WorkerSpec``, crates/protocols/src/worker.rs) of a sleeping model's wake
    route: its model id given (it wins over what the worker reports), vLLM's runtime (no backend probing), no
    health checks (each would reach the wake host), its own request timeout (the interceptor holds the request
    while the model wakes: sizing.request_timeouts), no retries (a 504 after the wake timeout is the answer, not
    a reason to wait again) and no circuit breaker (a sleeping model must never answer 503 "no available
    workers"). The key is added by whoever posts it, never written here."""
    return {
        "url": url,
        "models": [{"id": model_id}],
        "runtime_type": "vllm",
        "health": {"disable_health_check": True},
        "http_pool": {"timeout_secs": timeout_s},
        "resilience": {"disable_retry": True, "disable_circuit_breaker": True},
    }


__all__ = [
    "API_KEY_ENV",
    "GATEWAY_IMAGE",
    "GATEWAY_IMAGE_ARM64",
    "GATEWAY_UID",
    "GATEWAY_VERSION",
    "HOUSEKEEPING_PATHS",
    "ROUTING_FLAGS",
    "SMG_LAUNCH",
    "wake_worker_spec",
]
