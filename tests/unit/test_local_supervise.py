"""The local server's supervisor: after the server dies on its own, ``status`` says how (signal or exit code).

Real processes throughout: the real supervisor (``supervise.py``) runs a short Python script that stands in for
vLLM at the process-runner seam (``process.spawn_supervised``): how a process ends, not vLLM, is the point here,
and a real vLLM start costs ~30 s (tests/e2e/test_local_e2e.py kills a real one). The stand-in carries vLLM's
server module name in its argv because ``running()`` checks the command line of the recorded pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferctl.config import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.errors import StartError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.targets.local import LocalTarget, process
from inferctl.targets.local.server import ModelServer
from inferctl.targets.local.startup import Starting, wait_ready
from tests.support.local import local_dir, server_state


def _start(home: Path, script: str) -> tuple[LocalTarget, subprocess.Popen[bytes], int, Path]:
    """The stand-in started the way ``up`` starts a server (ModelServer.start: supervised, its state written)."""
    target = LocalTarget(PlatformConfig(), Home.from_env())
    files = ModelServer(local_dir(home) / "servers" / "demo-0")
    supervisor, state = files.start(
        [sys.executable, "-c", script, VLLM_SERVER_MODULE], dict(os.environ),
        server_state(0, 1, ready=False, log_path=str(files.log_path)),
    )  # fmt: skip
    return target, supervisor, state.pid, files.log_path


def _wait_for_line(log: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never reached {log}"
        time.sleep(0.02)


def test_status_says_the_server_was_killed_by_sigkill(isolated_home: Path) -> None:
    """Before the supervisor, nothing waited for the server after 'up' exited: status could only guess 'killed'."""
    script = "import time; print('INFO Loading weights took 1.2 s', flush=True); time.sleep(60)"
    target, supervisor, pid, log = _start(isolated_home, script)
    _wait_for_line(log, "Loading weights")
    assert pid != supervisor.pid and os.getpgid(pid) == supervisor.pid  # one group: down's killpg reaches both
    assert target.status().to_dict()["state"] == "starting"  # alive, loading, never answered

    os.kill(pid, signal.SIGKILL)
    assert supervisor.wait(timeout=10) == -signal.SIGKILL  # the supervisor ends as the server did

    report = target.status().to_dict()
    assert report["state"] == "crashed"
    (crash,) = report["crashes"]
    (row,) = report["models"]
    assert (row["server"], row["state"], row["pid"]) == ("demo-0", "dead", pid) and "SIGKILL" in row["note"]
    assert crash["pid"] == pid
    assert crash["signal"] == "SIGKILL" and crash["exit_code"] is None
    assert "killed by SIGKILL" in crash["how"]
    assert crash["last_log_lines"] == ["INFO Loading weights took 1.2 s"]


def test_status_gives_the_exit_code_and_the_last_log_lines(isolated_home: Path) -> None:
    script = "import sys; print('ERROR something broke', flush=True); sys.exit(3)"
    target, supervisor, pid, _ = _start(isolated_home, script)
    assert supervisor.wait(timeout=10) == 3

    (crash,) = target.status().to_dict()["crashes"]
    assert crash["pid"] == pid and crash["server"] == "demo-0"
    assert crash["exit_code"] == 3 and crash["signal"] is None
    assert "exited with code 3" in crash["how"]
    assert "ERROR something broke" in crash["last_log_lines"]


def test_down_stops_the_server_and_its_supervisor(isolated_home: Path) -> None:
    """SIGTERM to the group: the supervisor ignores it, the server ends, the supervisor records that and ends."""
    script = "import time; print('INFO up', flush=True); time.sleep(60)"
    target, supervisor, pid, log = _start(isolated_home, script)
    _wait_for_line(log, "INFO up")
    target.down(NullReporter())  # reaps its own children in the group: here, the supervisor
    assert not process.is_alive(pid) and not process.is_alive(supervisor.pid)
    assert process.group_members(supervisor.pid) == []
    assert process.exit_record(log.with_name("exit.json"), pid) == -signal.SIGTERM  # it outlived the server
    assert target.status().to_dict()["state"] == "stopped"


def test_describe_exit() -> None:
    assert process.describe_exit(0) == "exited with code 0"
    assert process.describe_exit(-9) == "killed by SIGKILL"


def test_a_server_killed_alone_leaves_no_helper_behind(isolated_home: Path) -> None:
    """vLLM's helpers (engine core, resource tracker) share its process group and outlived a kill -9 of the server
    (measured: an orphaned VLLM::EngineCore held 2.5 GB for minutes, until the next up/down). The supervisor, which
    sees the server end, now ends the rest of the group. The stand-in's helper is a real child that ignores the
    server's death, as the engine core did."""
    script = (
        "import subprocess, sys, time; "
        "h = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('HELPER', h.pid, flush=True); time.sleep(60)"
    )
    target, supervisor, pid, log = _start(isolated_home, script)
    _wait_for_line(log, "HELPER")
    helper = int(log.read_text().split("HELPER", 1)[1].split()[0])
    assert os.getpgid(helper) == supervisor.pid

    os.kill(pid, signal.SIGKILL)
    assert supervisor.wait(timeout=15) == -signal.SIGKILL  # still ends as the server did
    deadline = time.monotonic() + 5
    while process.is_alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process.is_alive(helper)
    assert target.status().to_dict()["crashes"][0]["signal"] == "SIGKILL"


def test_a_failed_start_is_one_sentence_then_the_fix(isolated_home: Path) -> None:
    """Seen with a real vLLM given an unknown flag: 'the server exited with code 2 Fix: ...' (no full stop). The
    message names the model whose server failed (several start side by side)."""
    script = "import sys; print('api_server.py: error: unrecognized arguments: --bogus-flag'); sys.exit(2)"
    _, supervisor, _, _ = _start(isolated_home, script)
    assert supervisor.wait(timeout=10) == 2
    files = ModelServer(local_dir(isolated_home) / "servers" / "demo-0")
    state = files.running() or files.crashed()
    assert state is not None
    with pytest.raises(StartError) as failed:
        wait_ready([Starting(files, state, supervisor)], None, 30, NullReporter())
    assert "vLLM failed to start model 'demo' (demo-0): the server exited with code 2. Fix: " in failed.value.message
