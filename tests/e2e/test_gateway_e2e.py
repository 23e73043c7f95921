"""Two models behind one endpoint, end to end: ``examples/two-models.yaml`` (the starter model, prepared from PyPI,
and the demo) served by real vLLM servers behind the real model gateway (smg 1.13.0), through the CLI as a user
runs it. One platform for the module (each vLLM start costs 20-80 s here); the tests run in order, the ones that
change or break the platform last.

Asserted on protocol (the demo's words are noise; the starter's answer to a factual question is checked once).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Cli, vllm_server_pids

pytestmark = pytest.mark.e2e

pytest.importorskip("gguf", reason="the starter model's conversion needs the local extra: pip install -e '.[local]'")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "two-models.yaml"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """``inferctl up --config examples/two-models.yaml`` in a home of its own; ``down`` at the end, which must
    leave no process (vLLM, helpers, supervisors, the gateway)."""
    cli = Cli(tmp_path_factory.mktemp("gateway-home"), tmp_path_factory.mktemp("gateway-cwd"))
    started = cli("up", "--config", str(EXAMPLE), timeout=1500, HF_HUB_OFFLINE="1")
    assert started.returncode == 0, f"inferctl up failed:\n{started.stderr}"
    yield cli
    stopped = cli("down", "--config", str(EXAMPLE))
    assert stopped.returncode == 0, stopped.stderr
    assert vllm_server_pids(cli.home) == [], "processes survived 'inferctl down'"


def _run(cli: Cli, *args: str, config: Path = EXAMPLE) -> Any:
    return cli(*args, "--config", str(config), HF_HUB_OFFLINE="1")


def _status(cli: Cli) -> dict[str, Any]:
    result = _run(cli, "status", "--output", "json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _endpoint(cli: Cli) -> tuple[str, str]:
    shown = _run(cli, "endpoint", "--show-key", "--output", "json")
    assert shown.returncode == 0, shown.stderr
    endpoints = json.loads(shown.stdout)["endpoints"]
    (base,) = {e["base_url"] for e in endpoints}  # one URL for every model
    (key,) = {e["api_key"] for e in endpoints}
    return base, key


def _chat(base: str, model: str, key: str | None, max_tokens: int = 4) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": max_tokens}
    return httpx.post(f"{base}/chat/completions", json=body, headers=headers, timeout=120)


def test_one_url_and_key_list_both_models(platform: Cli) -> None:
    base, key = _endpoint(platform)
    listed = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
    assert listed["object"] == "list" and sorted(m["id"] for m in listed["data"]) == ["demo", "smollm2"]
    report = _status(platform)
    assert report["state"] == "running", report
    assert report["gateway"]["state"] == "healthy" and report["gateway"]["base_url"] == base
    assert report["gateway"]["models"] == ["demo", "smollm2"]
    rows = {row["server"]: row for row in report["models"]}
    assert sorted(rows) == ["demo-0", "smollm2-0"]
    for row in rows.values():
        assert row["state"] == "healthy" and row["routable"] is True and row["pid"] > 0
        assert row["requests_running"] == 0 and 0 <= row["kv_cache_usage_pct"] <= 100
        assert row["base_url"] != base  # each server on its own port, behind the gateway


def test_requests_are_routed_by_model(platform: Cli) -> None:
    """Each model's requests reach its own server (vLLM's own token counters say which), through the one URL."""
    base, key = _endpoint(platform)
    before = {row["server"]: row["generation_tokens_total"] for row in _status(platform)["models"]}
    reply = _chat(base, "demo", key, max_tokens=5)
    assert reply.status_code == 200 and reply.json()["model"] == "demo"
    after = {row["server"]: row["generation_tokens_total"] for row in _status(platform)["models"]}
    assert after["demo-0"] > before["demo-0"] and after["smollm2-0"] == before["smollm2-0"]
    answered = _run(platform, "chat", "--model", "smollm2", "What is the capital of France?", "--temperature", "0",
                    "--max-tokens", "32")  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    assert "Paris" in answered.stdout
    final = {row["server"]: row for row in _status(platform)["models"]}
    assert final["smollm2-0"]["generation_tokens_total"] > after["smollm2-0"]
    assert final["smollm2-0"]["requests_routed"] >= 1 and final["demo-0"]["requests_routed"] >= 1


def test_a_wrong_or_missing_key_is_401(platform: Cli) -> None:
    base, _ = _endpoint(platform)
    for key in (None, "sk-wrong"):
        refused = _chat(base, "smollm2", key)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key", refused.text


def test_an_unknown_model_is_404_and_the_cli_names_the_served_ones(platform: Cli) -> None:
    base, key = _endpoint(platform)
    unknown = _chat(base, "no-such-model", key)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found", unknown.text
    refused = _run(platform, "chat", "--model", "no-such-model", "hi")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "serves demo, smollm2, not 'no-such-model'" in line
    which = _run(platform, "chat", "hi")
    assert which.returncode == 2 and "choose one with --model NAME" in which.stderr


def test_a_second_up_starts_what_is_new_stops_what_is_gone(platform: Cli, tmp_path: Path) -> None:
    """The model list changes: demo goes, tiny (the demo's weights under another name) comes. The starter's server
    and the gateway run on untouched; demo's server is stopped; the gateway routes tiny and no longer demo."""
    before = _status(platform)
    pids = {row["server"]: row["pid"] for row in before["models"]}
    changed = tmp_path / "changed.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("  - name: demo ", "  - name: tiny ")
    assert "name: tiny" in text
    changed.write_text(text, encoding="utf-8")
    again = _run(platform, "up", config=changed)
    assert again.returncode == 0, again.stderr
    after = _status(platform)
    rows = {row["server"]: row for row in after["models"]}
    assert sorted(rows) == ["smollm2-0", "tiny-0"] and after["state"] == "running", after
    assert rows["smollm2-0"]["pid"] == pids["smollm2-0"]  # left running
    assert after["gateway"]["pid"] == before["gateway"]["pid"]
    assert not any(pid == pids["demo-0"] for pid in vllm_server_pids(platform.home))
    base, key = _endpoint(platform)
    assert _chat(base, "tiny", key).status_code == 200
    assert _chat(base, "demo", key).status_code == 404


def test_a_dead_model_server_fails_only_its_model(platform: Cli) -> None:
    """kill -9 of one model's server (as the OOM killer would): its model answers an OpenAI-shaped error, the
    other model keeps serving, and status says degraded, which server died and how (SIGKILL, its last words)."""
    base, key = _endpoint(platform)
    rows = {row["server"]: row for row in _status(platform)["models"]}
    victim = rows["tiny-0"]["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (report := _status(platform))["state"] != "degraded":
        assert time.monotonic() < deadline, report
        time.sleep(0.5)
    dead = next(row for row in report["models"] if row["server"] == "tiny-0")
    assert dead["state"] == "dead" and "killed by SIGKILL" in dead["note"]
    (crash,) = report["crashes"]
    assert (crash["server"], crash["pid"], crash["signal"]) == ("tiny-0", victim, "SIGKILL")
    assert crash["last_log_lines"]
    failed = _chat(base, "tiny", key)
    assert failed.status_code >= 500 and "error" in failed.json(), failed.text  # from the gateway, OpenAI-shaped
    assert _chat(base, "smollm2", key).status_code == 200
    shown = _run(platform, "status")
    assert shown.returncode == 0 and "killed by SIGKILL" in shown.stdout and "degraded" in shown.stdout
