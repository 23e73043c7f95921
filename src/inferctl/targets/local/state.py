"""The local target's state file and lock. Holds no secret: the API key lives in its own 0600 file."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from inferctl.errors import ConflictError
from inferctl.filelock import exclusive_lock


@dataclass(frozen=True)
class LocalState:
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

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def read_state(path: Path) -> LocalState | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        # A file from before ready_at was written by an 'up' that has finished (a failed 'up' removes it): that
        # server was ready once.
        data.setdefault("ready_at", data.get("started_at"))
        return LocalState(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, AttributeError):
        # A state file from another version or a torn write: treat as absent; the pid check protects us.
        return None


def write_state(path: Path, state: LocalState) -> None:
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
