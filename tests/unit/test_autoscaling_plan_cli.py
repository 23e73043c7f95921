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
from tests.support.sizing import FakeHub, fake_hub

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
    fixed = 0.1 + 2 * 0.192  # EKS control plane + 2 x m5.xlarge: the idle platform
    assert scaling["idle_usd_per_hour"]["on_demand"] == pytest.approx(fixed)
    assert scaling["max_usd_per_hour"]["on_demand"] == pytest.approx(fixed + 3 * 1.006)
    (model,) = scaling["models"]
    # 24,640 KV tokens: 3 requests of the whole 8,192-token context, but requests hold far less (issue 20)
    assert (model["request_tokens"], model["target_basis"]) == (DEFAULT_REQUEST_TOKENS, "request_tokens")
    assert model["target_concurrency_per_replica"] == 24_640 // DEFAULT_REQUEST_TOKENS > 3
    placement = data["models"][0]["placement"]
    assert placement["kv_cache_tokens"] == 24_640 and placement["max_model_len"] == 8192
    assert (model["cold_start_estimate_s"], model["wake_timeout_s"]) == (433, 660)
    # the request path's chain (test_request_timeouts): wake + dial + first byte, the NLB, the client
    assert model["timeouts"] == {
        "first_byte_s": 600,
        "wake_s": 660,
        "interceptor_s": 1320,
        "load_balancer_idle_s": 1350,
        "client_s": 1380,
    }
    assert scaling["gpu_pool_consolidate_after"] == "5m"


def test_plan_table_says_idle_and_peak(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "idle: $0.484/h" in out
    assert "at max replicas: $3.502/h" in out
    assert "504 at 660 s" in out
    assert f"{24_640 // DEFAULT_REQUEST_TOKENS} x {DEFAULT_REQUEST_TOKENS} tokens" in out


def test_fixed_replicas_add_no_autoscaling_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "inferctl.yaml").write_text(CONFIG.replace("    autoscaling: {min_replicas: 0, max_replicas: 3}\n", ""))
    assert main(["plan", "--output", "json"]) == 0
    assert "autoscaling" not in json.loads(capsys.readouterr().out)
