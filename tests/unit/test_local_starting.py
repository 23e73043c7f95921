"""While ``up`` starts vLLM (20-80 s on a CPU), ``status`` says ``starting`` and the phase of its log, not
``unhealthy``: unhealthy is for a server that was ready once (``up`` records ``ready_at`` when it sees it answer).

The seam, as in test_follow_running.py (tests/support/local.py): a real process whose command line names vLLM's
server module stands in for the server, the log is a prefix of one captured from vLLM on this machine, and an HTTP
stub answers ``/health`` when the server is meant to be up. The state file is the one ``up`` writes; the ``up`` that
wrote it is this test's process or, killed (as kill -9 of ``up`` would), a short ``sleep``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from inferctl.cli.app import main
from inferctl.config import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.errors import ConflictError
from inferctl.home import Home
from inferctl.targets.local import LocalTarget, process
from inferctl.targets.local.state import read_state
from tests.support.bench import STUB_MODEL, StubServer
from tests.support.local import server_state, write_server

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "vllm_logs"


@pytest.fixture
def server_process() -> Iterator[int]:
    """A live process the local target takes for its vLLM server (its argv names the server module)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", VLLM_SERVER_MODULE])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


@pytest.fixture
def ended_up() -> tuple[int, int]:
    """The pid and start time of an 'up' that has exited (killed)."""
    sleeper = subprocess.Popen(["sleep", "60"])
    started = process.start_ticks(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    assert started is not None
    return sleeper.pid, started


def _this_process() -> tuple[int, int | None]:
    """As the 'up' that started the server: this test's process (it runs)."""
    return os.getpid(), process.start_ticks(os.getpid())


def _closed_port() -> int:
    """A loopback port nothing listens on: the server has not opened its socket yet."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(
    home: Path,
    pid: int,
    port: int,
    *,
    log_lines: int,
    ready_at: float | None,
    up: tuple[int, int | None] | None = None,
) -> Path:
    """The state ``up`` writes for the server, with the first ``log_lines`` lines of a real start log in its log.
    No gateway is recorded: these tests are about the server's own start (the gateway: test_local_gateway.py)."""
    log = "".join((LOGS / "ready.log").read_text().splitlines(keepends=True)[:log_lines])
    state = replace(server_state(pid, port, served=STUB_MODEL, up=up), ready_at=ready_at)
    written = write_server(home, state, log=log)
    return Path(written.log_path).with_name("state.json")


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


def test_a_server_that_never_answered_and_whose_up_has_exited_is_unhealthy(
    isolated_home: Path, server_process: int, ended_up: tuple[int, int]
) -> None:
    """kill -9 of 'up' while the server starts: nobody waits for it any more. If it never answers, 'starting' would
    last forever; status says unhealthy, with the phase it reached and a note naming the fix."""
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None, up=ended_up)
    report = _status()
    assert report["state"] == "unhealthy"
    (model,) = report["models"]
    assert model["startup_phase"] == "loading weights" and model["healthy"] is False
    assert f"the 'inferctl up' that started it (pid {ended_up[0]}) has exited" in model["note"]
    assert "check 'inferctl logs', then 'inferctl down' and 'inferctl up' again" in model["note"]


def test_a_server_whose_up_still_waits_is_starting(isolated_home: Path, server_process: int) -> None:
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None, up=_this_process())
    report = _status()
    assert report["state"] == "starting" and report["models"][0]["note"] is None


def test_an_up_pid_now_used_by_another_process_is_an_exited_up(isolated_home: Path, server_process: int) -> None:
    """The pid alone could name a later process: the recorded start time tells them apart."""
    pid, started = _this_process()
    assert started is not None
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None, up=(pid, started - 1))
    assert _status()["state"] == "unhealthy"


def test_a_state_file_from_before_up_pid_reads(isolated_home: Path, server_process: int) -> None:
    """Written by the inferctl that added ready_at: no up_pid. Its 'up' is taken to be waiting, as then."""
    path = _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None)
    data = json.loads(path.read_text())
    del data["up_pid"], data["up_start_ticks"]
    path.write_text(json.dumps(data))
    state = read_state(path)
    assert state is not None and state.up_pid is None and state.ready_at is None
    assert _status()["state"] == "starting"


def test_an_abandoned_server_that_answers_is_running(
    isolated_home: Path, server_process: int, ended_up: tuple[int, int]
) -> None:
    """A server whose 'up' was killed may still finish starting: once it answers, it is running."""
    with StubServer() as server:
        _write(isolated_home, server_process, server.port, log_lines=80, ready_at=None, up=ended_up)
        assert _status()["state"] == "running"
        (endpoint,) = LocalTarget(PlatformConfig(), Home.from_env()).endpoints()
    assert endpoint.base_url == f"http://127.0.0.1:{server.port}/v1"


@pytest.mark.parametrize("command", [["endpoint"], ["chat", "hello"], ["bench", "-n", "1"]])
def test_the_cli_on_a_server_whose_up_has_exited(
    isolated_home: Path,
    server_process: int,
    ended_up: tuple[int, int],
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """One line, exit 2: not 'wait for up to finish' (it never will), but what to check and how to start again."""
    _write(isolated_home, server_process, _closed_port(), log_lines=40, ready_at=None, up=ended_up)
    assert main(command) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert out == "" and "is not ready (loading weights, 30 s)" in line, line
    assert f"'inferctl up' that started it (pid {ended_up[0]}) has exited" in line
    assert "check 'inferctl logs', then 'inferctl down' and 'inferctl up' again" in line
