"""Pricing (flag, local, a cluster placement) and the report built from a run: cost per 1M tokens, notes,
table rows, the PNG plot, and that the API key appears nowhere in the output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inferctl.bench import (
    BenchRun,
    BenchSpec,
    Level,
    LevelResult,
    Price,
    check_plot_path,
    flag_price,
    local_price,
    placement_price,
    report_dict,
    table_rows,
    target_price,
    write_plot,
)
from inferctl.bench.stats import RequestTiming, Slo, level_metrics
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import MissingDependencyError, UserError
from inferctl.sizing.placement import Placement, PodResources


def _placement(*, estimate: bool = True) -> Placement:
    return Placement(
        model="llama",
        instance_type="g5.xlarge",
        gpu_name="A10G",
        gpu_memory_gib=22.0,
        tensor_parallel_size=1,
        max_model_len=8192,
        gpu_memory_utilization=0.9,
        kv_cache_tokens=50_000,
        max_concurrency=6.1,
        weight_gib=15.0,
        kv_bytes_per_token=131072,
        resources=PodResources(gpus=1, cpu="3", memory="12Gi", ephemeral_storage="80Gi", shm="4Gi"),
        on_demand_usd_per_hour=1.006,
        spot_usd_per_hour=0.4024,
        spot_is_estimate=estimate,
        price_region="us-east-1",
    )


def test_placement_price_follows_capacity_type_and_replicas() -> None:
    spot = placement_price(_placement(), "spot", replicas=2)
    assert spot.usd_per_hour == pytest.approx(0.8048)
    assert "2 x g5.xlarge spot (estimated from on-demand)" in spot.basis
    on_demand = placement_price(_placement(), "on-demand", replicas=1)
    assert on_demand.usd_per_hour == pytest.approx(1.006)
    assert "on-demand" in on_demand.basis and "us-east-1" in on_demand.basis
    live_spot = placement_price(_placement(estimate=False), "spot", replicas=0)  # scaled to zero: price one
    assert live_spot.usd_per_hour == pytest.approx(0.4024) and "estimated" not in live_spot.basis


def test_local_target_is_free_and_flag_wins() -> None:
    config = PlatformConfig()
    assert target_price(config, config.models[0]) == local_price()
    assert local_price().usd_per_hour == 0.0 and "--price" in local_price().basis
    assert flag_price(2.5) == Price(2.5, "--price")


def test_cluster_target_prices_the_sized_instance() -> None:
    """The real sizing and catalog on the offline demo model: the pool's first capacity type sets the price."""
    spot = PlatformConfig(target="aws", models=[ModelDeployment(name="demo", replicas=2)])
    price = target_price(spot, spot.models[0])
    assert price.usd_per_hour is not None and price.usd_per_hour > 0
    assert price.basis.startswith("2 x ") and " spot" in price.basis
    on_demand = spot.model_copy(deep=True)
    on_demand.pools.gpu.capacity_types = ["on-demand", "spot"]
    dearer = target_price(on_demand, on_demand.models[0])
    assert "on-demand" in dearer.basis
    assert dearer.usd_per_hour is not None and dearer.usd_per_hour > price.usd_per_hour


def test_cluster_target_with_an_unsizable_model_is_unknown_not_an_error(tmp_path: Path) -> None:
    config = PlatformConfig(target="kubernetes", models=[ModelDeployment(name="m", source=str(tmp_path))])
    price = target_price(config, config.models[0])  # a directory without config.json cannot be sized
    assert price.usd_per_hour is None and "--price" in price.basis


def test_cluster_target_without_the_model_is_unknown() -> None:
    price = target_price(PlatformConfig(target="kubernetes"), None)
    assert price.usd_per_hour is None and "--price" in price.basis


def _run(*, failed: int = 0, short: int = 0, usage: int = 2, slo: Slo | None = None) -> BenchRun:
    spec = BenchSpec(
        base_url="http://127.0.0.1:8000/v1",
        model="demo",
        api="completions",
        levels=(Level(concurrency=1), Level(concurrency=4)),
        api_key="sk-never-shown",
        requests=2,
        slo=slo,
    )
    timings = [
        RequestTiming(0.1, 1.1, (0.1,) * 10, input_tokens=100, output_tokens=11),
        RequestTiming(0.3, 1.3, (0.1,) * 10, input_tokens=100, output_tokens=11),
    ]
    levels = []
    for level, duration in zip(spec.levels, (2.0, 1.0), strict=True):
        metrics = level_metrics(timings, failed=failed, duration_s=duration, slo=slo)
        errors = {"HTTP 500": failed} if failed else {}
        levels.append(LevelResult(level, 2 + failed, metrics, errors, {}, usage, short))
    return BenchRun(spec, "random tokens, input 100 (approximate: ...)", False, tuple(levels), 2)


