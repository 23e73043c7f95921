"""The local target's pure parts: log phases and failure reasons (on logs captured from vLLM 0.32 on this
machine), metrics parsing, the 0600 key file, process-group stop, the missing-vLLM and port checks."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferctl.config import PlatformConfig, apply_overrides
from inferctl.errors import ConfigError, ConflictError, MissingDependencyError, NotFoundError
from inferctl.home import Home
from inferctl.metrics import parse_vllm_metrics
from inferctl.progress import NullReporter
from inferctl.sizing.local import local_servers
from inferctl.targets.local import LocalTarget, logwatch, process
from inferctl.targets.local.startup import check_memory

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "vllm_logs"


def test_phases_follow_a_real_start_log() -> None:
    lines = (LOGS / "ready.log").read_text().splitlines()
    seen = []
    phase = "starting"
    for line in lines:
        phase = logwatch.phase_of([line], phase)
        if not seen or seen[-1] != phase:
            seen.append(phase)
    assert seen == [
        "starting",
        "resolving model",
        "starting engine",
        "loading weights",
        "allocating KV cache",
        "warming up",
        "starting API server",
    ]


def test_phase_never_goes_backwards() -> None:
    assert logwatch.phase_of(["Loading weights took 0.1 seconds"], "starting API server") == "starting API server"


def test_failure_reason_quotes_vllm_and_hint_names_the_fix() -> None:
    lines = (LOGS / "max_model_len_too_long.log").read_text().splitlines()
    reason = logwatch.failure_reason(lines)
    assert reason is not None
    assert reason.startswith("User-specified max_model_len (4096) is greater than the derived max_model_len")
    assert len(reason) <= 240
    assert "max_model_len" in logwatch.hint_for(reason)
    details = logwatch.meaningful_lines(lines)
    assert details[-1].startswith("Value error, User-specified max_model_len")
    assert not any(line.lstrip().startswith("File ") or "WARNING" in line for line in details)


def test_failure_reason_plain_exception() -> None:
    lines = ["Traceback (most recent call last):", '  File "x.py", line 1', "OSError: gated repo: 401 Client Error"]
    reason = logwatch.failure_reason(lines)
    assert reason == "OSError: gated repo: 401 Client Error"
    assert "HF_TOKEN" in logwatch.hint_for(reason)


def test_the_reason_picks_the_hint_before_the_rest_of_the_log() -> None:
    """An ordinary start log mentions max_model_len (non-default args) and KV cache: they must not decide."""
    context = "non-default args: {'max_model_len': 4096}\nAvailable KV cache memory: 1 GiB"
    assert "HF_TOKEN" in logwatch.hint_for("OSError: gated repo: 401 Client Error", context)
    assert "max_model_len" in logwatch.hint_for("RuntimeError: engine core died", context)
    assert "inferctl logs" in logwatch.hint_for("RuntimeError: engine core died")


def test_kv_cache_usage_is_averaged_across_engines() -> None:
    text = """vllm:kv_cache_usage_perc{engine="0",model_name="demo"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="demo"} 0.25
vllm:num_requests_running{engine="0",model_name="demo"} 2.0
vllm:num_requests_running{engine="1",model_name="demo"} 1.0
"""
    assert parse_vllm_metrics(text) == {"running": 3.0, "kv_cache_usage": 0.375}


def test_metrics_are_summed_across_engines() -> None:
    text = """# HELP vllm:num_requests_running Number of requests in model execution batches.
vllm:num_requests_running{engine="0",model_name="demo"} 2.0
vllm:num_requests_running{engine="1",model_name="demo"} 1.0
vllm:num_requests_waiting{engine="0",model_name="demo"} 4.0
vllm:kv_cache_usage_perc{engine="0",model_name="demo"} 0.25
vllm:generation_tokens_total{engine="0",model_name="demo"} 1234.0
"""
    assert parse_vllm_metrics(text) == {
        "running": 3.0,
        "waiting": 4.0,
        "kv_cache_usage": 0.25,
        "generation_tokens_total": 1234.0,
    }


def test_api_key_is_generated_once_with_0600(tmp_path: Path) -> None:
    home = Home(tmp_path)
    key = home.api_key("p")
    assert key is not None and key.startswith("sk-inferctl-") and len(key) > 40
    path = home.api_key_path("p")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert home.api_key("p") == key
    assert Home(tmp_path).api_key("other") != key


def test_api_key_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERCTL_API_KEY", "sk-from-env")
    home = Home(tmp_path)
    assert home.api_key("p") == "sk-from-env"
    assert not home.api_key_path("p").exists()


def test_stop_group_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    """A real process group: a parent and a child that ignores SIGTERM; stop_group must leave none."""
    ready = tmp_path / "child-ready"
    child_code = (
        "import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"
    )
    script = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child_code!r}])\ntime.sleep(60)\n"
    child = process.spawn([sys.executable, "-c", script], env=dict(os.environ), log_path=tmp_path / "l", cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the SIGTERM-ignoring child did not start"
    assert len(process.group_members(child.pid)) == 2
    graceful = process.stop_group(child.pid, timeout_s=0.5)
    child.wait(timeout=5)
    assert graceful is False
    assert process.group_members(child.pid) == []


def test_missing_vllm_is_a_one_line_exit_2(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    """Fakes the interpreter's module lookup (the seam where 'is the extra installed' is asked)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    target = LocalTarget(PlatformConfig(), Home.from_env())
    with pytest.raises(MissingDependencyError, match=r"pip install 'inferctl\[local\]'") as err:
        target.up(NullReporter())
    assert err.value.exit_code == 2


