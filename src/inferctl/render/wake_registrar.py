"""Keeps every sleeping model's wake route registered with the gateway beside it: the ``wake-registrar`` container
of each gateway pod (``python3 inferctl_wake_registrar.py``).

This file is shipped as it is, in a ConfigMap mounted into the gateway pod (render.gateway): standard library only,
no import of inferctl. Why it exists: the gateway (smg 1.13.0) discovers model pods through the Kubernetes API,
which switches it to its IGW mode, and IGW mode drops static ``--worker-urls`` (smg ``bindings/python/src/lib.rs``,
``RoutingMode::Regular``), so a model with no pod at all would be unknown to it (404 ``model_not_found``). Its
wake route, a host on the KEDA HTTP add-on's interceptor that holds a request while the model wakes, must be added
through smg's admin API instead, on every gateway replica and again after each gateway restart.

Every :data:`INTERVAL_S` seconds it asks the gateway which workers it has (``GET /workers``, smg's
``WorkerListResponse``: ``{"workers": [{"url": ...}, ...]}``) and posts each wake worker missing from that list
(``POST /workers`` with a ``WorkerSpec``: 202, registration runs in the background; 409 when the URL is known
already). The specs come from :data:`WORKERS_ENV` (a JSON list, one per sleeping model), the key from
:data:`KEY_ENV` (unset when the platform runs without a key); both requests carry it, and each spec gets it as
the worker's own key. It serves ``/ready`` on
:data:`PORT_ENV`: 200 once the gateway lists every wake worker, 503 before, so the pod receives traffic only when
a request for a sleeping model is routable. It never prints the key.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORKERS_ENV = "INFERCTL_WAKE_WORKERS"
KEY_ENV = "INFERCTL_GATEWAY_API_KEY"
GATEWAY_ENV = "INFERCTL_GATEWAY_URL"
PORT_ENV = "INFERCTL_REGISTRAR_PORT"
DEFAULT_GATEWAY = "http://127.0.0.1:8080"
DEFAULT_PORT = 8082
INTERVAL_S = 5.0
REQUEST_TIMEOUT_S = 10.0


class Registrar:
    """Registers ``specs`` with the gateway at ``gateway`` (its base URL) until it lists them all."""

    def __init__(self, gateway: str, key: str | None, specs: Sequence[dict[str, Any]]) -> None:
        self.gateway = gateway.rstrip("/")
        self.key = key
        self.specs = list(specs)
        self.ready = False
        self._said = ""

    def _request(self, method: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(f"{self.gateway}/workers", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return json.loads(response.read() or b"null")

    def listed(self) -> set[str]:
        """The URLs of the workers the gateway has now (OSError when it does not answer)."""
        answer = self._request("GET")
        workers = answer.get("workers", []) if isinstance(answer, dict) else []
        return {str(w.get("url", "")).rstrip("/") for w in workers if isinstance(w, dict)}

    def once(self) -> bool:
        """One round: post what is missing; True when the gateway already lists every spec."""
        try:
            known = self.listed()
        except (OSError, ValueError) as exc:
            self._say(f"gateway not answering yet ({type(exc).__name__})")
            self.ready = False
            return False
        missing = [s for s in self.specs if str(s["url"]).rstrip("/") not in known]
        for spec in missing:
            try:
                self._request("POST", {**spec, "api_key": self.key} if self.key else spec)
            except urllib.error.HTTPError as exc:
                if exc.code != 409:  # 409: the URL is registered already (a race with the listing)
                    self._say(f"POST /workers for {spec['url']} answered {exc.code}")
            except (OSError, ValueError) as exc:
                self._say(f"POST /workers for {spec['url']} failed ({type(exc).__name__})")
        self.ready = not missing
        self._say("every wake route is registered" if self.ready else f"registering {len(missing)} wake route(s)")
        return self.ready

    def _say(self, line: str) -> None:
        if line != self._said:  # once per change, not every round
            self._said = line
            print(f"wake-registrar: {line}", flush=True)

    def run(self, stop: threading.Event, interval_s: float = INTERVAL_S) -> None:
        while not stop.is_set():
            self.once()
            stop.wait(interval_s)


def serve_ready(registrar: Registrar, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """``/ready``: 200 while every wake route is registered, else 503; ``/live``: 200. In a thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            ok = self.path == "/live" or (self.path == "/ready" and registrar.ready)
            known = self.path in {"/live", "/ready"}
            body = b"ok\n" if ok else b"not ready\n" if known else b"not found\n"
            self.send_response(200 if ok else 503 if known else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    try:
        specs = json.loads(os.environ[WORKERS_ENV])
    except (KeyError, ValueError) as exc:
        print(f"wake-registrar: {WORKERS_ENV} must be a JSON list of worker specs ({exc})", file=sys.stderr)
        return 2
    key = os.environ.get(KEY_ENV) or None  # the platform's API key; none when the key is off
    registrar = Registrar(os.environ.get(GATEWAY_ENV, DEFAULT_GATEWAY), key, specs)
    serve_ready(registrar, int(os.environ.get(PORT_ENV, DEFAULT_PORT)))
    stop = threading.Event()
    with contextlib.suppress(KeyboardInterrupt):
        registrar.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
