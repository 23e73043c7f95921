"""checkov over everything ``inferctl render`` produces: zero failed checks, every skip listed.

checkov lives in its own virtual environment (its pins conflict with the project's): ``$INFERCTL_CHECKOV`` or
``<repo>/.venv-checkov/bin/checkov``. Absent, the test is skipped, except under CI (env ``CI`` set) where it
fails. Skips come from ``checkov-skips.md``; the test puts them on copies of the objects as checkov's own
``checkov.io/skipN`` annotations (the manifests users get stay clean), so one run reports which skips were
used and a listed skip that no longer fires fails the test too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from inferctl.render import render_platform, write_directory
from tests.support.render import REPO, placements_for, variant_configs

SKIPS_FILE = REPO / "checkov-skips.md"
DEVICE_PLUGIN = ("DaemonSet", "nvidia-device-plugin")
SECTIONS = {"device plugin": "device-plugin", "model gateway": "gateway"}  # heading words -> scope; else "all"


def checkov_binary() -> Path:
    override = os.environ.get("INFERCTL_CHECKOV")
    path = Path(override) if override else REPO / ".venv-checkov" / "bin" / "checkov"
    if not path.is_file():
        how = "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov"
        if os.environ.get("CI"):
            pytest.fail(f"checkov not found at {path}; CI must install it: {how}")
        pytest.skip(f"checkov not found at {path} (install: {how}, or set INFERCTL_CHECKOV)")
    return path


def listed_skips() -> dict[str, dict[str, str]]:
    """``{"all": {check: reason}, "device-plugin": {...}, "gateway": {...}}`` from the tables of checkov-skips.md."""
    sections: dict[str, dict[str, str]] = {}
    current: str | None = None
    for line in SKIPS_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = next((scope for words, scope in SECTIONS.items() if words in line.lower()), "all")
            sections.setdefault(current, {})
        match = re.match(r"^\|\s*(CKV2?_[A-Z0-9_]+)\s*\|\s*(.+?)\s*\|$", line)
        if match and current:
            sections[current][match.group(1)] = match.group(2)
    return sections


def _with_skip_annotations(obj: dict, checks: dict[str, str]) -> dict:
    annotations = dict(obj["metadata"].get("annotations", {}))
    for n, (check, reason) in enumerate(sorted(checks.items()), start=1):
        annotations[f"checkov.io/skip{n}"] = f"{check}={reason[:60]}"
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def test_skip_list_is_well_formed() -> None:
    skips = listed_skips()
    assert set(skips) == {"all", "device-plugin", "gateway"}
    for checks in skips.values():
        for check, reason in checks.items():
            assert len(reason) > 20, f"{check} needs a real reason"


def test_checkov_passes_on_every_rendered_object(tmp_path: Path) -> None:
    """One checkov run over two copies of every object: ``checked/`` with the listed skips as annotations must
    have zero failures; ``raw/`` without them must fail exactly the listed checks (checkov counts any
    annotated check as skipped, so only the raw copy shows whether a listed skip is still needed)."""
    checkov = checkov_binary()
    skips = listed_skips()
    for name, config in variant_configs().items():
        raw = render_platform(config, placements_for(config))
        checked = []
        for obj in raw:
            checked.append(_with_skip_annotations(obj, _scope_checks(obj, skips)))
        write_directory(raw, tmp_path / "raw" / name)
        write_directory(checked, tmp_path / "checked" / name)
    proc = subprocess.run(
        [str(checkov), "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout.strip().startswith("{"), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    results, summary = report["results"], report["summary"]
    assert summary["parsing_errors"] == 0 and summary["passed"] > 200

    def failures(copy: str) -> list[tuple[str, str, str]]:
        return sorted(
            (c["check_id"], c["resource"], c["file_path"])
            for c in results["failed_checks"]
            if c["file_path"].lstrip("/").startswith(copy + "/")
        )

    assert failures("checked") == [], "checkov failed checks (fix them, or list them in checkov-skips.md)"
    needed: dict[str, set[str]] = {scope: set() for scope in skips}
    for check, resource, path in failures("raw"):
        scope = _scope_of(resource)
        assert check in skips["all"] or check in skips[scope], f"{check} on {resource} ({path}) is not listed"
        needed["all" if check in skips["all"] else scope].add(check)
    for scope, checks in skips.items():
        assert set(checks) == needed[scope], f"listed under {scope} but never needed: {set(checks) - needed[scope]}"


def _scope_of(resource: str) -> str:
    """checkov's resource id (``Kind.namespace.name``) -> the section of checkov-skips.md that covers it."""
    if resource.startswith("DaemonSet.") and DEVICE_PLUGIN[1] in resource:
        return "device-plugin"
    if resource.startswith("Deployment.") and resource.endswith("-gateway"):
        return "gateway"
    return "all"


def _scope_checks(obj: dict, skips: dict[str, dict[str, str]]) -> dict[str, str]:
    checks = dict(skips["all"])
    scope = _scope_of(f"{obj['kind']}.{obj['metadata'].get('namespace', '')}.{obj['metadata']['name']}")
    if scope != "all":
        checks |= skips[scope]
    return checks
