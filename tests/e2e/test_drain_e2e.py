"""The drain middleware inside a real vLLM server: what the cluster's pods run, on this machine.

The pod gets ``--middleware inferctl_drain.DrainMiddleware`` with the ConfigMap's copy of
render/drain_middleware.py on ``PYTHONPATH`` (render.drain). Here the local target serves the demo model with
the same argument and the same file on the same variable (through ``engine.extra_args`` / ``engine.env``), and
the preStop hook's flag files are created by hand: vLLM 0.32 must import the module through its own
``--middleware`` loader, and the answers must carry ``Connection: close`` while draining and 503 once stopping.
The flags are the pod's paths under /tmp; the test removes them. About a minute (vLLM's start).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inferctl.render.drain import MIDDLEWARE, middleware_source
from inferctl.render.drain_middleware import DRAINING, STOPPING
from tests.e2e.conftest import Cli, vllm_server_pids

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    module_dir = tmp_path_factory.mktemp("opt-inferctl")
    module, _, _ = MIDDLEWARE.rpartition(".")
    (module_dir / f"{module}.py").write_text(middleware_source(), encoding="utf-8")
    cwd = tmp_path_factory.mktemp("drain-cwd")
    config = {
        "target": "local",
        "models": [
            {
                "name": "demo",
                "source": "demo",
                "engine": {"extra_args": ["--middleware", MIDDLEWARE], "env": {"PYTHONPATH": str(module_dir)}},
            }
        ],
    }
    (cwd / "inferctl.yaml").write_text(json.dumps(config), encoding="utf-8")
    cli = Cli(tmp_path_factory.mktemp("drain-home"), cwd)
    started = cli("up", "--output", "json")
    assert started.returncode == 0, f"inferctl up failed:\n{started.stderr}"
    try:
        shown = json.loads(cli("endpoint", "--show-key", "--output", "json").stdout)["endpoints"][0]
        # Straight to the vLLM server, not through the local gateway: `Connection` is a hop-by-hop header that a
        # proxy must not forward (RFC 9110, 7.6.1), so only the server's own answers show it. On a cluster the
        # client of that hop is the gateway or the interceptor, whose pooled connection is what the close ends.
        (server,) = json.loads(cli("status", "--output", "json").stdout)["models"]
        yield server["base_url"], {"Authorization": f"Bearer {shown['api_key']}"}
    finally:
        for flag in (DRAINING, STOPPING):
            Path(flag).unlink(missing_ok=True)
        stopped = cli("down")
        assert stopped.returncode == 0, stopped.stderr
        assert vllm_server_pids(cli.home) == []


def test_vllm_loads_the_middleware_and_it_ends_connection_reuse(served: tuple[str, dict[str, str]]) -> None:
    base_url, auth = served
    body = {"model": "demo", "prompt": "hello", "max_tokens": 2}
    with httpx.Client(base_url=base_url, headers=auth, timeout=60) as client:
        before = client.post("/completions", json=body)
        assert before.status_code == 200 and "close" not in before.headers.get("connection", "")
        Path(DRAINING).touch()
        draining = client.post("/completions", json=body)
        assert draining.status_code == 200 and draining.headers["connection"] == "close"
        Path(STOPPING).touch()
        refused = client.post("/completions", json=body)
        assert refused.status_code == 503 and refused.headers["connection"] == "close"
        assert refused.json()["error"]["code"] == 503
        health = client.get(base_url.removesuffix("/v1") + "/health")
        assert health.status_code == 200
