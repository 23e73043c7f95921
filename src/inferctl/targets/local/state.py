"""The local target's state files and lock. They hold no secret: the API key lives in its own 0600 file."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from inferctl.errors import ConflictError
from inferctl.filelock import exclusive_lock


@dataclass(frozen=True)
class ServerState:
    """One vLLM server that ``up`` started (``servers/<model>-<replica>/state.json``)."""

    pid: int
    pgid: int
    host: str
    port: int
    model: str  # deployment name
    served_model_name: str
    source: str
    model_path: str
    log_path: str
    started_at: float  # epoch seconds
    api_key_required: bool
    # When ``up`` saw the server answer (epoch seconds); None while it starts. A server that was ready once and
    # fails its health probe is unhealthy; one that never was is still starting.
    ready_at: float | None = None
    # The 'up' that started it (its pid and process.start_ticks): while the server has not answered, whether
    # anyone still waits for it. None in files from before they were recorded.
    up_pid: int | None = None
    up_start_ticks: int | None = None
    replica: int = 0
    # What the server was started from (targets.local.fleet.fingerprint): a later 'up' keeps it running while this
    # is unchanged. None in files from before the gateway: such a server is replaced.
    fingerprint: str | None = None

    @property
    def name(self) -> str:
        return f"{self.model}-{self.replica}"

    @property
    def base_url(self) -> str:
        return http_base(self.host, self.port)


@dataclass(frozen=True)
class GatewayState:
    """The model gateway (smg) in front of the servers (``gateway/state.json``): the platform's one endpoint."""

    pid: int
    pgid: int
    host: str
    port: int
    metrics_port: int
    log_path: str
    manifest_path: str
    started_at: float  # epoch seconds
    api_key_required: bool

    @property
    def base_url(self) -> str:
        return http_base(self.host, self.port)


def http_base(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class Preparing:
    """What ``up`` does before the server starts (checking the hub, downloading or converting the model): written
    by ``up`` under the platform lock, its phase kept current, removed once the state file is written or ``up``
    ends. ``up`` killed leaves it behind: its pid (and start time) then name a process that no longer runs."""

    up_pid: int
    up_start_ticks: int | None
    model: str  # deployment name
    started_at: float  # epoch seconds
    phase: str
    detail: str = ""


_Record = TypeVar("_Record")


def _read(path: Path, make: Callable[[dict[str, Any]], _Record]) -> _Record | None:
    try:
        return make(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, AttributeError):
        # A file from another version or a torn write: treat as absent; the pid check protects us.
        return None


def read_state(path: Path) -> ServerState | None:
    def make(data: dict[str, Any]) -> ServerState:
        # A file from before ready_at was written by an 'up' that has finished (a failed 'up' removes it): that
        # server was ready once.
        data.setdefault("ready_at", data.get("started_at"))
        return ServerState(**data)

    return _read(path, make)


def read_gateway(path: Path) -> GatewayState | None:
    return _read(path, lambda data: GatewayState(**data))


def read_preparing(path: Path) -> Preparing | None:
    return _read(path, lambda data: Preparing(**data))


def write_state(path: Path, state: ServerState | GatewayState | Preparing) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    tmp.replace(path)


def remove_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def platform_lock(path: Path, platform: str) -> contextlib.AbstractContextManager[None]:
    """An exclusive, non-blocking lock: a second ``up`` or ``down`` of the same platform is refused at once."""

    def refuse() -> None:
        raise ConflictError(
            f"another inferctl command is starting or stopping platform {platform!r}; "
            "wait for it to finish, or check 'inferctl status'"
        ) from None

    return exclusive_lock(path, when_held=refuse)