def test_port_in_use_is_refused_before_starting(isolated_home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = apply_overrides(PlatformConfig(), port=port)
        with pytest.raises(ConflictError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalTarget(config, Home.from_env()).up(NullReporter())
    assert not (isolated_home / "platforms" / "inferctl" / "local" / "state.json").exists()


def test_missing_model_path(isolated_home: Path) -> None:
    config = PlatformConfig.model_validate({"models": [{"name": "m", "source": "/nonexistent/model"}]})
    with pytest.raises(NotFoundError, match="model path /nonexistent/model does not exist"):
        LocalTarget(config, Home.from_env()).up(NullReporter())


def test_status_when_stopped(isolated_home: Path) -> None:
    target = LocalTarget(PlatformConfig(), Home.from_env())
    assert target.status().to_dict() == {"target": "local", "platform": "inferctl", "state": "stopped", "models": []}


def test_status_says_the_server_crashed_and_shows_its_last_log_lines(isolated_home: Path) -> None:
    """A real child that logs and is then killed (SIGKILL), as the OOM killer or kill -9 would. Before, status
    said "stopped" and nothing else; now it says crashed, how, and what the log said last, until up or down. The
    state file is the first local target's, in the platform directory itself (before the gateway): such a server
    still reads, and down clears it."""
    target = LocalTarget(PlatformConfig(), Home.from_env())
    state_dir = isolated_home / "platforms" / "inferctl" / "local"
    state_dir.mkdir(parents=True)
    log = state_dir / "server.log"
    log.write_text("INFO 01-01 00:00:00 [loader.py:1] Loading weights took 1.2 s\n")
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    victim.kill()
    victim.wait()
    (state_dir / "state.json").write_text(
        f'{{"pid": {victim.pid}, "pgid": {victim.pid}, "host": "127.0.0.1", "port": 1, "model": "demo",'
        f' "served_model_name": "demo", "source": "demo", "model_path": "/x", "log_path": "{log}",'
        ' "started_at": 0, "api_key_required": true}'
    )
    for _ in range(2):  # the record stays: a second status says the same
        report = target.status().to_dict()
        assert report["state"] == "crashed"
        (crash,) = report["crashes"]
        assert crash["pid"] == victim.pid and crash["started_at"] == "1970-01-01T00:00:00Z"
        assert "killed" in crash["how"]
        assert crash["last_log_lines"] == ["INFO 01-01 00:00:00 [loader.py:1] Loading weights took 1.2 s"]
    assert not (state_dir / "state.json").exists()
    target.down(NullReporter())
    assert target.status().to_dict()["state"] == "stopped"


def test_status_gives_vllms_own_reason_when_it_logged_one(isolated_home: Path) -> None:
    target = LocalTarget(PlatformConfig(), Home.from_env())
    state_dir = isolated_home / "platforms" / "inferctl" / "local" / "servers" / "demo-0"
    state_dir.mkdir(parents=True)
    log = state_dir / "server.log"
    log.write_text("Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory.\n")
    (state_dir / "crashed.json").write_text(
        f'{{"pid": 1, "pgid": 1, "host": "127.0.0.1", "port": 1, "model": "demo",'
        f' "served_model_name": "demo", "source": "demo", "model_path": "/x", "log_path": "{log}",'
        ' "started_at": 0, "api_key_required": true}'
    )
    report = target.status().to_dict()
    assert "out of memory" in report["crashes"][0]["how"].lower()
    assert report["models"][0]["state"] == "dead" and "out of memory" in report["models"][0]["note"].lower()


class RecordingReporter:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def phase(self, name: str, detail: str = "") -> None:
        return None

    def info(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def test_ram_warning_uses_the_sizing_profile(isolated_home: Path) -> None:
    """Llama-3-70B's published config.json on this machine: sizing says the RAM cannot hold it, before vLLM. One
    server alone: a warning (as before the gateway); the starter model: none."""
    model_dir = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "meta-llama--Meta-Llama-3-70B"
    config = PlatformConfig.model_validate({"models": [{"name": "big", "source": str(model_dir)}]})
    reporter = RecordingReporter()
    target = LocalTarget(config, Home.from_env())
    (server,) = local_servers(config, on_cpu=True)
    check_memory([server], {"big": (str(model_dir), target._profile(server.model, str(model_dir)))}, [], 1, reporter)
    (warning,) = reporter.warnings
    assert "needs about" in warning and "GiB of RAM" in warning
    small = LocalTarget(PlatformConfig(), Home.from_env())  # the starter model, from the packaged snapshot
    quiet = RecordingReporter()
    (starter,) = local_servers(small.config, on_cpu=True)
    check_memory([starter], {starter.model.name: ("unused", small._profile(starter.model, "unused"))}, [], 1, quiet)
    assert quiet.warnings == []


def test_servers_that_cannot_all_fit_are_refused_before_any_starts(isolated_home: Path) -> None:
    """Two replicas of Llama-3-70B: with several servers the shortfall is an error (one line, exit 2), since the
    OOM killer would take any server of the platform, not only the new ones."""
    model_dir = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "meta-llama--Meta-Llama-3-70B"
    config = PlatformConfig.model_validate({"models": [{"name": "big", "source": str(model_dir), "replicas": 2}]})
    target = LocalTarget(config, Home.from_env())
    servers = local_servers(config, on_cpu=True)
    profile = target._profile(servers[0].model, str(model_dir))
    with pytest.raises(ConfigError) as refused:
        check_memory(servers, {"big": (str(model_dir), profile)}, [], 2, RecordingReporter())
    message = refused.value.message
    assert refused.value.exit_code == 2 and "\n" not in message
    assert "the 2 model servers to start (big x2) need about" in message and "lower models[].replicas" in message
