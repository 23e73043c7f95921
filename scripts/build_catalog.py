#!/usr/bin/env python3
"""Regenerate inferctl's packaged EC2 catalog snapshot from the shared instance table.

Source: ``<repo>/../shared/data/aws-instance-types.csv`` (Karpenter's generated price table, us-east-1 on-demand,
2026-07-20). The snapshot keeps every instance type (the nodes view looks up whatever Karpenter launched) and only
the columns inferctl reads, so the package stays small. Usage::

    python scripts/build_catalog.py [--source PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "aws-instance-types.csv"
DEFAULT_OUT = REPO / "src" / "inferctl" / "catalog" / "data" / "instances.csv"
SNAPSHOT_DATE = "2026-07-20"

# output column <- source column
COLUMNS = {
    "instance_type": "instance_type",
    "family": "family",
    "category": "category",
    "arch": "arch",
    "vcpu": "vcpu",
    "memory_mib": "memory_mib",
    "gpu_count": "gpu_count",
    "gpu_name": "gpu_name",
    "gpu_manufacturer": "gpu_manufacturer",
    "gpu_memory_mib": "gpu_memory_mib",
    "local_nvme_gib": "local_nvme_gib",
    "network_bandwidth_mbps": "network_bandwidth_mbps",
    "allocatable_cpu_millicores": "allocatable_cpu",
    "allocatable_memory_mib": "allocatable_memory",
    "max_pods": "max_pods",
    "on_demand_usd_per_hour": "on_demand_usd_per_hour_us_east_1",
}


def _millicores(value: str) -> str:
    return value[:-1] if value.endswith("m") else str(int(float(value) * 1000))


def _mebibytes(value: str) -> str:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return str(int(float(value[: -len(suffix)]) * factor))
    return str(int(int(value) / 2**20))


def build(source: Path) -> str:
    out = io.StringIO()
    out.write(
        "# inferctl EC2 catalog snapshot. Source: Karpenter's generated instance-type and price table,\n"
        f"# {SNAPSHOT_DATE}, us-east-1 on-demand USD per hour (via ../shared/data/aws-instance-types.csv).\n"
        "# gpu_memory_mib is per GPU; allocatable_* are Karpenter's allocatable values for a node.\n"
        "# Regenerate: python scripts/build_catalog.py\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    with source.open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: (r["family"], float(r["vcpu"]), r["instance_type"]))
    for row in rows:
        values = {out_col: (row[src] or "").strip() for out_col, src in COLUMNS.items()}
        values["allocatable_cpu_millicores"] = _millicores(values["allocatable_cpu_millicores"])
        values["allocatable_memory_mib"] = _mebibytes(values["allocatable_memory_mib"])
        writer.writerow(values.values())
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source} not found; pass --source PATH", file=sys.stderr)
        return 2
    text = build(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 5} instance types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
