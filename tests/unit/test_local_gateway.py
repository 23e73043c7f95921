"""The local target's gateway, for real: the pinned smg (1.13.0) started by the target's own code in front of
model servers, what clients get through it and what ``status`` and ``down`` make of it.

The model servers are stand-ins at the process-runner seam (tests/support/local.py: a process named like vLLM's
server and an OpenAI-compatible stub on loopback), since a real vLLM start costs 20-80 s here; tests/e2e runs the
same checks against real vLLM servers. What smg answers is smg's own behaviour, measured in
docs/gateway-choice.md: an unknown model 404 ``model_not_found`` (smg ``model_gateway/src/routers``), a missing or
wrong key 401 ``invalid_api_key`` (``middleware/auth.rs``), ``/v1/models`` public (``server.rs``, public_routes).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from inferctl.config import PlatformConfig
from inferctl.errors import NotFoundError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.targets.local import LocalTarget, process
from inferctl.targets.local.gateway import Gateway, Route, write_manifest
from inferctl.targets.local.server import ModelServer
from tests.support.bench import StubServer
from tests.support.local import local_dir, running_gateway, server_standin, server_state, write_server

KEY = "sk-test-gateway"


def _chat(base_url: str, model: str, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.fixture
def two_models(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, StubServer]]]:
    """Models ``a`` and ``b``, one stand-in server each, behind the real gateway with the platform key."""
    monkeypatch.setenv("INFERCTL_API_KEY", KEY)
    with ExitStack() as stack:
        stubs, routes = {}, []
        for name in ("a", "b"):
            stub = stack.enter_context(StubServer(model=name, api_key=KEY))
            pid = stack.enter_context(server_standin())
            state = write_server(isolated_home, server_state(pid, stub.port, model=name, api_key_required=True))
            stubs[name] = stub
            routes.append(Route(state.name, state.base_url, name))
        gateway = stack.enter_context(running_gateway(isolated_home, routes, api_key=KEY))
        yield gateway.base_url, stubs


def test_one_endpoint_routes_by_model_and_lists_every_model(two_models: tuple[str, dict[str, StubServer]]) -> None:
    base, stubs = two_models
    for name in ("b", "a", "b"):
        assert _chat(base, name).status_code == 200
    assert [body["model"] for body in stubs["a"].bodies] == ["a"]
    assert [body["model"] for body in stubs["b"].bodies] == ["b", "b"]
    listed = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert listed["object"] == "list" and sorted(m["id"] for m in listed["data"]) == ["a", "b"]
    # smg lists the models without a key (a public route in smg 1.13.0: the gap docs/guides/local.md names).
    assert httpx.get(f"{base}/v1/models").status_code == 200


def test_a_wrong_or_missing_key_is_refused_at_the_gateway(two_models: tuple[str, dict[str, StubServer]]) -> None:
    base, stubs = two_models
    for key in (None, "sk-wrong"):
        refused = _chat(base, "a", key=key)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
    assert stubs["a"].bodies == []  # refused before any server saw it


def test_an_unknown_model_is_404_and_chat_names_the_served_ones(
    two_models: tuple[str, dict[str, StubServer]],
) -> None:
    """smg's 404 names the model asked for but not those it serves; ``inferctl chat`` adds them from /v1/models."""
    from openai import OpenAI

    from inferctl.cli.chat import _stream_reply

    base, _ = two_models
    unknown = _chat(base, "nope")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    client = OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(NotFoundError) as missing:
        _stream_reply(client, "nope", [{"role": "user", "content": "hi"}], 2, None)
    assert "does not serve model 'nope'; it serves a, b" in missing.value.message


def test_a_dead_server_fails_only_its_model_and_status_names_it(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server b-0 dies (its process killed, nothing listening on its port any more): requests for b get an
    OpenAI-shaped error from the gateway, requests for a are served, and status says degraded, which server died
    and how."""
    monkeypatch.setenv("INFERCTL_API_KEY", KEY)
    with ExitStack() as stack:
        stub_a = stack.enter_context(StubServer(model="a", api_key=KEY))
        stub_b = StubServer(model="b", api_key=KEY).__enter__()
        pid_a = stack.enter_context(server_standin())
        victim = stack.enter_context(server_standin())
        a = write_server(isolated_home, server_state(pid_a, stub_a.port, model="a", api_key_required=True))
        b = write_server(isolated_home, server_state(victim, stub_b.port, model="b", api_key_required=True))
        routes = [Route(a.name, a.base_url, "a"), Route(b.name, b.base_url, "b")]
        gateway = stack.enter_context(running_gateway(isolated_home, routes, api_key=KEY))
        os.kill(victim, signal.SIGKILL)
        stub_b.__exit__(None, None, None)

        failed = _chat(gateway.base_url, "b")
        assert failed.status_code in (500, 502, 503), failed.text
        assert failed.json()["error"]["code"] in {"call_upstream_connection_failed", "no_available_workers"}
        assert _chat(gateway.base_url, "a").status_code == 200

        report = LocalTarget(PlatformConfig(), Home.from_env()).status().to_dict()
    assert report["state"] == "degraded"
    rows = {row["server"]: row for row in report["models"]}
    assert rows["a-0"]["state"] == "healthy" and rows["a-0"]["routable"] is True
    assert rows["b-0"]["state"] == "dead" and "killed" in rows["b-0"]["note"]
    assert [crash["server"] for crash in report["crashes"]] == ["b-0"]
    assert report["gateway"]["state"] == "healthy"


def test_down_stops_the_gateway_and_every_server(isolated_home: Path) -> None:
    """Servers and gateway started the way ``up`` starts them (supervised, each its own process group): ``down``
    stops them side by side, leaves no process, and clears their records (the logs stay)."""
    script = "import time; print('INFO up', flush=True); time.sleep(120)"
    started = []
    for name in ("a", "b"):
        files = ModelServer(local_dir(isolated_home) / "servers" / f"{name}-0")
        argv = [sys.executable, "-c", script, "vllm.entrypoints.openai.api_server"]
        child, state = files.start(argv, dict(os.environ), server_state(0, 1, model=name, log_path=str(files.log_path)))
        started.append((child, state))
    gateway = Gateway(local_dir(isolated_home) / "gateway")
    write_manifest(gateway.manifest_path, [])
    gw_child, gw_state = gateway.start("127.0.0.1", process.free_port("127.0.0.1"),
                                       process.free_port("127.0.0.1"), dict(os.environ))  # fmt: skip
    gateway.wait_serving(gw_state, gw_child)
    target = LocalTarget(PlatformConfig(), Home.from_env())
    assert target.status().to_dict()["gateway"]["state"] == "healthy"

    target.down(NullReporter())
    for child, state in [*started, (gw_child, gw_state)]:
        child.wait(timeout=10)
        assert process.group_members(state.pgid) == []
    assert target.status().to_dict() == {"target": "local", "platform": "inferctl", "state": "stopped", "models": []}
    assert not gateway.state_path.exists() and not gateway.manifest_path.exists()
    assert (local_dir(isolated_home) / "servers" / "a-0" / "server.log").read_text() == "INFO up\n"
    with pytest.raises(NotFoundError, match="not running locally"):
        target.endpoints()
