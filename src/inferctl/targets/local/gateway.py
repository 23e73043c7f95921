"""The local target's model gateway: Shepherd Model Gateway (``smg``, pinned in the ``local`` extra) on loopback in
front of every model server. It is the platform's one endpoint: one port, one key, ``/v1/models`` listing every
model, each request routed by its ``model`` and, across a model's replicas, by prefix cache and load.

How it is run comes from ``docs/gateway-choice.md`` (measured against real vLLM; smg 1.13.0's flags from its
source, ``src/smg/router_args.py`` and ``model_gateway/src/main.rs``): the servers and their model ids come from a
file-discovery manifest (``model_gateway/src/service_discovery/file.rs``: ``{"version": 1, "workers": [{"id",
"url", "model_id"}]}``, strict, reread on change, to be replaced by a rename), which lets a second ``up`` add and
remove servers while the gateway runs. The key has no flag-free way into smg, so smg is started through its Python
entry with the key read from the environment (:data:`inferctl.gateway.SMG_LAUNCH`, shared with the cluster
targets): never in ``ps``, a file or a log.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.errors import StartError
from inferctl.gateway import API_KEY_ENV as GATEWAY_KEY_ENV
from inferctl.gateway import ROUTING_FLAGS, SMG_LAUNCH
from inferctl.targets.local import process
from inferctl.targets.local.server import read_new_lines
from inferctl.targets.local.state import GatewayState, read_gateway, remove_state, write_state

if TYPE_CHECKING:
    import subprocess

# What names the gateway's process: the launcher sets its title to "smg::router" (smg/launch_router.py,
# setproctitle); before that its command line holds the launcher's module name.
_PROCESS_MARK = "smg"
# Besides the routing every target's gateway shares: health checks every 5 s, a server marked unhealthy after 2
# failures (10 s; smg's defaults: 60 s x 3), a server registered within a second of answering (the startup check's
# default interval is 30 s), and an unhealthy server kept registered, so its model answers 503 no_available_workers,
# not 404 (docs/gateway-choice.md, flags table).
LOCAL_FLAGS = (
    *ROUTING_FLAGS, "--log-level", "info", "--no-remove-unhealthy-workers", "--worker-startup-check-interval", "1",
    "--health-check-interval-secs", "5", "--health-failure-threshold", "2",
)  # fmt: skip
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # smg colours its console log (observability/logging.rs: colorize: true)
_POLL_S = 0.25


@dataclass(frozen=True)
class Route:
    """One server in the gateway's manifest: its id (``<model>-<replica>``), address and served model name."""

    id: str
    url: str
    model_id: str


def gateway_argv(host: str, port: int, metrics_port: int, manifest: Path, *, with_key: bool = True) -> list[str]:
    """The gateway's command line (no secret in it). With the platform key: the shared launcher that reads it from
    the environment (inferctl.gateway.SMG_LAUNCH); without one (``endpoint.api_key.enabled: false``), smg's own
    entry, which checks no key."""
    metrics_host = "::1" if ":" in host else "127.0.0.1"  # --prometheus-host takes an address, not a name
    entry = ["-c", SMG_LAUNCH] if with_key else ["-m", "smg.launch_router"]
    return [
        sys.executable, *entry, "--host", host, "--port", str(port),
        "--prometheus-host", metrics_host, "--prometheus-port", str(metrics_port),
        *LOCAL_FLAGS, "--discovery-provider", "file", "--discovery-file", str(manifest),
    ]  # fmt: skip


def write_manifest(path: Path, routes: list[Route]) -> None:
    """The manifest smg reads, replaced at once (a temporary file renamed over it, as file.rs asks)."""
    body = {"version": 1, "workers": [{"id": r.id, "url": r.url, "model_id": r.model_id} for r in routes]}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
    tmp.replace(path)


def read_manifest(path: Path) -> list[Route]:
    try:
        workers = json.loads(path.read_text(encoding="utf-8"))["workers"]
        return [Route(w["id"], w["url"], w["model_id"]) for w in workers]
    except (OSError, ValueError, KeyError, TypeError):
        return []


