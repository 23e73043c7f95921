"""A local platform on disk for unit tests, at the process-runner seam.

What the local target would have started is stood in for, where a real vLLM is not the point (a vLLM start costs
20-80 s here; tests/e2e start real ones): a real process whose command line names vLLM's server module stands for
each server (the target checks the recorded pid's command line), and a real OpenAI-compatible HTTP server on
loopback (tests/support/bench.StubServer) answers for it. The gateway, where it is the point, is the real one: the
pinned smg, started by the local target's own code (targets/local/gateway.py) in front of the stubs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.targets.local import process
from inferctl.targets.local.gateway import GATEWAY_KEY_ENV, Gateway, Route, write_manifest
from inferctl.targets.local.state import GatewayState, ServerState, write_state


def local_dir(home: Path, platform: str = "inferctl") -> Path:
    return home / "platforms" / platform / "local"


@contextlib.contextmanager
def stand_in_server() -> Iterator[int]:
    """A live process the local target takes for a vLLM server (its argv names the server module); its pid."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", VLLM_SERVER_MODULE])
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def server_state(pid: int, port: int, *, model: str = "demo", replica: int = 0, served: str | None = None,
                 source: str = "demo", model_path: str = "/x", log_path: str = "", ready: bool = True,
                 up: tuple[int, int | None] | None = None, api_key_required: bool = False) -> ServerState:  # fmt: skip
    """The state ``up`` writes for a server (``ready``: ``up`` saw it answer)."""
    return ServerState(
        pid=pid,
        pgid=pid,
        host="127.0.0.1",
        port=port,
        model=model,
        served_model_name=served or model,
        source=source,
        model_path=model_path,
        log_path=log_path,
        started_at=time.time() - 30,
        api_key_required=api_key_required,
        ready_at=time.time() if ready else None,
        up_pid=up[0] if up else None,
        up_start_ticks=up[1] if up else None,
        replica=replica,
        fingerprint="stand-in",
    )


def write_server(home: Path, state: ServerState, log: str = "a line\n", platform: str = "inferctl") -> ServerState:
    """``state`` written where ``up`` writes it (``servers/<model>-<replica>/``), with its log; returns the state
    with its log's path."""
    directory = local_dir(home, platform) / "servers" / state.name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.log").write_text(log, encoding="utf-8")
    state = replace(state, log_path=str(directory / "server.log"))
    write_state(directory / "state.json", state)
    return state


@contextlib.contextmanager
def running_gateway(
    home: Path, routes: list[Route], *, api_key: str | None = None, platform: str = "inferctl"
) -> Iterator[GatewayState]:
    """The real gateway, started as ``up`` starts it, routing to ``routes``; stopped (and its files left as
    ``down`` leaves them) at the end."""
    gateway = Gateway(local_dir(home, platform) / "gateway")
    write_manifest(gateway.manifest_path, routes)
    env = {name: value for name, value in os.environ.items() if name != GATEWAY_KEY_ENV}
    if api_key is not None:
        env[GATEWAY_KEY_ENV] = api_key
    port, metrics_port = process.free_port("127.0.0.1"), process.free_port("127.0.0.1")
    child, state = gateway.start("127.0.0.1", port, metrics_port, env)
    try:
        gateway.wait_serving(state, child)
        gateway.wait_routes(state, {route.id for route in routes}, api_key, timeout_s=30)
        yield state
    finally:
        # SIGKILL: smg drains for about 5 s on SIGTERM, which 'down' (tested in e2e) allows and unit tests need not.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pgid, signal.SIGKILL)
        child.wait()
