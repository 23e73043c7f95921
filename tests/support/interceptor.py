"""A stand-in for the KEDA HTTP add-on's interceptor in front of one sleeping model, for tests that run the real
gateway here: the interceptor is a Go service of a cluster (kedacore/http-add-on v0.15.0), which cannot run on
this machine (no Kubernetes API server, no container runtime), so this in-process HTTP server plays it.

What it models, from the add-on's source at v0.15.0, and nothing more:

* **which route a request takes** (:func:`route_for`): among the routes whose rule names the request's host
  (without its port: ``pkg/routing/table.go`` ``Route`` strips it), the longest path prefix, compared segment by
  segment (``pkg/routing/key.go`` ``NewKey``: ``host/seg/.../``, so ``/health`` is no prefix of
  ``/health_generate``; ``pkg/routing/tablememory.go`` ``Route``: ``LongestPrefix``). Only exact hosts: the wake
  routes inferctl renders name no wildcard. :data:`UPSTREAM_ROUTE_CASES` are the add-on's own test cases.
* **a route with ``coldStart.placeholder``** answers at once with its status, headers and body while the model
  has no ready endpoint (``interceptor/middleware/placeholder.go``); every other request is counted for its
  route (``interceptor/middleware/counting.go``) and, while the model sleeps, held ``wake_s`` seconds, as the
  interceptor holds it until a replica is ready, then answered as vLLM would.

It records every request with the route it took, so a test can assert that nothing reached the wake route while
the gateway was idle. The gateway reaches it at a loopback address instead of the wake Service's DNS name, so it
takes every request as addressed to ``host`` (the rendered wake host). Its answers are fixed text, not a model.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _key(host: str, path: str) -> str:
    """pkg/routing/key.go NewKey: ``host/`` + the path without its outer slashes + ``/`` when not empty."""
    path = path.strip("/")
    return f"{host}/{path}/" if path else f"{host}/"


def route_for(routes: list[dict[str, Any]], host: str, path: str) -> str | None:
    """The name of the InterceptorRoute a request to ``host`` + ``path`` takes (exact hosts only), or None."""
    request = _key(host.rpartition(":")[0] if ":" in host else host, path.split("?", 1)[0])
    best: tuple[int, str] | None = None
    for route in routes:
        for rule in route["spec"].get("rules", []):
            for rule_host in rule.get("hosts", []):
                for match in rule.get("paths") or [{"value": "/"}]:
                    key = _key(rule_host, match["value"])
                    if request.startswith(key) and (best is None or len(key) > best[0]):
                        best = (len(key), route["metadata"]["name"])
    return None if best is None else best[1]


# kedacore/http-add-on v0.15.0 pkg/routing/tablememory_test.go, TestRoute: (stored routes as (name, host, path
# prefix or None), request host, request path, expected route name or None).
UPSTREAM_ROUTE_CASES = [
    ([("test", "example.com", None)], "other.com", "", None),
    ([("test", "example.com", None)], "example.com", "/any/path", "test"),
    ([("api", "example.com", "/api/")], "example.com", "/api/v1/users", "api"),
    ([("api", "example.com", "/api/")], "example.com", "/other/path", None),
    ([("root", "example.com", "/"), ("api", "example.com", "/api/")], "example.com", "/api/v1", "api"),
]


def upstream_routes(stored: list[tuple[str, str, str | None]]) -> list[dict[str, Any]]:
    return [
        {"metadata": {"name": name}, "spec": {"rules": [{"hosts": [host], **({"paths": [{"value": p}]} if p else {})}]}}
        for name, host, p in stored
    ]


@dataclass
class Seen:
    at: float
    method: str
    path: str
    route: str | None


@dataclass
class InterceptorStandIn:
    """The interceptor as one sleeping model's wake host sees it: ``routes`` (the rendered InterceptorRoutes of the
    model), ``host`` (its wake host), ``model`` (the served name it answers as once awake)."""

    routes: list[dict[str, Any]]
    host: str
    model: str
    wake_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> InterceptorStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                name = route_for(standin.routes, standin.host, self.path)
                standin.seen.append(Seen(time.monotonic(), self.command, self.path, name))
                route = next((r for r in standin.routes if r["metadata"]["name"] == name), None)
                if route is None:
                    self._send(404, "")  # interceptor/middleware/routing.go: no route, a static 404
                    return
                placeholder = (route["spec"].get("coldStart") or {}).get("placeholder")
                if placeholder is not None:  # the model has no ready endpoint: answered at once
                    response = placeholder["response"]
                    self._send(response.get("statusCode", 503), response.get("body", ""), response.get("headers"))
                    return
                time.sleep(standin.wake_s)  # held until the model is awake
                choice = {"index": 0, "message": {"role": "assistant", "content": "stand-in"}, "finish_reason": "stop"}
                answer = {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                          "model": standin.model, "choices": [choice],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
                headers = {"Content-Type": "application/json", "X-KEDA-HTTP-Cold-Start": "true"}
                self._send(200, json.dumps(answer), headers)

            do_GET = _handle
            do_POST = _handle

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that drops a held connection is not an error here

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def on_route(self, name: str, since: float = 0.0) -> list[Seen]:
        return [s for s in self.seen if s.route == name and s.at >= since]
