"""The local target's RAM check: the same profile, weights + KV space + runtime against available memory."""

from __future__ import annotations

from inferctl.catalog import load_profile
from inferctl.config.models import EngineSettings
from inferctl.sizing import available_memory_bytes, host_memory_warning, local_report
from inferctl.sizing.memory import GIB
from tests.support.sizing import LLAMA_3_8B, LLAMA_3_70B, fixture_profile

ENGINE = EngineSettings()


def test_demo_fits_a_small_machine() -> None:
    assert host_memory_warning(load_profile("demo"), ENGINE, 8 * GIB) is None


def test_llama_70b_does_not_fit_24_gib() -> None:
    warning = host_memory_warning(fixture_profile(LLAMA_3_70B), ENGINE, 24 * GIB)
    # 141,107,412,992 B = 131.4 GiB weights + 1 GiB KV (default) + 3 GiB runtime = 135.4 GiB.
    assert warning is not None and "\n" not in warning
    assert "135.4 GiB" in warning and "131.4 GiB weights" in warning and "24.0 GiB available" in warning


def test_kv_space_counts() -> None:
    profile = fixture_profile(LLAMA_3_8B)  # 14.96 GiB weights + 3 GiB runtime = 17.96 GiB before KV
    assert host_memory_warning(profile, ENGINE, 20 * GIB, kv_cache_bytes=GIB) is None
    assert host_memory_warning(profile, ENGINE, 20 * GIB, kv_cache_bytes=4 * GIB) is not None
    # An explicit float32 dtype doubles the weights (32.8 GiB).
    assert host_memory_warning(profile, EngineSettings(dtype="float32"), 20 * GIB) is not None


def test_report_and_available_memory() -> None:
    assert available_memory_bytes() > 0
    report = local_report(fixture_profile(LLAMA_3_8B), ENGINE, available_bytes=64 * GIB)
    assert report.fits and report.warning is None and report.ram_available_gib == 64.0
    assert report.ram_needed_gib == round(16_060_522_496 / GIB + 1 + 3, 2)
    # The JSON of 'plan --target local --output json' keeps the keys it had as a dict.
    assert list(report.to_dict()) == [
        "ram_needed_gib", "weights_gib", "kv_cache_gib", "runtime_gib", "ram_available_gib", "fits", "warning",
    ]  # fmt: skip
