"""One vLLM server of the local target: its command line, its files, its process, its probe and how it ended.

Each server lives in a directory of its own (``servers/<model>-<replica>/``): ``state.json`` while it runs,
``crashed.json`` once it ended without ``down``, its supervisor's ``server.pid`` and ``exit.json``, and
``server.log``. The first local target kept one server's files in the platform directory itself; a
:class:`ModelServer` on that directory still reads (and ``down`` stops) such a server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.engine import API_KEY_ENV, SERVER_ENV_DEFAULTS, VLLM_SERVER_MODULE, engine_args, server_args, server_env
from inferctl.starter_model import STARTER_SAMPLING, is_starter
from inferctl.targets.local import logwatch, process
from inferctl.targets.local.defaults import cpu_host, eager_by_default
from inferctl.targets.local.state import ServerState, read_state, remove_state, write_state
from inferctl.targets.status import LocalModelStatus

if TYPE_CHECKING:
    import subprocess

    from inferctl.catalog.profile import ModelProfile
    from inferctl.config.models import LocalSettings, ModelDeployment
    from inferctl.sizing.local import LocalServer


# --- what a server is started with ------------------------------------------------------------------------------


def vllm_args(
    local: LocalSettings,
    model: ModelDeployment,
    model_path: str,
    port: int,
    profile: ModelProfile | None,
    *,
    gpu_memory_utilization: float | None = None,
) -> list[str]:
    """The server's arguments after ``python -m <VLLM_SERVER_MODULE>``."""
    extra: list[str] = []
    if local.in_process_engine:
        extra += ["--distributed-executor-backend", "uni"]
    if model.engine.enforce_eager is None:
        # Unset: on a CPU host, small models skip torch.compile (minutes to start, ms per token saved; measured
        # in benchmarks/cpu_eager.py). Set in the config, engine_args passes the user's choice.
        params = profile.num_parameters if profile is not None else None
        if eager_by_default(params, on_cpu=cpu_host()):
            extra.append("--enforce-eager")
    if is_starter(model.source) and "--override-generation-config" not in model.engine.extra_args:
        # The model card's sampling as the server's default: clients that send no temperature get it.
        extra += ["--override-generation-config", json.dumps(STARTER_SAMPLING, separators=(",", ":"))]
    engine = engine_args(model, gpu_memory_utilization=gpu_memory_utilization)
    return server_args(model_path, host=local.host, port=port, engine=engine, extra=extra)


