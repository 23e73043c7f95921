"""The local target end to end with the real vLLM server: what a new user does, asserted on protocol, not text.

The demo model's words are noise, so the assertions are about the OpenAI response shape, token counts, streaming
chunks, authentication and process hygiene.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openai import AuthenticationError, OpenAI

from inferctl.targets.base import Endpoint
from inferctl.targets.local.logwatch import PHASES
from tests.e2e.conftest import Cli, vllm_server_pids

pytestmark = pytest.mark.e2e

LOG_PHASES = {name for name, _ in PHASES}  # the start-up phases read from vLLM's log (up shows them too)


def test_status_reports_healthy_model(local_platform: Cli) -> None:
    result = local_platform("status", "--output", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state"] == "running"
    (model,) = report["models"]
    assert model["healthy"] is True
    assert model["name"] == "demo"
    assert model["port"] > 0
    assert model["uptime_s"] > 0
    assert model["requests_running"] == 0
    assert 0 <= model["kv_cache_usage_pct"] <= 100


def test_chat_one_shot_streams_tokens(local_platform: Cli) -> None:
    result = local_platform("chat", "hello", "--max-tokens", "12")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "no streamed text on stdout"
    assert "12 tokens" in result.stderr
    assert "random weights" in result.stderr  # the demo notice, once
    assert result.stderr.count("random weights") == 1


def test_chat_completion_shape_and_usage(local_endpoint: Endpoint) -> None:
    client = OpenAI(base_url=local_endpoint.base_url, api_key=local_endpoint.api_key)
    reply = client.chat.completions.create(
        model=local_endpoint.model,
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=7,
        extra_body={"ignore_eos": True},
    )
    assert reply.object == "chat.completion"
    assert reply.model == "demo"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 7
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 7


def test_streaming_chunks_and_final_usage(local_endpoint: Endpoint) -> None:
    client = OpenAI(base_url=local_endpoint.base_url, api_key=local_endpoint.api_key)
    stream = client.chat.completions.create(
        model=local_endpoint.model,
        messages=[{"role": "user", "content": "count"}],
        max_tokens=9,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert 1 <= len(content_chunks) <= 9
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]


def test_models_list_and_401_without_key(local_endpoint: Endpoint) -> None:
    """Through the gateway: a completion without the key or with a wrong one is refused (401). The model list
    answers without a key: smg 1.13.0 serves /v1/models as a public route (model_gateway/src/server.rs,
    public_routes; docs/guides/local.md names the gap)."""
    assert local_endpoint.api_key and local_endpoint.api_key.startswith("sk-inferctl-")
    listed = httpx.get(
        f"{local_endpoint.base_url}/models", headers={"Authorization": f"Bearer {local_endpoint.api_key}"}
    )
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["data"]] == ["demo"]
    body = {"model": "demo", "prompt": "hi", "max_tokens": 1}
    assert httpx.post(f"{local_endpoint.base_url}/completions", json=body).status_code == 401
    wrong = OpenAI(base_url=local_endpoint.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.completions.create(model="demo", prompt="hi", max_tokens=1)


def test_key_file_is_private_and_state_has_no_secret(local_platform: Cli, local_endpoint: Endpoint) -> None:
    key_file = local_platform.home / "platforms" / "inferctl" / "api-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert local_endpoint.api_key is not None
    for path in local_platform.home.rglob("*"):
        if path.is_file() and path != key_file and path.stat().st_size < 50_000_000:
            assert local_endpoint.api_key.encode() not in path.read_bytes(), f"API key leaked into {path}"
    hidden = local_platform("endpoint", "--output", "json")
    assert local_endpoint.api_key not in hidden.stdout


def test_a_second_up_of_the_same_model_changes_nothing(local_platform: Cli) -> None:
    """Before the gateway a second up was refused ("already running"); now up makes the platform what the config
    says: here it already is, so nothing restarts."""
    before = json.loads(local_platform("status", "--output", "json").stdout)
    again = local_platform("up", "--model", "demo")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    after = json.loads(local_platform("status", "--output", "json").stdout)
    assert [m["pid"] for m in after["models"]] == [m["pid"] for m in before["models"]]
    assert after["gateway"]["pid"] == before["gateway"]["pid"]


def test_start_failure_quotes_vllm_reason(tmp_path: Path) -> None:
    """max_model_len above the demo's 2048 positions: vLLM refuses; up exits 2 quoting it; nothing is left."""
    cli = Cli(tmp_path / "home", tmp_path)
    (tmp_path / "inferctl.yaml").write_text(
        "name: failing\nmodels:\n  - name: demo\n    engine:\n      max_model_len: 4096\n", encoding="utf-8"
    )
    result = cli("up")
    assert result.returncode == 2, result.stderr
    first_error = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert "max_model_len (4096)" in first_error
    assert "max_model_len" in first_error.split("Fix:")[1]
    assert vllm_server_pids(cli.home) == []
    assert not list((cli.home / "platforms" / "failing" / "local").rglob("state.json"))
    status = cli("status", "--output", "json")
    assert json.loads(status.stdout)["state"] == "stopped"


