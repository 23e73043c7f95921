"""``inferctl console`` as a user runs it: a subprocess that prints its address, listens on 127.0.0.1 only, answers
the token once, and stops on Ctrl-C with exit code 0. No platform runs here (the pages say so); the browser and a
real vLLM are in tests/e2e/test_console_e2e.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from inferctl.cli.app import main
from inferctl.console import server

ADDRESS = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{40,})$")


def test_the_console_prints_its_address_answers_it_once_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "INFERCTL_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    env.pop("INFERCTL_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferctl", "console", "--interval", "0.5"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        found = ADDRESS.match(line)
        assert found, line
        port = int(found.group(1))
        home = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{home}/").status_code == 403
        with httpx.Client(base_url=home) as browser:
            opened = browser.get(f"/?token={found.group(2)}", follow_redirects=True)
            assert opened.status_code == 200 and "platform inferctl · target local · stopped" in opened.text
            assert str(opened.url) == f"{home}/"  # the token left the address
        assert httpx.get(line).status_code == 403  # spent
        # Only the loopback address listens: this machine's other addresses refuse the connection.
        outside = _other_address()
        if outside is not None:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{outside}:{port}/", timeout=2)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "token" not in err.split("Ctrl-C stops the console:")[-1]  # nothing logged the token after the banner


def _other_address() -> str | None:
    """An address of this machine other than loopback (the one its default route uses), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel just picks a source address
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["console", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err
    assert "Traceback" not in err


def test_without_the_console_extra_it_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["console"]) == 2
    err = capsys.readouterr().err
    assert server.CONSOLE_MISSING in err and "(missing: uvicorn)" in err