class Gateway:
    """The gateway's files (``gateway/``) and process."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "workers.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "gateway.log"

    @property
    def exit_path(self) -> Path:
        return self.dir / "exit.json"

    def recorded(self) -> GatewayState | None:
        """The state ``up`` wrote, whether or not the gateway still runs."""
        return read_gateway(self.state_path)

    def running(self) -> GatewayState | None:
        state = self.recorded()
        if state is None or not process.is_alive(state.pid) or _PROCESS_MARK not in process.cmdline(state.pid):
            return None
        return state

    def start(
        self, host: str, port: int, metrics_port: int, env: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], GatewayState]:
        """Start smg (under the supervisor, as the model servers) on an empty manifest if none exists yet."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.manifest_path.is_file():
            write_manifest(self.manifest_path, [])
        self.log_path.write_bytes(b"")
        argv = gateway_argv(host, port, metrics_port, self.manifest_path, with_key=GATEWAY_KEY_ENV in env)
        child, pid = process.spawn_supervised(
            argv, env=env, log_path=self.log_path, cwd=self.dir, pid_file=self.dir / "gateway.pid",
            exit_file=self.exit_path,
        )  # fmt: skip
        state = GatewayState(
            pid=pid,
            pgid=child.pid,
            host=host,
            port=port,
            metrics_port=metrics_port,
            log_path=str(self.log_path),
            manifest_path=str(self.manifest_path),
            started_at=time.time(),
            api_key_required=GATEWAY_KEY_ENV in env,
        )
        write_state(self.state_path, state)
        return child, state

    def wait_serving(self, state: GatewayState, child: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
        """Until the gateway answers its liveness probe; a gateway that exits meanwhile is a StartError."""
        deadline = time.monotonic() + timeout_s
        while True:
            if child.poll() is not None:
                raise StartError(
                    f"the model gateway (smg) {process.describe_exit(child.returncode)} while starting; "
                    f"see {self.log_path}",
                    details=self.last_lines(),
                )
            if self.answers(state):
                return
            if time.monotonic() > deadline:
                raise StartError(
                    f"the model gateway (smg) did not answer within {timeout_s:.0f} s; see {self.log_path}"
                )
            time.sleep(_POLL_S)

    def wait_routes(self, state: GatewayState, ids: set[str], api_key: str | None, timeout_s: float = 60) -> None:
        """Until every server in ``ids`` is registered in the gateway and healthy there (smg registers a server
        once its ``/health`` answers 2xx: workflow/steps/util.rs ``try_http_reachable``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            workers = self.workers(state, api_key) or {}
            missing = sorted(i for i in ids if not workers.get(i, {}).get("is_healthy"))
            if not missing:
                return
            if time.monotonic() > deadline:
                raise StartError(
                    f"the model gateway did not take servers {', '.join(missing)} within {timeout_s:.0f} s; "
                    f"see {self.log_path} and 'inferctl status'",
                    details=self.last_lines(),
                )
            time.sleep(_POLL_S)

    def answers(self, state: GatewayState) -> bool:
        """Whether the gateway answers its liveness probe."""
        import httpx

        try:
            return httpx.get(state.base_url + "/liveness", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def workers(self, state: GatewayState, api_key: str | None) -> dict[str, dict[str, Any]] | None:
        """The gateway's view of its servers (``GET /workers``), by manifest id; None when it does not answer.
        Each entry: ``url``, ``model_id``, ``is_healthy``, ``status`` (crates/protocols/src/worker.rs)."""
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(state.base_url + "/workers", headers=headers, timeout=2)
            listed = response.json().get("workers", []) if response.status_code == 200 else None
        except (httpx.TransportError, ValueError):
            return None
        if listed is None:
            return None
        return {w["labels"]["smg.ai/discovery-id"]: w for w in listed if "smg.ai/discovery-id" in w.get("labels", {})}

    def routed(self, state: GatewayState) -> dict[str, float]:
        """Requests the gateway sent each server so far, by the server's URL (``smg_worker_requests_total``)."""
        import httpx

        from inferctl.metrics import sum_by_label

        try:
            text = httpx.get(f"http://127.0.0.1:{state.metrics_port}/metrics", timeout=2).text
        except httpx.TransportError:
            return {}
        return sum_by_label(text, "smg_worker_requests_total", "worker")

    def ended(self, state: GatewayState) -> str:
        """How a gateway that no longer runs ended (its supervisor's record)."""
        returncode = process.exit_record(self.exit_path, state.pid, wait_s=0.0)
        how = process.describe_exit(returncode) if returncode is not None else "ended without 'inferctl down'"
        return f"{how}; run 'inferctl up' to start it again (see {self.log_path})"

    def last_lines(self, limit: int = 8) -> list[str]:
        _, lines = read_new_lines(self.log_path, 0)
        return [clean(line) for line in lines[-limit:]]

    def forget(self) -> None:
        for path in (self.state_path, self.exit_path, self.dir / "gateway.pid", self.manifest_path):
            remove_state(path)


def clean(line: str) -> str:
    """A gateway log line without its colour codes."""
    return _ANSI.sub("", line)