def test_report_has_throughput_latency_and_cost_per_level() -> None:
    report = report_dict(_run(), Price(3.6, "--price"))
    first, second = report["levels"]
    assert first["label"] == "concurrency 1" and second["concurrency"] == 4
    assert first["output_throughput"] == pytest.approx(11.0)  # 22 tokens / 2 s
    assert second["output_throughput"] == pytest.approx(22.0)
    # $3.60/h = $0.001/s; at 11 tok/s a million tokens take 90,909 s -> $90.9091
    assert first["usd_per_1m_output_tokens"] == pytest.approx(90.9091, abs=1e-4)
    assert second["usd_per_1m_total_tokens"] == pytest.approx(1e6 / 222 * 0.001, abs=1e-4)
    assert first["ttft_ms"] == {"mean": 200.0, "std": 100.0, "p50": 200.0, "p90": 280.0, "p99": 298.0}
    assert first["tpot_ms"]["p50"] == pytest.approx(100.0)
    assert first["output_tokens_from"] == "usage"
    assert report["price"] == {"usd_per_hour": 3.6, "basis": "--price"}
    assert report["workload"]["arrivals"].startswith("back to back")


def test_report_notes_explain_what_to_distrust() -> None:
    report = report_dict(_run(failed=1, short=2, usage=1), local_price(), notes=["endpoint note"])
    notes = report["notes"]
    assert notes[0] == "endpoint note"
    assert any("approximate" in n for n in notes)
    assert any("shorter than asked" in n for n in notes)
    assert any("counted as chunks" in n for n in notes)
    assert any("1 of 3 requests failed (HTTP 500 x1)" in n for n in notes)
    assert report["levels"][0]["usd_per_1m_output_tokens"] == 0.0


def test_report_never_contains_the_api_key() -> None:
    assert "sk-never-shown" not in json.dumps(report_dict(_run(), local_price()))


def test_table_rows_show_goodput_only_with_an_slo() -> None:
    plain = table_rows(report_dict(_run(), local_price()))
    assert "goodput" not in plain[0]
    assert (plain[0]["level"], plain[0]["done"]) == ("c=1", "2")
    assert (plain[0]["TTFT p50"], plain[0]["TTFT p99"]) == ("200.0", "298.0")
    with_slo = table_rows(report_dict(_run(slo=Slo(ttft_s=0.2), failed=1), Price(None, "unknown")))
    assert with_slo[1]["done"] == "2 +1 failed"
    assert with_slo[0]["goodput"] == "0.50"  # one of two requests in 2 s
    assert plain[0]["$/1M out"] == "0.000" and plain[0]["tok/s out"] == "11"
    assert with_slo[0]["$/1M out"] is None


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = write_plot(report_dict(_run(), local_price()), tmp_path / "sub" / "bench.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserError, match=r"\.png"):
        write_plot(report_dict(_run(), local_price()), tmp_path / "bench.jpg")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    with pytest.raises(UserError, match=r"cannot write .*afile/bench\.png \(.*\); choose another --plot"):
        write_plot(report_dict(_run(), local_price()), tmp_path / "afile" / "bench.png")


def test_plot_without_matplotlib_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'inferctl\[bench\]'"):
        write_plot(report_dict(_run(), local_price()), tmp_path / "bench.png")


def test_plot_path_is_checked_before_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\.png"):
        check_plot_path(tmp_path / "bench.svg")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    with pytest.raises(UserError, match=r"afile is not a writable folder\); choose another --plot"):
        check_plot_path(tmp_path / "afile" / "sub" / "bench.png")
    check_plot_path(tmp_path / "new" / "sub" / "bench.png")  # missing folders are created when writing
    assert not (tmp_path / "new").exists()  # ...not before the run
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # as if matplotlib were not installed
    with pytest.raises(MissingDependencyError, match="matplotlib"):
        check_plot_path(tmp_path / "bench.png")
