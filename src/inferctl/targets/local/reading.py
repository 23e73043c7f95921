"""The local target's read side: what runs (``status``), where it answers (``endpoint``: the gateway's one base
URL), which model a ``--model`` names, and the servers' logs. Nothing here starts or stops a process.

The running state, not the config, is the truth: after ``up --model ./dir`` the commands follow that model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.config.models import ModelDeployment
from inferctl.errors import ConflictError, NotFoundError, UserError
from inferctl.targets.base import Endpoint
from inferctl.targets.local import process
from inferctl.targets.local.gateway import Gateway
from inferctl.targets.local.server import (
    ModelServer,
    abandoned_note,
    dead_status,
    live_status,
    probe,
    read_new_lines,
    startup_phase,
    up_waits_for,
)
from inferctl.targets.local.state import Preparing, ServerState, read_preparing
from inferctl.targets.status import LocalModelStatus, LocalStatus

if TYPE_CHECKING:
    from inferctl.config.models import PlatformConfig
    from inferctl.home import Home


@dataclass(frozen=True)
class ServedModel:
    """A model that runs: its deployment (from the running state), where its weights are, its endpoint (the
    gateway's base URL and the model's served name) and its servers."""

    deployment: ModelDeployment
    model_path: str
    endpoint: Endpoint
    servers: list[tuple[ModelServer, ServerState]]


class LocalReading:
    """Paths of the local target and its read commands (a base of :class:`~.target.LocalTarget`)."""

    config: PlatformConfig
    home: Home

    # --- paths ------------------------------------------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        return self.home.target_dir(self.config.name, "local")

    @property
    def _lock_path(self) -> Path:
        return self._dir / "lock"

    @property
    def _preparing_path(self) -> Path:
        """What ``up`` does before the servers start (state.Preparing): ``status`` says starting meanwhile."""
        return self._dir / "preparing.json"

    @property
    def gateway(self) -> Gateway:
        return Gateway(self._dir / "gateway")

    def _server(self, name: str) -> ModelServer:
        return ModelServer(self._dir / "servers" / name)

    def _known_servers(self) -> list[ModelServer]:
        """Every server directory (running, crashed, or stopped with its log kept), and a server of the first local
        target (its files in the platform directory itself) while its records are there."""
        found = []
        if (self._dir / "state.json").exists() or (self._dir / "crashed.json").exists():
            found.append(ModelServer(self._dir, legacy=True))
        servers = self._dir / "servers"
        if servers.is_dir():
            found += [ModelServer(path) for path in sorted(servers.iterdir()) if path.is_dir()]
        return found

    def _live(self) -> list[tuple[ModelServer, ServerState]]:
        """The servers that run (a dead one's state becomes its crash record on the way)."""
        return [(server, state) for server in self._known_servers() if (state := server.running()) is not None]

    @staticmethod
    def deployment_of(state: ServerState) -> ModelDeployment:
        """The running model as a deployment (name, source), whatever the config says today."""
        return ModelDeployment(name=state.model, source=state.source, served_model_name=state.served_model_name)

    # --- status ---------------------------------------------------------------------------------------------------

    def status(self) -> LocalStatus:
        # preparing.json first: 'up' writes the state files before it removes that one, so one of them is seen.
        preparing = self._preparation()
        rows: list[LocalModelStatus] = []
        crashes: list[dict[str, Any]] = []
        for server in self._known_servers():
            state = server.running()
            if state is not None:
                rows.append(live_status(state))
            elif (crash := server.crash_report()) is not None and (dead := server.crashed()) is not None:
                crashes.append(crash)
                rows.append(dead_status(crash, dead))
        gateway, rows = self._gateway_report(rows)
        report = _preparing_report(preparing) if preparing is not None else None
        return LocalStatus("local", self.config.name, _platform_state(rows, gateway, preparing is not None),
                           rows, crashes, report, gateway)  # fmt: skip

    def _gateway_report(self, rows: list[LocalModelStatus]) -> tuple[dict[str, Any] | None, list[LocalModelStatus]]:
        """The gateway's part of ``status`` (None: none was started), and each row with the gateway's view of it."""
        recorded = self.gateway.recorded()
        if recorded is None:
            return None, rows
        base = {"base_url": recorded.base_url + "/v1", "pid": recorded.pid, "port": recorded.port}
        if self.gateway.running() is None:
            return {**base, "state": "dead", "note": self.gateway.ended(recorded), "log_path": recorded.log_path}, rows
        key = self.home.api_key(self.config.name, create=False) if recorded.api_key_required else None
        workers = self.gateway.workers(recorded, key)
        routed = self.gateway.routed(recorded)
        healthy = workers is not None or self.gateway.answers(recorded)
        if workers is not None:
            rows = [replace(row, routable=bool(workers.get(row.server or "", {}).get("is_healthy")),
                            requests_routed=routed.get(row.base_url.removesuffix("/v1"))) for row in rows]  # fmt: skip
        return {
            **base,
            "state": "healthy" if healthy else "unhealthy",
            "metrics_port": recorded.metrics_port,
            "uptime_s": round(time.time() - recorded.started_at, 1),
            "models": sorted({row.served_model_name for row in rows if row.routable}),
            "log_path": recorded.log_path,
        }, rows

    def _preparation(self) -> Preparing | None:
        """What a live ``up`` does before its servers start; None when no ``up`` does (the file a killed one left
        names a process that no longer runs)."""
        preparing = read_preparing(self._preparing_path)
        if preparing is None or not process.still_runs(preparing.up_pid, preparing.up_start_ticks):
            return None
        return preparing

    # --- endpoints and --model ------------------------------------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        """One endpoint per running model, all at the gateway's base URL; raises when none is ready."""
        models = self._served()
        problems = [self._not_ready(model) for model in models]
        ready = [model.endpoint for model, problem in zip(models, problems, strict=True) if problem is None]
        if not ready:
            raise problems[0] or NotFoundError(self._not_running())
        return ready

    def select(self, requested: str | None, *, choose: bool = True, ready: bool = True) -> ServedModel | None:
        """The running model ``requested`` (a ``--model``) names: its name, served name, source or directory. None:
        nothing runs, or (``choose`` False) no ``--model`` was given. Without ``--model`` and with several models,
        ``choose`` asks the user to pick one. ``ready``: the model must answer (else it says why not)."""
        models = self._served(required=False)
        if not models or (requested is None and not choose):
            return None
        names = ", ".join(m.deployment.name for m in models)
        if requested is None:
            if len(models) > 1:
                raise UserError(f"platform {self.config.name!r} serves {names}; choose one with --model NAME")
            chosen = models[0]
        else:
            matches = [m for m in models if _names(requested, m)]
            if not matches:
                raise ConflictError(
                    f"platform {self.config.name!r} serves {names}, not {requested!r}; pass one of those with "
                    f"--model, or add {requested!r} to the config and run 'inferctl up'"
                )
            chosen = matches[0]
        problem = self._not_ready(chosen) if ready else None
        if problem is not None:
            raise problem
        return chosen

    def _served(self, *, required: bool = True) -> list[ServedModel]:
        """The running models, in the order their servers were named; ``required``: raise when none runs (still
        starting while ``up`` prepares, else not running)."""
        preparing = self._preparation()  # first, as in status
        live = self._live()
        if not live:
            if not required:
                return []
            if preparing is not None:
                raise self._still_starting(preparing.phase, preparing.started_at)
            raise NotFoundError(self._not_running())
        gateway = self.gateway.recorded()
        by_model: dict[str, list[tuple[ModelServer, ServerState]]] = {}
        for server, state in live:
            by_model.setdefault(state.model, []).append((server, state))
        key = self.home.api_key(self.config.name, create=False) if live[0][1].api_key_required else None
        served = []
        for servers in by_model.values():
            first = servers[0][1]
            # A platform from before the gateway (no gateway recorded) answers at its server's own address.
            base = (gateway.base_url if gateway is not None else first.base_url) + "/v1"
            endpoint = Endpoint(model=first.served_model_name, base_url=base, api_key=key)
            served.append(ServedModel(self.deployment_of(first), first.model_path, endpoint, servers))
        return served

    def _not_ready(self, model: ServedModel) -> UserError | None:
        """Why ``model`` cannot take requests now (None: it can): the gateway is down, or none of its servers has
        ever answered (still starting, or abandoned by a killed ``up``)."""
        recorded = self.gateway.recorded()
        if recorded is not None and self.gateway.running() is None:
            return ConflictError(
                f"the model gateway of platform {self.config.name!r} is not running ({self.gateway.ended(recorded)})"
            )
        if any(s.ready_at is not None or probe(s.base_url, metrics=False)[0] for _, s in model.servers):
            return None
        # Its address is known, but nothing answers there yet: say so rather than hand out a dead URL.
        state = model.servers[0][1]
        phase = startup_phase(state)
        if not up_waits_for(state):
            elapsed = time.time() - state.started_at
            return ConflictError(
                f"platform {self.config.name!r} is not ready ({phase}, {elapsed:.0f} s): " + abandoned_note(state)
            )
        return self._still_starting(phase, state.started_at)

    def _still_starting(self, phase: str | None, since: float) -> ConflictError:
        return ConflictError(
            f"platform {self.config.name!r} is still starting ({phase}, {time.time() - since:.0f} s); "
            "wait for 'inferctl up' to finish (or watch 'inferctl status')"
        )

    def _not_running(self) -> str:
        return f"platform {self.config.name!r} is not running locally; start it with 'inferctl up'"

    # --- logs -----------------------------------------------------------------------------------------------------

    def logs(self, *, model: str | None, follow: bool, tail: int | None) -> Iterator[str]:
        """The log of ``model``'s servers (each line prefixed with its server when there are several)."""
        servers = self._log_servers(model)
        prefix = len(servers) > 1
        offsets = {}
        for server in servers:
            offsets[server.dir], lines = read_new_lines(server.log_path, 0)
            lines = lines[-tail:] if tail else lines
            yield from (f"[{server.dir.name}] {line}" if prefix else line for line in lines)
        while follow:
            quiet = True
            for server in servers:
                offsets[server.dir], lines = read_new_lines(server.log_path, offsets[server.dir])
                quiet = quiet and not lines
                yield from (f"[{server.dir.name}] {line}" if prefix else line for line in lines)
            if quiet:
                if not any(server.running() is not None for server in servers):
                    return
                time.sleep(0.5)

    def _log_servers(self, requested: str | None) -> list[ModelServer]:
        """The servers whose logs ``logs --model`` shows: of the running model it names (the only one by default),
        else of the model whose logs are kept (the platform has stopped)."""
        chosen = self.select(requested, ready=False)
        if chosen is not None:
            return [server for server, _ in chosen.servers]
        kept = [s for s in self._known_servers() if s.log_path.is_file()]
        by_model: dict[str, list[ModelServer]] = {}
        for server in kept:
            by_model.setdefault(_model_of(server), []).append(server)
        if requested is not None:
            by_model = {name: s for name, s in by_model.items() if requested == name}
        if not by_model:
            raise NotFoundError(f"no server log for platform {self.config.name!r} yet; start it with 'inferctl up'")
        if len(by_model) > 1:
            raise UserError(f"logs of models {', '.join(by_model)} are kept; choose one with --model NAME")
        return next(iter(by_model.values()))


def _model_of(server: ModelServer) -> str:
    """The model a server directory belongs to (its records say; else its name, ``<model>-<replica>``)."""
    state = server.crashed() or server.running()
    return state.model if state is not None else server.dir.name.rsplit("-", 1)[0]


def _names(requested: str, model: ServedModel) -> bool:
    """Whether a ``--model`` value names a running model: its name, served name, source or directory."""
    deployment = model.deployment
    if requested in {deployment.name, deployment.model_name, deployment.source, model.model_path}:
        return True
    path = Path(requested).expanduser()
    if not path.exists():
        return False
    here = path.resolve()
    candidates = (deployment.source, model.model_path)
    return any(Path(p).expanduser().resolve() == here for p in candidates if Path(p).exists())


def _platform_state(rows: list[LocalModelStatus], gateway: dict[str, Any] | None, preparing: bool) -> str:
    """One word for the platform from its servers' and the gateway's (see :class:`LocalStatus`)."""
    states = [row.state for row in rows]
    if not rows:
        return "starting" if preparing else "stopped" if gateway is None else "unhealthy"
    if all(state == "dead" for state in states):
        return "crashed"
    serving = "healthy" in states and (gateway is None or gateway["state"] == "healthy")
    if serving and any(state in ("dead", "unhealthy") for state in states):
        return "degraded"
    if gateway is not None and gateway["state"] != "healthy":
        return "unhealthy"
    if all(state == "healthy" for state in states):
        return "running"
    if "starting" in states and not any(state in ("dead", "unhealthy") for state in states):
        return "starting"
    return "unhealthy"


def _preparing_report(preparing: Preparing) -> dict[str, Any]:
    """``status``'s view of an ``up`` preparing the models."""
    return {
        "model": preparing.model,
        "phase": preparing.phase,
        "detail": preparing.detail,
        "up_pid": preparing.up_pid,
        "elapsed_s": round(time.time() - preparing.started_at, 1),
    }
