"""While ``up`` starts vLLM (20-80 s on a CPU), ``status`` says ``starting`` and the phase of its log, not
``unhealthy``: unhealthy is for a server that was ready once (``up`` records ``ready_at`` when it sees it answer).

The seam, as in test_follow_running.py: a real process whose command line names vLLM's server module stands in for
the server, the log is a prefix of one captured from vLLM on this machine, and an HTTP stub answers ``/health`` when
the server is meant to be up. The state file is the one ``up`` writes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from inferctl.cli.app import main
from inferctl.config import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.errors import ConflictError
from inferctl.home import Home
from inferctl.targets.local import LocalTarget
from inferctl.targets.local.state import LocalState, read_state
from tests.support.bench import STUB_MODEL, StubServer

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "vllm_logs"


@pytest.fixture
def server_process() -> Iterator[int]:
    """A live process the local target takes for its vLLM server (its argv names the server module)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", VLLM_SERVER_MODULE])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


def _closed_port() -> int:
    """A loopback port nothing listens on: the server has not opened its socket yet."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(home: Path, pid: int, port: int, *, log_lines: int, ready_at: float | None) -> Path:
    """The state ``up`` writes, with the first ``log_lines`` lines of a real start log in server.log."""
    state_dir = home / "platforms" / "inferctl" / "local"
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "server.log"
    log.write_text("".join((LOGS / "ready.log").read_text().splitlines(keepends=True)[:log_lines]))
    state = LocalState(
        pid=pid,
        pgid=pid,
        host="127.0.0.1",
        port=port,
        model="demo",
        served_model_name=STUB_MODEL,
        source="demo",
        model_path="/x",
        log_path=str(log),
        started_at=time.time() - 30,
        api_key_required=False,
        ready_at=ready_at,
    )
    (state_dir / "state.json").write_text(json.dumps(asdict(state)))
    return state_dir / "state.json"


def _status() -> dict[str, Any]:
    return LocalTarget(PlatformConfig(), Home.from_env()).status().to_dict()


def test_a_server_loading_its_weights_is_starting_with_the_phase(isolated_home: Path, server_process: int) -> None:
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None)  # "Starting to load model"
    report = _status()
    assert report["state"] == "starting"
    (model,) = report["models"]
    assert model["startup_phase"] == "loading weights"
    assert model["healthy"] is False and model["uptime_s"] >= 30  # the elapsed time


def test_a_server_with_no_phase_logged_yet_is_starting(isolated_home: Path, server_process: int) -> None:
    _write(isolated_home, server_process, _closed_port(), log_lines=0, ready_at=None)
    report = _status()
    assert report["state"] == "starting"
    assert report["models"][0]["startup_phase"] == "starting"


def test_a_server_that_was_ready_and_fails_its_probe_is_unhealthy(isolated_home: Path, server_process: int) -> None:
    _write(isolated_home, server_process, _closed_port(), log_lines=80, ready_at=time.time() - 10)
    report = _status()
    assert report["state"] == "unhealthy"
    assert report["models"][0]["startup_phase"] is None


@pytest.mark.parametrize("ready_at", [None, 1.0], ids=["up-not-recorded-yet", "up-recorded"])
def test_a_server_that_answers_is_running(isolated_home: Path, server_process: int, ready_at: float | None) -> None:
    """Answering is ready, whether or not 'up' has recorded it yet (or lived to: killed while it waited)."""
    with StubServer() as server:
        _write(isolated_home, server_process, server.port, log_lines=80, ready_at=ready_at)
        report = _status()
    assert report["state"] == "running"
    assert report["models"][0]["healthy"] is True and report["models"][0]["startup_phase"] is None


def test_a_state_file_from_before_ready_at_means_ready_once(isolated_home: Path, server_process: int) -> None:
    """An older inferctl wrote no ready_at; its 'up' has finished (a failed one removes the file), so that server
    was ready: failing its probe now is unhealthy, not starting."""
    path = _write(isolated_home, server_process, _closed_port(), log_lines=80, ready_at=None)
    data = json.loads(path.read_text())
    del data["ready_at"]
    path.write_text(json.dumps(data))
    state = read_state(path)
    assert state is not None and state.ready_at == data["started_at"]
    assert _status()["state"] == "unhealthy"


def test_endpoints_of_a_starting_server_say_to_wait_for_up(isolated_home: Path, server_process: int) -> None:
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None)
    with pytest.raises(ConflictError) as starting:
        LocalTarget(PlatformConfig(), Home.from_env()).endpoints()
    assert "is still starting (loading weights, 30 s)" in starting.value.message
    assert "wait for 'inferctl up' to finish" in starting.value.message


@pytest.mark.parametrize("command", [["endpoint"], ["chat", "hello"], ["status"]])
def test_the_cli_on_a_starting_server(
    isolated_home: Path, server_process: int, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """endpoint and chat: one line, exit 2 (before: a URL that does not answer, and 'cannot reach ...; is the
    platform running?'). status: exit 0, the state and the phase."""
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None)
    code = main(command)
    out, err = capsys.readouterr()
    if command == ["status"]:
        assert code == 0
        assert "state: starting" in out and "loading weights" in out
        return
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "still starting" in line and "wait for 'inferctl up' to finish" in line


def test_endpoints_of_a_ready_server_skip_the_probe(isolated_home: Path, server_process: int) -> None:
    """Once 'up' recorded it ready, endpoint hands out the address without asking the server (as before)."""
    path = _write(isolated_home, server_process, _closed_port(), log_lines=80, ready_at=time.time())
    (endpoint,) = LocalTarget(PlatformConfig(), Home.from_env()).endpoints()
    state = read_state(path)
    assert state is not None and endpoint.base_url == state.base_url + "/v1"
