"""docs/measurements.md from benchmarks/results/*.json: every results file rendered as tables, nothing retyped.

The files differ in shape (each benchmark writes its own), so the rendering is generic: top-level text fields
become paragraphs, scalars a key/value table, a list of records or a mapping of like records a table of its own
(one row per record, one column per leaf). A new results file appears here after ``scripts/docs --write``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.docsgen.markdown import code, header, table, text

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
_PROSE = ("what", "conditions", "method", "server", "note", "notes")
_ABOUT = ("benchmark", "measured_at", "machine")
_MAX_COLUMNS = 16


def generate() -> str:
    out = [
        header("benchmarks/results/*.json (written by the scripts in benchmarks/)"),
        "# Measurements\n",
        "Every results file under `benchmarks/results/`, as the benchmark scripts wrote it. The figures come from "
        "the 2-core, no-GPU development machine, often shared with other builds while they ran; each file records "
        "the load average, and the concept pages say what the figures mean. Re-run a script "
        "(`python benchmarks/<name>.py`) to measure your own machine.\n",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(_file_section(path, data))
    return "\n".join(out)


def _file_section(path: Path, data: Any) -> str:
    name = data.get("benchmark", path.stem) if isinstance(data, dict) else path.stem
    lines = [f"## {name}\n", f"File `benchmarks/results/{path.name}`" + _about(data) + "\n"]
    if not isinstance(data, dict):
        lines.append(_value_table("", data))
        return "\n".join(lines)
    for key in _PROSE:
        if isinstance(data.get(key), str):
            lines.append(f"**{key}**: {data[key]}\n")
    rest = {k: v for k, v in data.items() if k not in _ABOUT and not (k in _PROSE and isinstance(v, str))}
    lines += _blocks("", rest)
    return "\n".join(lines)


def _about(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    parts = []
    if data.get("measured_at"):
        parts.append(f"measured {data['measured_at']}")
    machine = data.get("machine")
    if isinstance(machine, dict):
        described = ", ".join(f"{k} {_show(v)}" for k, v in machine.items())
        parts.append(f"machine: {described}")
    return ("; " + "; ".join(parts)) if parts else ""


def _blocks(path: str, data: dict[str, Any]) -> list[str]:
    """One key/value table of every scalar (nested mappings flattened to dotted keys), then one table per list of
    records or mapping of like records."""
    scalars: list[tuple[str, Any]] = []
    tables: list[str] = []
    _walk(path, data, scalars, tables)
    head = [table(("key", "value"), [(code(k), text(_show(v))) for k, v in scalars])] if scalars else []
    return head + tables


def _walk(path: str, data: dict[str, Any], scalars: list[tuple[str, Any]], tables: list[str]) -> None:
    for key, value in data.items():
        where = _join(path, key)
        if isinstance(value, list) and not _scalar_list(value):
            records = [(str(i + 1), item) for i, item in enumerate(value)]
            if _narrow(records):
                tables.append(f"### {where}\n")
                tables.append(_records_table(records, "#"))
            else:  # too many fields for one table: each record on its own
                for label, item in records:
                    _walk(f"{where}[{label}]", item if isinstance(item, dict) else {"value": item}, scalars, tables)
        elif isinstance(value, dict) and _like_records(value) and _narrow(list(value.items())):
            tables.append(f"### {where}\n")
            tables.append(_records_table(list(value.items()), key))
        elif isinstance(value, dict):
            _walk(where, value, scalars, tables)
        else:
            scalars.append((where, value))


def _narrow(records: list[tuple[str, Any]]) -> bool:
    """Few enough columns to read as one table."""
    columns: set[str] = set()
    for _, item in records:
        columns |= set(_flatten(item)) if isinstance(item, dict) else {"value"}
    return len(columns) <= _MAX_COLUMNS


def _like_records(value: dict[str, Any]) -> bool:
    """A mapping of two or more records with the same fields (e.g. modes -> {time_to_ready_s, decode...})."""
    records = list(value.values())
    if len(records) < 2 or not all(isinstance(r, dict) for r in records):
        return False
    shapes = {tuple(_flatten(r)) for r in records}
    return len(shapes) == 1


def _records_table(rows: list[tuple[str, Any]], first: str) -> str:
    flat = [(label, _flatten(item) if isinstance(item, dict) else {"value": item}) for label, item in rows]
    columns: list[str] = []
    for _, record in flat:
        columns += [c for c in record if c not in columns]
    return table(
        (text(first), *(text(c) for c in columns)),
        [(text(label), *(text(_show(record.get(c, ""))) for c in columns)) for label, record in flat],
    )


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        where = _join(prefix, key)
        if isinstance(value, dict):
            out.update(_flatten(value, where))
        elif isinstance(value, list) and not _scalar_list(value):
            out[where] = f"{len(value)} entries (see the file)"
        else:
            out[where] = value
    return out


def _value_table(path: str, value: Any) -> str:
    return table(("key", "value"), [(code(path or "value"), text(_show(value)))])


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if not isinstance(value, str) else value
