"""A terminating model pod gets no new request: endpoints drop it during preStop, and the drain middleware ends
connection reuse (render/drain.py, render/drain_middleware.py).

The middleware is tested as it runs in the pod: the ConfigMap's text, imported on its own (no inferctl on the
path), added to a FastAPI app the way vLLM adds ``--middleware`` classes (``app.add_middleware``), served by a
real uvicorn on loopback with both of its HTTP/1.1 implementations, and talked to over real sockets. No vLLM
here (tests/e2e/test_drain_e2e.py loads it into a real vLLM server). Facts from upstream are the constants and
comments below, each with its source.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from inferctl.render import render_platform
from inferctl.render.drain import (
    GATEWAY_NLB_DRAIN,
    IN_CLUSTER_DRAIN,
    INTERCEPTOR_DRAIN,
    MIDDLEWARE,
    MIDDLEWARE_DIR,
    TEARDOWN_S,
    UVICORN_KEEP_ALIVE_S,
    VLLM_SHUTDOWN_TIMEOUT_S,
    middleware_source,
)
from tests.support.render import LLAMA3_8B, one, placements_for, workshop_config

# vLLM v0.32.0 vllm/envs.py: VLLM_HTTP_TIMEOUT_KEEP_ALIVE defaults to 5 (seconds), which
# entrypoints/launchers/api_server/entry.py passes to uvicorn as timeout_keep_alive.
VLLM_HTTP_TIMEOUT_KEEP_ALIVE_S = 5
# kedacore/http-add-on v0.15.0 pkg/http/drain.go: while draining, HTTP/1.x responses get "Connection: close"
# (w.Header().Set("Connection", "close")) so clients stop reusing the connection.
INTERCEPTOR_DRAIN_HEADER = ("connection", "close")

ZERO = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}}


# --- timings ----------------------------------------------------------------------------------------------------


def test_every_idle_connection_is_closed_before_sigterm() -> None:
    """A connection no request uses during preStop is closed by uvicorn after vLLM's keep-alive timeout, so at
    SIGTERM only connections with a request in flight remain, and their responses carry Connection: close."""
    assert UVICORN_KEEP_ALIVE_S == VLLM_HTTP_TIMEOUT_KEEP_ALIVE_S
    assert IN_CLUSTER_DRAIN.prestop_s >= 2 * VLLM_HTTP_TIMEOUT_KEEP_ALIVE_S


def test_the_grace_period_holds_the_delay_the_engines_drain_and_exit_and_the_api_servers_exit() -> None:
    """vLLM v0.32.0 v1/engine/utils.py: CoreEngineProcManager.shutdown(timeout) gets the API server's
    VllmConfig.shutdown_timeout (entrypoints/launchers/launcher.py serve_http), kept by
    get_engine_process_shutdown_timeout unless both are 0 on ROCm; v1/utils.py shutdown() SIGTERMs the engine and
    kills its process tree when it is over. So the engine's drain and exit share --shutdown-timeout, and only the
    API server's own exit (uvicorn's shutdown) comes after it."""
    assert IN_CLUSTER_DRAIN.grace_s == IN_CLUSTER_DRAIN.prestop_s + VLLM_SHUTDOWN_TIMEOUT_S + TEARDOWN_S == 145
    # the interceptor and the gateway behind the NLB hold requests as long as the NLB keeps a drained target's
    # connections (deregistration_delay.timeout_seconds: 0-3600, ELBv2 target group attributes)
    assert (INTERCEPTOR_DRAIN.grace_s, GATEWAY_NLB_DRAIN.grace_s) == (3600, 3600)
    assert GATEWAY_NLB_DRAIN.prestop_s == 135 and INTERCEPTOR_DRAIN.prestop_s == IN_CLUSTER_DRAIN.prestop_s


def test_pods_behind_the_interceptor_are_reached_through_their_service_and_drain_like_it() -> None:
    """kedacore/http-add-on v0.15.0 interceptor/middleware/routing.go resolveUpstreamURL: the interceptor proxies to
    "<service>.<namespace>:<port>" through a pooled Go transport (interceptor/proxy.go clones
    http.DefaultTransport; interceptor/config/timeouts.go MaxIdleConnsPerHost 200). Its connections reach the pods
    through the model's ClusterIP Service, where an open connection stays on its pod after the endpoints drop it:
    the in-cluster delay and the middleware cover them."""
    config = workshop_config(models=[ZERO])
    objects = render_platform(config, placements_for(config))
    route = one(objects, "InterceptorRoute", "llama-3-8b-instruct-wake")
    service = one(objects, "Service", route["spec"]["target"]["service"])
    assert service["spec"]["type"] == "ClusterIP"
    assert route["spec"]["target"]["portName"] in {p["name"] for p in service["spec"]["ports"]}
    pod = one(objects, "Deployment", "llama-3-8b-instruct")["spec"]["template"]["spec"]
    assert f"sleep {IN_CLUSTER_DRAIN.prestop_s};" in pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][2]


def test_the_pod_ships_the_middleware_and_its_flags_live_on_a_writable_volume() -> None:
    config = workshop_config()
    objects = render_platform(config, placements_for(config))
    deployment = one(objects, "Deployment", "llama-3-8b-instruct")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    module, _, cls = MIDDLEWARE.rpartition(".")
    args = container["args"]
    assert args[args.index("--middleware") + 1] == MIDDLEWARE
    config_map = one(objects, "ConfigMap", deployment["metadata"]["name"])
    assert config_map["data"] == {f"{module}.py": middleware_source()}
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == config_map["metadata"]["name"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == MIDDLEWARE_DIR and mount["readOnly"] is True
    assert {"name": "PYTHONPATH", "value": MIDDLEWARE_DIR} in container["env"]
    shipped = _load_shipped()
    assert hasattr(shipped, cls)
    # preStop: draining now, stopping once the delay is over; both under /tmp, an emptyDir (root is read-only)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command == [
        "/bin/sh",
        "-c",
        f"touch {shipped.DRAINING}; sleep {IN_CLUSTER_DRAIN.prestop_s}; touch {shipped.STOPPING}",
    ]
    tmp_volume = next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp_volume)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert all(Path(p).parent == Path("/tmp") for p in (shipped.DRAINING, shipped.STOPPING))


# --- the middleware under a real uvicorn ---------------------------------------------------------------------------


def _load_shipped() -> ModuleType:
    """The ConfigMap's text as the pod imports it: a module of its own, from a directory of its own."""
    spec = importlib.util.spec_from_loader("inferctl_drain", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(middleware_source(), "inferctl_drain.py", "exec"), module.__dict__)
    return module