def test_down_when_stopped_is_safe(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home", tmp_path)
    result = cli("down")
    assert result.returncode == 0
    assert "not running" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["home"]


def test_status_says_starting_with_the_phase_while_up_waits(tmp_path: Path) -> None:
    """A second shell during 'up': status says starting and the log's phase (before: unhealthy), endpoint says to
    wait; once 'up' returns, running. Before the server starts, while 'up' builds the demo model (a second or two,
    often too short for a status command to see), starting with up's phase (before: stopped). Its own platform:
    the shared one is already up."""
    cli = Cli(tmp_path / "home", tmp_path)
    up_err = tmp_path / "up.stderr"
    with up_err.open("w") as err:  # a file, not a pipe: nobody reads while it runs
        up = subprocess.Popen(
            [sys.executable, "-m", "inferctl", "up", "--model", "demo", "--output", "json"],
            cwd=cli.cwd,
            env=cli.env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        phases, preparing, waited = [], [], None
        deadline = time.monotonic() + 300
        while up.poll() is None and time.monotonic() < deadline:
            report = json.loads(cli("status", "--output", "json").stdout)
            assert report["state"] in {"stopped", "starting", "running"}, report  # never unhealthy
            if report["state"] == "starting" and not report["models"]:  # no server yet: 'up' prepares the model
                assert report["preparing"]["up_pid"] == up.pid, report
                preparing.append(report["preparing"]["phase"])
            elif report["state"] == "starting":
                (model,) = report["models"]
                assert model["healthy"] is False and model["uptime_s"] >= 0
                phases.append(model["startup_phase"])
                if waited is None and model["startup_phase"] in LOG_PHASES - {"starting API server"}:
                    waited = cli("endpoint")
            time.sleep(0.2)
        assert up.wait(timeout=300) == 0, up_err.read_text()
        assert LOG_PHASES.intersection(phases), phases  # a phase from the log, not only "starting"
        assert set(preparing) <= {"preparing the model", "preparing demo model"}, preparing
        assert waited is not None and waited.returncode == 2, waited
        assert "still starting" in waited.stderr and "wait for 'inferctl up' to finish" in waited.stderr
        report = json.loads(cli("status", "--output", "json").stdout)
        assert report["state"] == "running" and report["models"][0]["startup_phase"] is None, report
        state = json.loads(
            (cli.home / "platforms" / "inferctl" / "local" / "servers" / "demo-0" / "state.json").read_text()
        )
        assert state["ready_at"] >= state["started_at"]
        assert cli("endpoint").returncode == 0
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)  # as Ctrl-C: 'up' stops the server it started
            up.wait(timeout=120)
        stopped = cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert vllm_server_pids(cli.home) == []


def test_status_after_up_is_killed_while_the_server_starts(tmp_path: Path) -> None:
    """kill -9 of 'up' as soon as vLLM is started: the server goes on with nobody waiting for it. While it does not
    answer, status says unhealthy with a note and endpoint names the fix (before: starting, and 'wait for up to
    finish', for ever if it never answers); once it answers, running. down stops it. Its own platform."""
    cli = Cli(tmp_path / "home", tmp_path)
    state_file = cli.home / "platforms" / "inferctl" / "local" / "servers" / "demo-0" / "state.json"
    up = subprocess.Popen(
        [sys.executable, "-m", "inferctl", "up", "--model", "demo"],
        cwd=cli.cwd,
        env=cli.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists():  # the server was just started: importing vLLM alone takes seconds
            assert up.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(up.pid, signal.SIGKILL)
        up.wait(timeout=30)
        report = json.loads(cli("status", "--output", "json").stdout)
        assert report["state"] == "unhealthy", report
        (model,) = report["models"]
        assert model["startup_phase"] is not None and f"(pid {up.pid}) has exited" in model["note"], model
        refused = cli("endpoint")
        assert refused.returncode == 2 and "check 'inferctl logs', then 'inferctl down'" in refused.stderr, refused
        deadline = time.monotonic() + 300
        while (report := json.loads(cli("status", "--output", "json").stdout))["state"] != "running":
            assert report["state"] == "unhealthy" and time.monotonic() < deadline, report
            time.sleep(1)
        assert cli("endpoint").returncode == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        stopped = cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert vllm_server_pids(cli.home) == []
