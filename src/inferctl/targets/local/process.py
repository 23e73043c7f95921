"""Child-process plumbing for the local target: spawn in its own process group, check, stop, find ports.

vLLM starts an engine-core process of its own; a new session (process group) lets ``stop`` reach every process
the server started, so ``down`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from inferctl.errors import StartError

_SUPERVISOR = Path(__file__).with_name("supervise.py")


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from the terminal, stdout+stderr appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )


def spawn_supervised(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path, pid_file: Path, exit_file: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` under ``supervise.py`` (which records how it ends in ``exit_file``); returns the supervisor
    (the process group's leader) and the pid of ``argv`` itself. ``-I -S``: the supervisor imports only stdlib."""
    for stale in (pid_file, exit_file):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    supervisor = spawn(
        [sys.executable, "-I", "-S", str(_SUPERVISOR), str(pid_file), str(exit_file), "--", *argv],
        env=env,
        log_path=log_path,
        cwd=cwd,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            return supervisor, int(json.loads(pid_file.read_text(encoding="utf-8"))["pid"])
        if supervisor.poll() is not None:
            break
        time.sleep(0.005)
    stop_group(supervisor.pid, timeout_s=1)
    supervisor.poll()
    raise StartError(f"the server's supervisor did not start (exit code {supervisor.returncode}); see {log_path}")


def exit_record(exit_file: Path, pid: int, *, wait_s: float = 1.0) -> int | None:
    """The return code the supervisor recorded for ``pid`` (negative: killed by that signal), or None if none.

    ``wait_s``: the server just died and its supervisor may be writing the record this instant."""
    deadline = time.monotonic() + wait_s
    while True:
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
            record = json.loads(exit_file.read_text(encoding="utf-8"))
            if int(record["pid"]) == pid:
                return int(record["returncode"])
            return None  # a record of another server
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def describe_exit(returncode: int) -> str:
    """``exited with code 1`` or ``killed by SIGKILL``."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    return f"killed by {signal_name(-returncode)}"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def is_alive(pid: int) -> bool:
    """True if ``pid`` runs (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.is_file():
        with contextlib.suppress(OSError):
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (/proc/PID/stat); None if it is gone. With the pid it names
    one process: another process given the same pid later starts later."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def still_runs(pid: int, started: int | None) -> bool:
    """Whether the process recorded as ``pid`` with its :func:`start_ticks` runs: not once it has ended (zombies
    count as ended), nor when its pid now belongs to another process. ``started`` None (not known): the pid alone."""
    return is_alive(pid) and (started is None or start_ticks(pid) == started)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def working_dir(pid: int) -> Path | None:
    try:
        return Path(f"/proc/{pid}/cwd").readlink()
    except OSError:
        return None


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_group(pgid: int, *, timeout_s: float) -> bool:
    """SIGTERM the group, wait up to ``timeout_s``, then SIGKILL what is left. True if it ended gracefully."""
    return stop_groups([pgid], timeout_s=timeout_s)


def stop_groups(pgids: Sequence[int], *, timeout_s: float) -> bool:
    """:func:`stop_group` for several groups at once (the model servers and the gateway stop side by side, not one
    timeout after another). True if every group ended gracefully."""
    signalled = [pgid for pgid in pgids if _signal_group(pgid, signal.SIGTERM)]

    def left() -> list[int]:
        for pgid in signalled:
            _reap(pgid)
        return [pgid for pgid in signalled if group_members(pgid)]

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not left():
            return True
        time.sleep(0.1)
    stubborn = left()
    for pgid in stubborn:
        _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not stubborn


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of the live processes of group ``pgid`` (Linux /proc; 0 where unreadable)."""
    total = 0
    for pid in group_members(pgid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _reap(pgid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(-pgid, os.WNOHANG)


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