def vllm_env(
    local: LocalSettings, model: ModelDeployment, api_key: str | None, model_path: str, *, kv_cache_gib: int
) -> dict[str, str]:
    """The server's environment: our defaults, the user's shell over them, what the target needs, the model's
    ``engine.env`` last. The platform key reaches vLLM here (``VLLM_API_KEY``), never in its arguments."""
    defaults = {**SERVER_ENV_DEFAULTS, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib)}
    shell = {name: value for name, value in os.environ.items() if name != API_KEY_ENV}  # overrides defaults
    needed = {"PYTHONUNBUFFERED": "1"}
    if api_key is not None:
        needed[API_KEY_ENV] = api_key
    if local.in_process_engine:
        # Run the model in the engine-core process: one process fewer to import vLLM and torch into.
        needed["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    if model.is_demo or model.is_local_path or Path(model_path).is_dir():
        needed["HF_HUB_OFFLINE"] = "1"  # a directory on disk: vLLM must not ask the hub about it
    return server_env(model, defaults, shell, needed)


def fingerprint(local: LocalSettings, server: LocalServer) -> str:
    """What a server is started from, as a short hash: the model's config (but its replica count) and the local
    settings every server gets. A second ``up`` leaves a running server alone while this is unchanged."""
    data = {
        "model": server.model.model_dump(mode="json", exclude={"replicas", "autoscaling", "sizing", "cache"}),
        "kv_cache_gib": server.kv_cache_gib,
        "gpu_memory_utilization": server.gpu_memory_utilization,
        "in_process_engine": local.in_process_engine,
        "host": local.host,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# --- one server on disk ------------------------------------------------------------------------------------------


class ModelServer:
    """The files and process of one server, by directory. ``legacy``: the first local target's one server, whose
    files are in the platform directory itself."""

    def __init__(self, directory: Path, *, legacy: bool = False) -> None:
        self.dir = directory
        self.legacy = legacy

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    @property
    def crash_path(self) -> Path:
        """The state of a server that ended without ``down``: kept for ``status`` until the next up or down."""
        return self.dir / "crashed.json"

    @property
    def pid_path(self) -> Path:
        return self.dir / "server.pid"

    @property
    def exit_path(self) -> Path:
        """Written by the supervisor when the server ends: its return code (negative: the signal that killed it)."""
        return self.dir / "exit.json"

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    def running(self) -> ServerState | None:
        """The state of a live server, or None. A stale state file (its process gone without ``down``: killed,
        out of memory, crashed) becomes the crash record that ``status`` reports."""
        state = read_state(self.state_path)
        if state is None:
            return None
        if process.is_alive(state.pid) and VLLM_SERVER_MODULE in process.cmdline(state.pid):
            return state
        with contextlib.suppress(OSError):
            self.state_path.replace(self.crash_path)
        return None

    def crashed(self) -> ServerState | None:
        return read_state(self.crash_path)

    def start(
        self, argv: list[str], env: dict[str, str], state: ServerState
    ) -> tuple[subprocess.Popen[bytes], ServerState]:
        """Start ``argv`` under the supervisor (the group leader, which outlives ``up``, so the server's exit status
        stays knowable); write and return its state (``state`` with the real pids)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        remove_state(self.crash_path)
        self.log_path.write_bytes(b"")
        child, server_pid = process.spawn_supervised(
            argv, env=env, log_path=self.log_path, cwd=self.dir, pid_file=self.pid_path, exit_file=self.exit_path
        )
        started = replace(state, pid=server_pid, pgid=child.pid, started_at=time.time())
        write_state(self.state_path, started)
        return child, started

    def mark_ready(self, state: ServerState) -> ServerState:
        """Recorded under the lock, before ``up`` returns: from now on a failed probe means unhealthy."""
        ready = replace(state, ready_at=time.time())
        write_state(self.state_path, ready)
        return ready

    def forget(self) -> None:
        """Remove the records of this server (after it was stopped); its log stays for ``inferctl logs``, and its
        supervisor's exit record (named by pid) until the next start there."""
        for path in (self.state_path, self.crash_path, self.pid_path):
            remove_state(path)

    def leftover_group(self) -> int | None:
        """The process group of a crashed server while helpers of it still run in its directory (vLLM's engine core,
        multiprocessing's resource tracker can outlive a kill -9 of the server); None when nothing is left. Only
        processes working in this server's directory count, in case the group id has been reused."""
        crashed = self.crashed()
        if crashed is None:
            return None
        here = self.dir.resolve()
        ours = [pid for pid in process.group_members(crashed.pgid) if process.working_dir(pid) == here]
        return crashed.pgid if ours else None

    def crash_report(self) -> dict[str, Any] | None:
        """What ``status`` says about a server that ended on its own: which, when it started, how it ended (the exit
        code or signal its supervisor recorded), vLLM's last words. A kill -9 or the OOM killer leaves none in the
        log; the recorded signal says which it was."""
        state = self.crashed()
        if state is None:
            return None
        _, lines = read_new_lines(Path(state.log_path), 0)
        reason = logwatch.failure_reason(lines)
        supervised = state.pgid != state.pid  # a server started before the supervisor existed has no record
        wait_s = 1.0 if supervised and process.is_alive(state.pgid) else 0.0
        returncode = process.exit_record(self.exit_path, state.pid, wait_s=wait_s) if supervised else None
        ended = process.describe_exit(returncode) if returncode is not None else None
        if reason is None:
            reason = "ended without 'inferctl down' and logged no error"
            reason += f": {ended}" if ended else ": killed (a signal, e.g. kill -9 or the OOM killer)"
        elif ended:
            reason = f"{ended}: {reason}"
        return {
            "server": state.name,
            "model": state.model,
            "replica": state.replica,
            "pid": state.pid,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.started_at)),
            "how": reason,
            "exit_code": returncode if returncode is not None and returncode >= 0 else None,
            "signal": process.signal_name(-returncode) if returncode is not None and returncode < 0 else None,
            "last_log_lines": logwatch.meaningful_lines(lines),
            "log_path": state.log_path,
        }


