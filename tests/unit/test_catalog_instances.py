"""The packaged EC2 catalog: facts, lookups, spot estimates, and agreement with the shared source table."""

from __future__ import annotations

import csv
import sys
from importlib import resources

import pytest

from inferctl.catalog import (
    SNAPSHOT_DATE,
    all_instances,
    get_instance,
    gpu_families,
    instances_in_families,
    spot_estimate_usd_per_hour,
)
from inferctl.errors import NotFoundError
from tests.support.sizing import REPO, shared_dir


def test_g5_xlarge_facts() -> None:
    g5 = get_instance("g5.xlarge")
    assert (g5.family, g5.arch, g5.vcpu, g5.memory_mib) == ("g5", "amd64", 4, 16384)
    assert (g5.gpu_count, g5.gpu_label, g5.gpu_memory_mib) == (1, "A10G", 22888)
    # Karpenter-allocatable: 3920m CPU, 14162Mi memory (the table's strings, parsed).
    assert (g5.allocatable_cpu_millicores, g5.allocatable_memory_mib) == (3920, 14162)
    assert g5.on_demand_usd_per_hour == pytest.approx(1.006)
    assert g5.serves_vllm_cuda and g5.gpu_compute_capability == 8.6


def test_every_row_is_packaged() -> None:
    instances = all_instances()
    assert len(instances) == 1363
    assert len({inst.name for inst in instances}) == 1363
    assert get_instance("m5.xlarge").gpu_count == 0


def test_unknown_type_suggests_the_closest() -> None:
    with pytest.raises(NotFoundError, match=r"did you mean g5\.xlarge"):
        get_instance("g5.xlarg")


def test_families_are_exact() -> None:
    # g5 must not pull in the arm64 g5g family.
    assert {inst.family for inst in instances_in_families(["g5"])} == {"g5"}
    assert [inst.name for inst in instances_in_families(["p4d"])] == ["p4d.24xlarge"]


def test_only_nvidia_x86_gpus_serve_the_cuda_image() -> None:
    assert not get_instance("g4ad.xlarge").serves_vllm_cuda  # AMD Radeon
    assert not get_instance("g5g.xlarge").serves_vllm_cuda  # arm64 T4g
    assert get_instance("p5.48xlarge").serves_vllm_cuda
    families = gpu_families()
    assert "g5" in families and "g4ad" not in families and "g5g" not in families
    assert families[0] == "g4dn"  # g4dn.xlarge ($0.526) is the cheapest CUDA GPU instance


def test_spot_estimate_uses_the_family_discount() -> None:
    # g5: default 60% off -> 1.006 x 0.4; p5: 40% off -> 55.04 x 0.6.
    assert spot_estimate_usd_per_hour(get_instance("g5.xlarge")) == pytest.approx(0.4024)
    assert spot_estimate_usd_per_hour(get_instance("p5.48xlarge")) == pytest.approx(33.024)


def test_unpriced_type_has_no_spot_estimate() -> None:
    p5e = get_instance("p5e.48xlarge")
    assert p5e.on_demand_usd_per_hour is None
    with pytest.raises(NotFoundError, match="no price"):
        spot_estimate_usd_per_hour(p5e)


def test_snapshot_names_source_and_date() -> None:
    text = resources.files("inferctl.catalog").joinpath("data/instances.csv").read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "Karpenter" in header and SNAPSHOT_DATE in header and "us-east-1" in header


def test_snapshot_matches_the_shared_table() -> None:
    """Every packaged value equals the shared source (and rebuilding gives the same file)."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared (the source table) is not next to this checkout")
    source = shared / "data" / "aws-instance-types.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        rows = {row["instance_type"]: row for row in csv.DictReader(handle)}
    assert len(rows) == len(all_instances())
    for inst in all_instances():
        row = rows[inst.name]
        assert inst.vcpu == int(row["vcpu"]) and inst.memory_mib == int(row["memory_mib"])
        assert inst.gpu_count == int(row["gpu_count"])
        assert inst.gpu_memory_mib == int(row["gpu_memory_mib"] or 0)
        assert f"{inst.allocatable_cpu_millicores}m" == row["allocatable_cpu"]
        assert f"{inst.allocatable_memory_mib}Mi" == row["allocatable_memory"]
        price = row["on_demand_usd_per_hour_us_east_1"].strip()
        assert inst.on_demand_usd_per_hour == (float(price) if price else None)

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_catalog
    finally:
        sys.path.pop(0)
    packaged = resources.files("inferctl.catalog").joinpath("data/instances.csv").read_text(encoding="utf-8")
    assert build_catalog.build(source) == packaged
