"""The wake registrar (render/wake_registrar.py), the gateway pod's second container: it keeps every sleeping
model's wake worker registered with the gateway beside it.

Here it runs against a stand-in for the gateway's admin API (``GET``/``POST /workers``), an in-process HTTP server
on loopback, because what is tested is the registrar's own loop: which requests it sends, with which key, what it
counts as registered, and its readiness. The stand-in answers in smg 1.13.0's shapes (``crates/protocols/src/
worker.rs``: ``WorkerListResponse`` ``{"workers": [{"url": ...}], "total", "stats"}``; ``POST /workers`` 202 and
registration in the background, 409 for a known URL; 401 without the key: ``model_gateway/src/middleware/auth.rs``).
The same module against the real gateway: tests/e2e/test_gateway_cluster_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferctl.render import wake_registrar
from inferctl.render.gateway import registrar_source
from inferctl.targets.local.process import free_port

KEY = "sk-registrar-test"
SPEC_A = {"url": "http://a-wake.keda.svc:8080", "models": [{"id": "a"}], "runtime_type": "vllm"}
SPEC_B = {"url": "http://b-wake.keda.svc:8080", "models": [{"id": "b"}], "runtime_type": "vllm"}


class AdminApi:
    """smg's ``/workers`` as the registrar sees it: registrations land after ``delay_rounds`` listings."""

    def __init__(self, *, delay_rounds: int = 0, down: bool = False) -> None:
        self.workers: dict[str, dict[str, Any]] = {}
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[str, str, str | None, Any]] = []
        self.delay_rounds = delay_rounds
        self.down = down
        self.listings = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> AdminApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {KEY}":
                    return True
                self._answer(401, {"error": {"code": "invalid_api_key"}})
                return False

            def do_GET(self) -> None:
                api.requests.append(("GET", self.path, self.headers.get("Authorization"), None))
                if api.down:
                    self._answer(503, {})
                    return
                if not self._authorized():
                    return
                api.listings += 1
                for at, spec in list(api.pending):
                    if api.listings >= at:
                        api.workers[spec["url"]] = spec
                        api.pending.remove((at, spec))
                workers = [{"id": str(i), "url": url, "is_healthy": True} for i, url in enumerate(api.workers)]
                self._answer(200, {"workers": workers, "total": len(workers), "stats": {}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                api.requests.append(("POST", self.path, self.headers.get("Authorization"), body))
                if not self._authorized():
                    return
                if body["url"] in api.workers or any(s["url"] == body["url"] for _, s in api.pending):
                    self._answer(409, {"error": "WORKER_ALREADY_EXISTS"})
                    return
                api.pending.append((api.listings + api.delay_rounds, body))
                self._answer(202, {"status": "accepted"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def posts(self) -> list[Any]:
        return [body for method, _, _, body in self.requests if method == "POST"]


@pytest.fixture
def api() -> Iterator[AdminApi]:
    server = AdminApi(delay_rounds=1).start()
    yield server
    server.stop()


def test_it_posts_what_the_gateway_lacks_until_the_gateway_lists_it(api: AdminApi) -> None:
    registrar = wake_registrar.Registrar(api.url, KEY, [SPEC_A, SPEC_B])
    assert registrar.once() is False  # posted both; registration runs in the background
    assert [p["url"] for p in api.posts()] == [SPEC_A["url"], SPEC_B["url"]]
    assert all(p["api_key"] == KEY and p["models"] for p in api.posts())  # the worker's own key: the platform's
    assert all(auth == f"Bearer {KEY}" for _, _, auth, _ in api.requests)
    assert registrar.once() is True and registrar.ready  # both listed now: nothing posted again
    assert len(api.posts()) == 2
    assert registrar.once() is True and len(api.posts()) == 2


def test_a_restarted_gateway_gets_its_wake_workers_again(api: AdminApi) -> None:
    registrar = wake_registrar.Registrar(api.url, KEY, [SPEC_A])
    registrar.once()
    assert registrar.once() is True
    api.workers.clear()  # the gateway container restarted: its registry is empty
    assert registrar.once() is False and not registrar.ready
    assert registrar.once() is True
    assert [p["url"] for p in api.posts()] == [SPEC_A["url"], SPEC_A["url"]]


def test_a_gateway_that_does_not_answer_keeps_it_unready_and_posts_nothing() -> None:
    down = AdminApi(down=True).start()
    try:
        registrar = wake_registrar.Registrar(down.url, KEY, [SPEC_A])
        assert registrar.once() is False and not registrar.ready
        assert down.posts() == []
    finally:
        down.stop()
    nobody = wake_registrar.Registrar("http://127.0.0.1:9", KEY, [SPEC_A])  # discard port: connection refused
    assert nobody.once() is False


def test_a_409_from_a_race_is_not_an_error(api: AdminApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.delay_rounds = 5
    registrar = wake_registrar.Registrar(api.url, KEY, [SPEC_A])
    registrar.once()
    registrar.once()  # still pending: the listing lacks it, the POST answers 409
    assert [p["url"] for p in api.posts()] == [SPEC_A["url"], SPEC_A["url"]]
    assert "answered 409" not in capsys.readouterr().out


def test_without_a_key_it_sends_none(api: AdminApi) -> None:
    """``endpoint.api_key.enabled: false``: smg runs without --api-key, so its admin API asks for none (the
    stand-in, which wants the key, answers 401; the request is what matters here)."""
    wake_registrar.Registrar(api.url, None, [SPEC_A]).once()
    assert api.requests and all(auth is None for _, _, auth, _ in api.requests)


def test_the_shipped_file_runs_alone_serves_readiness_and_never_prints_the_key(api: AdminApi, tmp_path: Path) -> None:
    """The ConfigMap's copy, run as the container runs it (``python3 <file>``, standard library only, no
    inferctl on its path): /ready turns 200 once the gateway lists the wake worker; the key is in no output."""
    script = tmp_path / "inferctl_wake_registrar.py"
    script.write_text(registrar_source(), encoding="utf-8")
    port = free_port("127.0.0.1")
    env = {
        "PATH": os.environ.get("PATH", ""),
        wake_registrar.WORKERS_ENV: json.dumps([SPEC_A]),
        wake_registrar.KEY_ENV: KEY,
        wake_registrar.GATEWAY_ENV: api.url,
        wake_registrar.PORT_ENV: str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-I", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert _poll(f"http://127.0.0.1:{port}/ready", 200, timeout_s=30), "never ready"
        assert httpx.get(f"http://127.0.0.1:{port}/live", timeout=5).status_code == 200
        assert [p["url"] for p in api.posts()] == [SPEC_A["url"]]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "every wake route is registered" in output and KEY not in output


def test_it_refuses_to_start_without_its_worker_list(tmp_path: Path) -> None:
    script = tmp_path / "inferctl_wake_registrar.py"
    script.write_text(registrar_source(), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-I", str(script)], env={"PATH": os.environ.get("PATH", "")}, capture_output=True,
        text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and wake_registrar.WORKERS_ENV in proc.stderr


def _poll(url: str, status: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == status:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