def startup_phase(state: ServerState) -> str | None:
    """The start-up phase of a server that has not answered yet, as 'up' shows it (from its log); None once 'up'
    has seen it ready. A server that answers its probe is ready whatever this says."""
    if state.ready_at is not None:
        return None
    _, lines = read_new_lines(Path(state.log_path), 0)
    return logwatch.phase_of(lines, "starting")


# --- what status shows ---------------------------------------------------------------------------------------------


def live_status(state: ServerState) -> LocalModelStatus:
    """A running server's row: its probe (``/health``), its ``/metrics`` and, while it has never answered, the
    phase of its start-up log (and a note when the ``up`` that started it no longer waits for it)."""
    health, metrics = probe(state.base_url)
    phase = None if health else startup_phase(state)
    abandoned = phase is not None and not up_waits_for(state)
    condition = "healthy" if health else "unhealthy" if phase is None or abandoned else "starting"
    return LocalModelStatus(
        name=state.model,
        served_model_name=state.served_model_name,
        source=state.source,
        pid=state.pid,
        port=state.port,
        base_url=state.base_url + "/v1",
        uptime_s=round(time.time() - state.started_at, 1),
        healthy=health,
        requests_running=metrics.get("running"),
        requests_waiting=metrics.get("waiting"),
        kv_cache_usage_pct=round(metrics["kv_cache_usage"] * 100, 2) if "kv_cache_usage" in metrics else None,
        generation_tokens_total=metrics.get("generation_tokens_total"),
        startup_phase=phase,
        note=abandoned_note(state) if abandoned else None,
        server=state.name,
        replica=state.replica,
        state=condition,
        log_path=state.log_path,
    )


def dead_status(crash: dict[str, Any], state: ServerState) -> LocalModelStatus:
    """The row of a server that ended on its own: dead, and how (its crash report's words)."""
    return LocalModelStatus(
        name=state.model,
        served_model_name=state.served_model_name,
        source=state.source,
        pid=state.pid,
        port=state.port,
        base_url=state.base_url + "/v1",
        uptime_s=None,
        healthy=False,
        requests_running=None,
        requests_waiting=None,
        kv_cache_usage_pct=None,
        generation_tokens_total=None,
        note=crash["how"],
        server=state.name,
        replica=state.replica,
        state="dead",
        log_path=state.log_path,
    )


def up_waits_for(state: ServerState) -> bool:
    """Whether the ``up`` that started the server still runs, waiting for it (True when not recorded)."""
    return state.up_pid is None or process.still_runs(state.up_pid, state.up_start_ticks)


def abandoned_note(state: ServerState) -> str:
    """Why a server that never answered, with no ``up`` waiting for it any more, is unhealthy; and the fix."""
    return (
        f"it has not answered since it started, and the 'inferctl up' that started it (pid {state.up_pid}) has "
        "exited; check 'inferctl logs', then 'inferctl down' and 'inferctl up' again"
    )


def read_new_lines(path: Path, offset: int) -> tuple[int, list[str]]:
    """Complete lines appended to ``path`` since ``offset``; returns the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset, []
    end = data.rfind(b"\n")
    if end < 0:
        return offset, []
    chunk = data[: end + 1]
    return offset + len(chunk), chunk.decode("utf-8", errors="replace").splitlines()


def probe(base_url: str, *, metrics: bool = True) -> tuple[bool, dict[str, float]]:
    """Whether ``/health`` answers 200, and (with ``metrics``) what ``/metrics`` says."""
    import httpx

    from inferctl.metrics import parse_vllm_metrics

    try:
        with httpx.Client(base_url=base_url, timeout=2.0) as client:
            healthy = client.get("/health").status_code == 200
            if not metrics:
                return healthy, {}
            scraped = client.get("/metrics")
            parsed = parse_vllm_metrics(scraped.text) if scraped.status_code == 200 else {}
    except httpx.TransportError:
        return False, {}
    return healthy, parsed
