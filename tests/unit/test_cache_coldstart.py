"""The cold-start estimate: the documented model's arithmetic and its place in ``plan``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferctl.cache.coldstart import ENGINE_S, estimate_cold_start, total
from inferctl.cli.app import main


def _phase(phases: list, name: str) -> tuple[float, float | None]:
    found = next(p for p in phases if p.phase == name)
    return found.low_s, found.high_s


def test_streaming_is_bounded_by_the_nic_and_the_benchmark() -> None:
    # g5.xlarge: baseline 2,500 Mbit/s (catalog), burst 10 Gbit/s; 16 GB of weights.
    low, high = _phase(estimate_cold_start("g5.xlarge", 2500, 16.0, cache=True), "weights streamed from S3")
    assert low == pytest.approx(16 * 8000 / 10_000) and high == pytest.approx(16 * 8000 / 2500)
    # A 40 Gbit/s instance reaches the Run:ai benchmark's own figure (4.88 s for 15 GB), no faster.
    low, _ = _phase(estimate_cold_start("g5.12xlarge", 40_000, 15.0, cache=True), "weights streamed from S3")
    assert low == pytest.approx(4.88)


def test_the_cache_removes_the_download_and_the_disk_read() -> None:
    hub = estimate_cold_start("g5.xlarge", 2500, 16.0, cache=False)
    cached = estimate_cold_start("g5.xlarge", 2500, 16.0, cache=True)
    assert {p.phase for p in hub} - {p.phase for p in cached} == {
        "weights downloaded from the hub",
        "weights loaded from disk",
    }
    assert total(cached)[0] < total(hub)[0]
    assert total(hub)[1] is None  # the hub's throughput has no published bound
    assert _phase(cached, "engine ready")[0] == pytest.approx(23.18 - 4.88) == ENGINE_S
    assert all(p.source for p in hub + cached)


def test_plan_json_carries_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inferctl.yaml"
    path.write_text("target: aws\nmodels:\n  - name: llama3\n    source: meta-llama/Meta-Llama-3-8B-Instruct\n")
    assert main(["plan", "-c", str(path), "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["cold_start"]["llama3"]
    assert report["instance_type"] == "g5.xlarge"
    assert report["with_cache"]["total_low_s"] < report["without_cache"]["total_low_s"]