def _app(flags: Path) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    shipped = _load_shipped()
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/completions")
    async def complete() -> dict[str, str]:
        return {"text": "hi"}

    @app.post("/v1/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> Any:
            yield b"data: 1\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    # vLLM: app.add_middleware(imported) for a class named by --middleware (entrypoints/serve/middleware/register.py);
    # here with the flag paths under the test's directory.
    app.add_middleware(shipped.DrainMiddleware, draining=str(flags / "draining"), stopping=str(flags / "stopping"))
    return app


class _Server:
    def __init__(self, app: Any, http: str) -> None:
        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, http=http, loop="asyncio", log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(params=["httptools", "h11"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    with _Server(_app(tmp_path), request.param) as server:
        yield server, tmp_path


def _post(conn: http.client.HTTPConnection, path: str = "/v1/completions") -> http.client.HTTPResponse:
    conn.request("POST", path, body=b"{}", headers={"content-type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response


def test_in_service_a_connection_carries_request_after_request(served: tuple[_Server, Path]) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    first = _post(conn)
    sock = conn.sock
    second = _post(conn)
    assert (first.status, second.status) == (200, 200)
    assert not first.will_close and conn.sock is sock  # the same connection, reused
    conn.close()


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/stream"])
def test_while_draining_each_connection_carries_one_more_request(served: tuple[_Server, Path], path: str) -> None:
    server, flags = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    assert _post(conn, path).status == 200  # opened before the pod started to terminate
    (flags / "draining").touch()
    response = _post(conn, path)
    assert response.status == 200  # still served: the engine runs until SIGTERM
    assert (response.getheader("connection") or "").lower() == INTERCEPTOR_DRAIN_HEADER[1]
    assert response.will_close
    # and the server really ends the connection: nothing more can be read from it
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    raw.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    received = b""
    while chunk := raw.recv(65536):
        received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"connection: close" in received.lower()
    raw.close()


def test_once_stopping_new_posts_get_a_retryable_503_and_probes_still_answer(served: tuple[_Server, Path]) -> None:
    server, flags = served
    (flags / "draining").touch()
    (flags / "stopping").touch()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/v1/completions", body=b"{}", headers={"content-type": "application/json"})
    refused = conn.getresponse()
    body = json.loads(refused.read())
    assert refused.status == 503 and refused.will_close and refused.getheader("retry-after") == "1"
    assert body["error"]["code"] == 503
    conn.close()
    probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    probe.request("GET", "/health")
    health = probe.getresponse()
    assert health.status == 200 and json.loads(health.read()) == {"status": "ok"} and health.will_close
    probe.close()


def test_the_shipped_module_needs_nothing_but_the_standard_library() -> None:
    """It runs in the vLLM image, where inferctl is not installed."""
    import ast

    tree = ast.parse(middleware_source())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
