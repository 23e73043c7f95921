"""What ``up`` does between spawning the vLLM servers and routing to them: check that this machine's RAM holds them
(sizing's memory model), then wait for each to answer, reading each log for its start-up phase and, if one dies,
vLLM's own reason and the fix."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferctl.errors import OperationError, StartError
from inferctl.targets.local import logwatch, process
from inferctl.targets.local.server import ModelServer, read_new_lines

if TYPE_CHECKING:
    import subprocess

    from inferctl.catalog.profile import ModelProfile
    from inferctl.progress import Reporter
    from inferctl.sizing.local import LocalServer
    from inferctl.targets.local.state import ServerState

_POLL_S = 0.25
_ORDER = [name for name, _ in logwatch.PHASES]


@dataclass
class Starting:
    """A server ``up`` started and waits for: its files, its state, its supervisor; what its log said so far."""

    files: ModelServer
    state: ServerState
    child: subprocess.Popen[bytes]
    offset: int = 0
    phase: str = "starting"
    ready: bool = False

    def __post_init__(self) -> None:
        self.lines: list[str] = []


def check_memory(
    start: list[LocalServer],
    located: dict[str, tuple[str, ModelProfile | None]],
    stopping: list[ServerState],
    total_servers: int,
    reporter: Reporter,
) -> None:
    """Before vLLM starts: weights + KV cache + runtime of every server to start, against the memory available now
    plus what the servers this ``up`` replaces hold. One server alone: a warning (as ever; vLLM may still manage).
    A platform of several: refused when they cannot all fit, since the OOM killer would take any of them."""
    from inferctl.sizing.local import (
        available_memory_bytes,
        host_memory_warning,
        local_memory_need,
        servers_memory_refusal,
    )

    freed = sum(process.group_rss_bytes(state.pgid) for state in stopping)
    available = available_memory_bytes() + freed
    needs = []
    for server in start:
        profile = located[server.model.name][1]
        if profile is not None:
            kv = server.kv_cache_gib * 2**30
            needs.append((server, local_memory_need(profile, server.model.engine, kv_cache_bytes=kv)))
    if total_servers == 1 and needs:
        server = needs[0][0]
        profile = located[server.model.name][1]
        assert profile is not None
        kv = server.kv_cache_gib * 2**30
        warning = host_memory_warning(profile, server.model.engine, available, kv_cache_bytes=kv)
        if warning:
            reporter.warn(warning)
        return
    refusal = servers_memory_refusal(needs, available) if needs else None
    if refusal:
        from inferctl.errors import ConfigError

        raise ConfigError(refusal)


def wait_ready(starting: list[Starting], api_key: str | None, timeout_s: int, reporter: Reporter) -> list[ServerState]:
    """Until every server answers ``/health`` and ``/v1/models``; each is then recorded ready. A server that exits
    is a :class:`StartError` quoting vLLM's reason and the fix; past ``timeout_s`` an :class:`OperationError`."""
    import httpx

    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=2.0) as client:
        while True:
            for entry in starting:
                if not entry.ready:
                    _advance(entry, client, headers)
            pending = [entry for entry in starting if not entry.ready]
            if not pending:
                return [entry.files.mark_ready(entry.state) for entry in starting]
            _report(pending, reporter)
            if time.monotonic() > deadline:
                slow = pending[0]
                raise OperationError(
                    f"vLLM ({slow.state.name}) did not become ready within {timeout_s} s (last phase: {slow.phase}); "
                    "raise local.start_timeout_s or see 'inferctl logs'",
                    details=logwatch.meaningful_lines(slow.lines),
                )
            time.sleep(_POLL_S)


def _advance(entry: Starting, client: object, headers: dict[str, str]) -> None:
    import httpx

    assert isinstance(client, httpx.Client)
    entry.offset, new = read_new_lines(entry.files.log_path, entry.offset)
    entry.lines.extend(new)
    entry.phase = logwatch.phase_of(new, entry.phase)
    if entry.child.poll() is not None:
        _raise_start_failure(entry)
    if entry.phase == "starting API server" or len(entry.lines) > 20:
        base = entry.state.base_url
        try:
            if client.get(base + "/health").status_code == 200:
                entry.ready = client.get(base + "/v1/models", headers=headers).status_code == 200
        except httpx.TransportError:
            pass


def _report(pending: list[Starting], reporter: Reporter) -> None:
    """One live line: the least advanced phase, and each server still starting with its own."""
    slowest = min(pending, key=lambda e: _ORDER.index(e.phase) if e.phase in _ORDER else -1)
    if len(pending) == 1:
        reporter.phase(slowest.phase, slowest.state.model)
    else:
        reporter.phase(slowest.phase, ", ".join(f"{e.state.name}: {e.phase}" for e in pending))


def _raise_start_failure(entry: Starting) -> None:
    _, rest = read_new_lines(entry.files.log_path, 0)
    lines = rest or entry.lines
    reason = logwatch.failure_reason(lines) or f"the server {process.describe_exit(entry.child.returncode)}"
    hint = logwatch.hint_for(reason, "\n".join(lines[-40:]))
    raise StartError(
        f"vLLM failed to start{_which(entry)}: {reason.rstrip('.')}. Fix: {hint}.",
        details=logwatch.meaningful_lines(lines),
    )


def _which(entry: Starting) -> str:
    return f" model {entry.state.model!r} ({entry.state.name})"
