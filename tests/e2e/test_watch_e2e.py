"""``inferctl status --watch`` against the local target's real vLLM (tests/e2e/conftest.py) while a bench loads it:
the frames show the model running and an output rate from vLLM's own token counter, and a real SIGINT (Ctrl-C)
ends the watch with exit code 0 and no traceback.

stdout is a pipe here, so each frame is printed below the last one (on a terminal rich's Live redraws in place).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

TITLE = "status of inferctl (local) · "


def test_status_watch_shows_the_load_and_stops_on_ctrl_c(local_platform: Cli) -> None:
    cli = local_platform
    command = [sys.executable, "-m", "inferctl"]
    env = cli.env(COLUMNS="120")
    bench = subprocess.Popen(
        [*command, "bench", "--concurrency", "4", "-n", "48", "--output-len", "64", "--warmup", "0", "-o", "json"],
        cwd=cli.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        watch = subprocess.Popen(
            [*command, "status", "--watch", "--interval", "1"],
            cwd=cli.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(8)
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=30)
    finally:
        bench.wait(timeout=300)
    assert watch.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    frames = [f for f in re.split(rf"(?m)^(?={re.escape(TITLE)})", out) if f.startswith(TITLE)]
    assert len(frames) >= 3, out
    rows = [re.search(r"│ demo\s+│ running\s+│\s+1/1 │.*│\s+([\d,]+\.\d|-) │ http", f) for f in frames]
    assert all(rows), out
    rates = [float(r.group(1).replace(",", "")) for r in rows if r and r.group(1) != "-"]
    assert rows[0] and rows[0].group(1) == "-"  # one read of the counter: no rate yet
    assert rates and max(rates) > 0, out  # the bench generated tokens between two reads
