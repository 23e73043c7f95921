"""Bench runs kept under the platform's home folder, for the console to list and chart.

The platform run goes through the real CLI against the local target's stand-in (tests/support/local.py: a process
the target takes for vLLM, and an HTTP stub answering vLLM's routes on its port; vLLM itself is not the point).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inferctl.bench.saved import list_runs, load_run, runs_dir, save_run
from inferctl.cli.app import main
from inferctl.errors import NotFoundError, OperationError
from inferctl.home import Home
from tests.support.bench import StubReply, StubServer
from tests.support.local import server_standin, write_running_state


def report(model: str = "org/model-1") -> dict[str, Any]:
    return {"endpoint": {"base_url": "http://x/v1", "model": model, "api": "chat"}, "levels": [{"completed": 3}]}


def test_runs_are_listed_newest_first_and_read_back(tmp_path: Path) -> None:
    home = Home(tmp_path)
    first = save_run(home, "genai", report(), now=datetime(2026, 7, 20, 10, 0, 0, tzinfo=UTC))
    second = save_run(home, "genai", report("demo"), now=datetime(2026, 7, 20, 11, 30, 5, tzinfo=UTC))
    same_second = save_run(home, "genai", report("demo"), now=datetime(2026, 7, 20, 11, 30, 5, tzinfo=UTC))
    assert first.name == "20260720T100000Z-org_model-1.json" and first.parent == runs_dir(home, "genai")
    assert same_second.name == "20260720T113005Z.2-demo.json" and second.exists()
    assert (runs_dir(home, "genai").stat().st_mode & 0o777) == 0o700
    (runs_dir(home, "genai") / "notes.json").write_text("{}")  # not a run
    (runs_dir(home, "genai") / "20260720T120000Z-broken.json").write_text("{not json")
    (runs_dir(home, "genai") / "20261399T000000Z-x.json").write_text(json.dumps(report()))  # month 13: not a run
    runs = list_runs(home, "genai")
    assert [r.id for r in runs] == [same_second.stem, second.stem, first.stem]
    assert runs[-1].model == "org/model-1" and runs[-1].finished_at == datetime(2026, 7, 20, 10, tzinfo=UTC)
    assert load_run(home, "genai", first.stem).report == report()
    assert list_runs(home, "other") == []


@pytest.mark.parametrize(
    "run_id", ["../../api-key", "20260720T100000Z-org_model-1/../x", "nope", "", "20261399T000000Z-x"]
)
def test_an_id_that_is_not_a_run_is_not_found(tmp_path: Path, run_id: str) -> None:
    home = Home(tmp_path)
    save_run(home, "genai", report(), now=datetime(2026, 7, 20, 10, 0, 0, tzinfo=UTC))
    with pytest.raises(NotFoundError):
        load_run(home, "genai", run_id)


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    home = Home(tmp_path)
    runs_dir(home, "genai").parent.mkdir(parents=True)
    runs_dir(home, "genai").write_text("a file where the folder goes")
    with pytest.raises(OperationError, match=r"^cannot keep the bench run in .*/platforms/genai/bench"):
        save_run(home, "genai", report())


def test_bench_against_the_platform_keeps_its_report(capsys: pytest.CaptureFixture[str]) -> None:
    home = Home.from_env()
    args = ["bench", "--concurrency", "2", "-n", "4", "--warmup", "0", "--dataset", "synthetic", "--output-len", "4"]
    with server_standin() as pid, StubServer(lambda body: StubReply(gaps_s=(0.001,) * 3), model="demo") as server:
        write_running_state(home, pid, server.port)
        assert main([*args, "-o", "json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert main([*args, "--no-save"]) == 0
        assert "kept as" not in capsys.readouterr().err
    (run,) = list_runs(home, "inferctl")
    assert run.report == printed and run.model == "demo" and run.levels[0]["completed"] == 4
