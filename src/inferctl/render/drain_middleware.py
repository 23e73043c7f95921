"""An ASGI middleware that runs inside the vLLM pod (``vllm serve --middleware inferctl_drain.DrainMiddleware``)
and ends connection reuse while the pod leaves service.

This file is shipped as it is, in a ConfigMap mounted on the server's ``PYTHONPATH`` (render.drain): standard
library only, no import of inferctl. The pod's preStop hook creates :data:`DRAINING` when Kubernetes starts
terminating the pod and :data:`STOPPING` when its delay is over, just before SIGTERM. Then:

* **draining** (preStop): requests are served as usual, but every response carries ``Connection: close``, so the
  client, the NLB flow or the interceptor's pooled connection stops reusing this connection and opens a new one,
  which reaches a pod still in service. The HTTP add-on's interceptor drains its own connections the same way
  (``kedacore/http-add-on`` v0.15.0, ``pkg/http/drain.go``). uvicorn ends the connection after such a response
  (``protocols/http/httptools_impl.py`` and ``h11_impl.py``: a ``connection: close`` response header clears
  keep-alive).
* **stopping** (SIGTERM next): vLLM's engine refuses new requests from the first moment of its drain while uvicorn
  still reads requests from open connections. A POST that arrives now gets 503 and ``Connection: close`` instead:
  a status clients and gateways retry on another replica, over a new connection. GETs (health, metrics, models)
  pass, so probes see the server as it is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DRAINING = "/tmp/inferctl-draining"
STOPPING = "/tmp/inferctl-stopping"
_CLOSE = (b"connection", b"close")
_STOPPING_BODY = json.dumps(
    {
        "error": {
            "message": "this replica is shutting down; retry the request",
            "type": "ServiceUnavailableError",
            "code": 503,
        }
    }
).encode()


class DrainMiddleware:
    """``Connection: close`` on every response once :data:`DRAINING` exists; 503 for new POSTs once
    :data:`STOPPING` exists. The flag paths can be changed for tests."""

    def __init__(self, app: ASGIApp, draining: str = DRAINING, stopping: str = STOPPING) -> None:
        self.app = app
        self.draining = Path(draining)
        self.stopping = Path(stopping)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.draining.exists():
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and self.stopping.exists():
            await _refuse(send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)


async def _refuse(send: Send) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_STOPPING_BODY)).encode()),
        (b"retry-after", b"1"),
        _CLOSE,
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _STOPPING_BODY})
