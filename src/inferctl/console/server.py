"""Serve the console on 127.0.0.1: a free port (or the one asked for), the address printed with its token, uvicorn
until Ctrl-C. The socket is bound here, before uvicorn starts, so the address printed is the one that answers and
the guard knows its own port."""

from __future__ import annotations

import socket
from collections.abc import Callable

from inferctl.console.app import Console, create_app
from inferctl.console.guard import TOKEN_PARAM, Keys
from inferctl.errors import ConflictError, MissingDependencyError

LOOPBACK = "127.0.0.1"
CONSOLE_MISSING = "the console needs its web stack: pip install 'inferctl[console]'"


def check_installed() -> None:
    """Fail before anything starts when Starlette, uvicorn or Jinja2 is missing."""
    import importlib.util

    missing = [name for name in ("starlette", "uvicorn", "jinja2") if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(f"{CONSOLE_MISSING} (missing: {', '.join(missing)})")


def bind(port: int = 0) -> socket.socket:
    """A listening socket on the loopback address only; port 0: one the system picks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        raise ConflictError(f"cannot listen on {LOOPBACK}:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(128)
    return sock


def address(sock: socket.socket, keys: Keys) -> str:
    port = sock.getsockname()[1]
    return f"http://{LOOPBACK}:{port}/?{TOKEN_PARAM}={keys.token}"


def serve(console: Console, sock: socket.socket, keys: Keys, *, on_ready: Callable[[str], None]) -> None:
    """Run until Ctrl-C (which returns normally). ``on_ready`` gets the address to open, once, before serving."""
    import uvicorn

    port = sock.getsockname()[1]
    app = create_app(console, keys, port)
    # No access log: the first request's URL carries the token, and nothing the console logs may hold a secret.
    # Ctrl-C waits at most a few seconds for open answers (a chat still streaming), then stops.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", server_header=False, timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    on_ready(address(sock, keys))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return
    finally:
        sock.close()


__all__ = ["CONSOLE_MISSING", "LOOPBACK", "address", "bind", "check_installed", "serve"]
