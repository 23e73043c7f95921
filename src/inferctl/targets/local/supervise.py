"""A tiny parent for the vLLM server that outlives ``inferctl up`` and records how the server ended.

Run as a script (``python -I -S supervise.py PID_FILE EXIT_FILE -- ARGV...``), never as ``-m inferctl...``: it
imports only the standard library, so it adds milliseconds, not inferctl's or vLLM's imports, to start-up.

It starts ARGV in its own process group (the one ``up`` created for it), writes the child's pid, waits for it, then
writes ``{"pid": ..., "returncode": ...}`` (negative: killed by that signal, as in :mod:`subprocess`) and ends the
same way. SIGTERM/SIGINT/SIGHUP sent to the group reach vLLM directly; the supervisor ignores them so it can still
record the exit. A SIGKILL to the group (``down`` after its timeout) ends both; ``down`` then needs no record.
When the server ends, whatever else of the group still runs (vLLM's engine core and resource tracker outlive a
``kill -9`` or OOM kill of the server, holding the model's memory) is ended too, before the supervisor ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_FORWARDED_BY_THE_GROUP = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_HELPERS_GRACE_S = 5.0


def _write_atomically(path: Path, data: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def _ignore(signum: int, frame: object) -> None:
    """A Python handler, not SIG_IGN: handlers reset to the default in the exec'd child, SIG_IGN would not."""


def _others_in_group() -> list[int]:
    """Live processes of our process group but us (Linux /proc; zombies excluded)."""
    me, group = os.getpid(), os.getpgid(0)
    others = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            others.append(int(entry.name))
    return others


def _end_the_rest_of_the_group() -> None:
    """SIGTERM the server's leftover helpers, SIGKILL those still there after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + _HELPERS_GRACE_S
        for pid in _others_in_group():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        while _others_in_group() and time.monotonic() < deadline:
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: supervise.py PID_FILE EXIT_FILE -- ARGV...\n")
        return 2
    pid_file, exit_file, command = Path(argv[0]), Path(argv[1]), argv[3:]
    for sig in _FORWARDED_BY_THE_GROUP:
        signal.signal(sig, _ignore)
    child = subprocess.Popen(command)  # stdin/stdout/stderr, cwd, env and process group are ours
    _write_atomically(pid_file, {"pid": child.pid})
    returncode = child.wait()
    _write_atomically(exit_file, {"pid": child.pid, "returncode": returncode})
    _end_the_rest_of_the_group()
    if returncode < 0:
        # End as the child did: the same signal, default action.
        if -returncode in _FORWARDED_BY_THE_GROUP:
            signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
