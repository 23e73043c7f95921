"""``inferctl plan`` for autoscaled models: idle $/h and $/h at max replicas, the per-replica target and the wake
timeout, through the CLI entry point. The hub is faked as unreachable at its HTTP seam (as on this machine), so
the workshop model plans from inferctl's packaged config snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferctl.cli.app import main
from inferctl.config.models import DEFAULT_REQUEST_TOKENS
from tests.support.sizing import ALWAYS_ON_USD, GPU_NODE_VOLUME_USD, FakeHub, fake_hub

CONFIG = """\
name: genai
target: aws
models:
  - name: llama3
    source: meta-llama/Meta-Llama-3-8B-Instruct
    autoscaling: {min_replicas: 0, max_replicas: 3}
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    (tmp_path / "inferctl.yaml").write_text(CONFIG, encoding="utf-8")
    with fake_hub(FakeHub(offline=True), tmp_path / "hf-cache"):
        yield


def test_plan_json_shows_idle_and_peak_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    scaling = data["autoscaling"]
    # Idle: control plane, NAT, 2 x c6g.xlarge, the NLB and the system volumes; at most 3 GPU nodes with volumes.
    assert scaling["idle_usd_per_hour"]["on_demand"] == pytest.approx(ALWAYS_ON_USD, abs=1e-4)
    assert scaling["max_usd_per_hour"]["on_demand"] == pytest.approx(
        ALWAYS_ON_USD + 3 * (1.006 + GPU_NODE_VOLUME_USD), abs=1e-4
    )
    assert data["idle"]["on_demand_usd_per_hour"] == scaling["idle_usd_per_hour"]["on_demand"]
    assert [line["item"] for line in data["idle"]["lines"]] == [
        "EKS control plane", "NAT gateway", "system nodes", "load balancer", "storage",
    ]  # fmt: skip
    assert data["at_max_replicas"]["on_demand_usd_per_hour"] == scaling["max_usd_per_hour"]["on_demand"]
    nodes = data["system_nodes"]
    assert (nodes["instance_type"], nodes["count"], nodes["auto"]) == ("c6g.xlarge", 2, True)
    assert len(nodes["nodes"]) == 2 and sum(n["pods"] for n in nodes["nodes"]) == 25
    assert {p["name"] for p in nodes["pods"]} >= {"karpenter", "coredns", "keda-add-ons-http-interceptor"}
    (model,) = scaling["models"]
    # 24,640 KV tokens: 3 requests of the whole 8,192-token context, but requests hold far less (issue 20)
    assert (model["request_tokens"], model["target_basis"]) == (DEFAULT_REQUEST_TOKENS, "request_tokens")
    assert model["target_concurrency_per_replica"] == 24_640 // DEFAULT_REQUEST_TOKENS > 3
    placement = data["models"][0]["placement"]
    assert placement["kv_cache_tokens"] == 24_640 and placement["max_model_len"] == 8192
    # the cold start on the model's path (the hub: no cache), the same figures as the cold-start section, and the
    # wake timeout built from its high bound (stand-ins where a phase has none) x 1.5 (test_wake_estimate)
    cold_start = data["cold_start"]["llama3"]
    assert cold_start["path"] == "without_cache"
    hub = cold_start["without_cache"]
    assert model["cold_start"] == {
        "path": "without_cache",
        "low_s": hub["total_low_s"],
        "high_s": None,
        "wake_basis_s": hub["wake_basis_s"],
    }
    assert (hub["total_low_s"], hub["wake_basis_s"]) == (187.5, 714.8)
    assert (model["wake_timeout_s"], model["wake_timeout_from"]) == (1080, "estimate")
    # the request path's chain (test_request_timeouts): wake + dial + first byte, the gateway, the NLB, the client
    assert model["timeouts"] == {
        "first_byte_s": 600,
        "wake_s": 1080,
        "interceptor_s": 1740,
        "gateway_s": 1800,
        "load_balancer_idle_s": 1830,
        "client_s": 1860,
    }
    assert scaling["gpu_pool_consolidate_after"] == "5m"


def test_plan_table_says_idle_and_peak(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps at the test console's width
    assert "idle: $0.456/h (control plane 0.100 + NAT 0.050 + system nodes 0.272 + load balancer 0.022 + storage" in out
    assert "at max replicas: $3.746/h" in out
    assert "│ >= 188 s, hub │ 1080 s" in out  # the cold start on the model's path, then the wake timeout's 504
    assert "llama3's pods take the hub path; its wake timeout: 1080 s, the high bounds and the stand-ins (715 s)" in out
    assert f"{24_640 // DEFAULT_REQUEST_TOKENS} x {DEFAULT_REQUEST_TOKENS} tokens" in out


def test_fixed_replicas_add_no_autoscaling_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "inferctl.yaml").write_text(CONFIG.replace("    autoscaling: {min_replicas: 0, max_replicas: 3}\n", ""))
    assert main(["plan", "--output", "json"]) == 0
    assert "autoscaling" not in json.loads(capsys.readouterr().out)
