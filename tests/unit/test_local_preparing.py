"""Before vLLM starts, ``up`` may spend a minute preparing the model (checking the hub, downloading and converting
the starter model, building the demo) with no state file yet: ``status`` says ``starting`` with up's phase, and
``endpoint``/``chat``/``bench`` say the platform is still starting (before: ``stopped``, "not running").

The seam: a real ``inferctl up`` process (the default config: the starter model) whose hub check goes to a real HTTP
server on loopback (``HF_ENDPOINT``) that holds its answer until the test has looked. It then answers 404 and the
offline preparation stops at once (``INFERCTL_STARTER_WHEEL`` names no file), as on a machine without the wheel.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferctl.cli.app import main
from inferctl.config import PlatformConfig
from inferctl.errors import ConflictError, NotFoundError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.starter_model import STARTER_HUB_ID, WHEEL_ENV
from inferctl.targets.local import LocalTarget, process

if importlib.util.find_spec("vllm") is None:
    pytest.skip("'up' checks that vLLM is installed before it prepares the model", allow_module_level=True)

HUB_CHECK = "checking the HuggingFace hub"


class HeldHub:
    """huggingface.co on loopback: a HEAD for the starter model waits until :meth:`release`, then gets a 404."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self._released = threading.Event()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                hub.asked.set()
                hub._released.wait(timeout=60)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> HeldHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def preparing_up(isolated_home: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], HeldHub]]:
    """``inferctl up`` in another process, held in its hub check (preparing the model, no state file yet)."""
    with HeldHub() as hub, (tmp_path / "up.stderr").open("wb") as err:
        env = {**os.environ, "HF_ENDPOINT": hub.url, WHEEL_ENV: str(tmp_path / "no-such.whl")}
        env.pop("HF_HUB_OFFLINE", None)
        up = subprocess.Popen(
            [sys.executable, "-m", "inferctl", "up"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            assert hub.asked.wait(timeout=120), "up never checked the hub"
            assert up.poll() is None
            yield up, hub
        finally:
            if up.poll() is None:
                up.kill()
            up.wait()


def _target() -> LocalTarget:
    return LocalTarget(PlatformConfig(), Home.from_env())


def _status() -> dict[str, Any]:
    return _target().status().to_dict()


def test_status_says_starting_with_ups_phase_while_it_prepares_the_model(
    preparing_up: tuple[subprocess.Popen[bytes], HeldHub],
) -> None:
    up, hub = preparing_up
    report = _status()
    assert report["state"] == "starting" and report["models"] == [], report
    preparing = report["preparing"]
    assert (preparing["model"], preparing["phase"], preparing["detail"]) == ("smollm2", HUB_CHECK, STARTER_HUB_ID)
    assert preparing["up_pid"] == up.pid and preparing["elapsed_s"] >= 0
    with pytest.raises(ConflictError, match=f"is still starting \\({HUB_CHECK}, \\d+ s\\); wait for 'inferctl up'"):
        _target().endpoints()

    hub.release()  # the hub says no; the preparation from PyPI stops at once: no wheel
    assert up.wait(timeout=120) == 2
    assert _status() == {"target": "local", "platform": "inferctl", "state": "stopped", "models": []}
    assert not any(_target()._dir.glob("preparing.json*"))  # removed however 'up' ends
    with pytest.raises(NotFoundError, match="not running locally"):
        _target().endpoints()


def test_the_cli_while_up_prepares_the_model(
    preparing_up: tuple[subprocess.Popen[bytes], HeldHub], capsys: pytest.CaptureFixture[str]
) -> None:
    """status: exit 0, starting and up's phase. endpoint, chat, bench: one line, exit 2, still starting."""
    assert main(["status"]) == 0
    out, _ = capsys.readouterr()
    assert "state: starting" in out and HUB_CHECK in out, out
    for command in (["endpoint"], ["chat", "hello"], ["bench", "-n", "1"]):
        code = main(command)
        out, err = capsys.readouterr()
        assert code == 2 and out == "", (command, out, err)
        (line,) = err.strip().splitlines()
        assert f"still starting ({HUB_CHECK}" in line and "wait for 'inferctl up' to finish" in line, line


def test_a_killed_up_leaves_a_file_that_reads_as_absent(
    preparing_up: tuple[subprocess.Popen[bytes], HeldHub],
) -> None:
    """kill -9 of 'up' while it prepares: its preparing.json stays behind, names a process that has ended, and
    status and endpoint say what they said before 'up' ran; 'down' removes it."""
    up, _ = preparing_up
    os.kill(up.pid, signal.SIGKILL)
    up.wait(timeout=30)
    left = _target()._dir / "preparing.json"
    assert json.loads(left.read_text())["up_pid"] == up.pid
    assert _status()["state"] == "stopped"
    with pytest.raises(NotFoundError, match="not running locally"):
        _target().endpoints()
    _target().down(NullReporter())
    assert not left.exists()


def test_a_preparing_file_naming_a_reused_pid_reads_as_absent(isolated_home: Path) -> None:
    """A pid is reused once its process has ended: the file names the process by pid and start time."""
    me = os.getpid()
    started = process.start_ticks(me)
    assert started is not None
    target = _target()
    target.home.ensure(target._dir)
    record = {"up_pid": me, "up_start_ticks": started, "model": "demo", "started_at": 0.0, "phase": "x", "detail": ""}
    (target._dir / "preparing.json").write_text(json.dumps(record))
    assert _status()["state"] == "starting"
    (target._dir / "preparing.json").write_text(json.dumps({**record, "up_start_ticks": started - 1}))
    assert _status()["state"] == "stopped"


def test_a_process_is_named_by_its_pid_and_start_time() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = process.start_ticks(sleeper.pid)
    assert started is not None and process.start_ticks(sleeper.pid) == started
    assert process.still_runs(sleeper.pid, started) and not process.still_runs(sleeper.pid, started + 1)
    sleeper.kill()
    sleeper.wait()
    assert process.start_ticks(sleeper.pid) is None and not process.still_runs(sleeper.pid, started)
