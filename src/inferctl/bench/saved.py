"""Bench runs kept on disk: every ``inferctl bench`` against the platform (and every run the console starts)
writes its report (the ``--output json`` document) to ``<INFERCTL_HOME>/platforms/<platform>/bench/``, one file per
run named after when it finished (UTC) and the model, so the console can list and chart them. The report holds no
secret (:func:`inferctl.bench.report.report_dict`); the folder is the owner's (0700) like the rest of the home.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inferctl.errors import NotFoundError, OperationError
from inferctl.home import Home

RUNS_FOLDER = "bench"
_STAMP = "%Y%m%dT%H%M%SZ"
_RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)(?:\.(\d+))?-[A-Za-z0-9._-]+$")


def runs_dir(home: Home, platform: str) -> Path:
    return home.platform_dir(platform) / RUNS_FOLDER


def _slug(model: str) -> str:
    """A model name as a file name part (``org/name`` -> ``org_name``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._-")[:80] or "model"


def save_run(home: Home, platform: str, report: dict[str, Any], *, now: datetime | None = None) -> Path:
    """Write ``report`` as a new run of ``platform``; returns its file. OperationError when it cannot be written."""
    folder = runs_dir(home, platform)
    stamp = (now or datetime.now(UTC)).strftime(_STAMP)
    model = _slug(str(report.get("endpoint", {}).get("model", "")))
    try:
        home.ensure(folder)
        path = folder / f"{stamp}-{model}.json"
        count = 1
        while path.exists():  # two runs finished in the same second
            count += 1
            path = folder / f"{stamp}.{count}-{model}.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OperationError(f"cannot keep the bench run in {folder} ({exc.strerror or exc})") from None
    return path


@dataclass(frozen=True)
class SavedRun:
    """One saved run: its id (the file name without .json: ``<UTC time>[.<n>]-<model>``), when it finished, and
    its report."""

    id: str
    finished_at: datetime
    report: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.report.get("endpoint", {}).get("model", "?"))

    @property
    def levels(self) -> list[dict[str, Any]]:
        return list(self.report.get("levels") or [])


def _finished_at(run_id: str) -> datetime | None:
    match = _RUN_ID.match(run_id)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
    except ValueError:  # the shape of a stamp, not a date (month 13): not a run
        return None


def list_runs(home: Home, platform: str) -> list[SavedRun]:
    """The platform's saved runs, newest first; files that are not runs (or not readable JSON) are skipped."""
    runs = []
    folder = runs_dir(home, platform)
    for path in folder.glob("*.json") if folder.is_dir() else ():
        run = _read(path)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=_order, reverse=True)


def _order(run: SavedRun) -> tuple[datetime, int]:
    """When it finished; among runs of the same second, the one saved later (``<stamp>.<n>-``) is newer."""
    match = _RUN_ID.match(run.id)
    return run.finished_at, int(match.group(2) or 1) if match else 0


def load_run(home: Home, platform: str, run_id: str) -> SavedRun:
    """One saved run by id; NotFoundError for an id that is not one (never a path outside the runs folder)."""
    run = _read(runs_dir(home, platform) / f"{run_id}.json") if _finished_at(run_id) else None
    if run is None:
        raise NotFoundError(f"no saved bench run {run_id!r} of platform {platform!r}")
    return run


def _read(path: Path) -> SavedRun | None:
    finished = _finished_at(path.stem)
    if finished is None or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("levels"), list):
        return None
    return SavedRun(path.stem, finished, report)


__all__ = ["RUNS_FOLDER", "SavedRun", "list_runs", "load_run", "runs_dir", "save_run"]
