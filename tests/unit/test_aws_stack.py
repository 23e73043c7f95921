"""The Automation API side that runs here without the pulumi CLI: backend, passphrase, progress, errors.

Engine events are built with Pulumi's own ``EngineEvent.from_json`` from the JSON the CLI streams, so the
progress code reads exactly the objects a real ``pulumi up`` hands it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation.events import EngineEvent

from inferctl.aws.stack import EngineProgress, _failed, backend_url, find_pulumi, passphrase_env
from inferctl.errors import OperationError
from inferctl.home import Home
from tests.support.aws import aws_config, install_fake_pulumi, isolated_aws

__all__ = ["isolated_aws"]


class RecordingReporter:
    def __init__(self) -> None:
        self.phases: list[tuple[str, str]] = []
        self.lines: list[str] = []

    def phase(self, name: str, detail: str = "") -> None:
        self.phases.append((name, detail))

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)


def step(kind: str, op: str, name: str, typ: str) -> EngineEvent:
    urn = f"urn:pulumi:workshop::inferctl::{typ}::{name}"
    data: dict[str, Any] = {"sequence": 1, "timestamp": 0, kind: {"metadata": {"op": op, "urn": urn, "type": typ}}}
    return EngineEvent.from_json(data)


def test_the_default_backend_is_a_file_backend_in_the_inferctl_home(tmp_path: Path) -> None:
    home = Home(tmp_path)
    url = backend_url(aws_config(), home)
    assert url == f"file://{tmp_path}/platforms/workshop/aws/state"
    assert Path(url.removeprefix("file://")).is_dir()
    assert backend_url(aws_config(state_backend="s3://team-bucket/inferctl"), home) == "s3://team-bucket/inferctl"


def test_the_passphrase_is_generated_once_owner_only_and_passed_by_file_never_by_value(
    tmp_path: Path, isolated_aws: None
) -> None:
    home = Home(tmp_path)
    env = passphrase_env(aws_config(), home)
    path = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    secret = path.read_text(encoding="utf-8")
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret not in str(env)
    assert passphrase_env(aws_config(), home) == env and path.read_text(encoding="utf-8") == secret


def test_a_passphrase_the_user_exported_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "the team's")
    assert passphrase_env(aws_config(), Home(tmp_path)) == {}
    assert not (tmp_path / "platforms" / "workshop" / "aws" / "pulumi-passphrase").exists()


def test_pulumi_in_the_inferctl_home_is_preferred_to_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = install_fake_pulumi(tmp_path / "usr")
    monkeypatch.setenv("PATH", str(on_path.parent))
    home = Home(tmp_path / "home")
    assert find_pulumi(home) == on_path
    own = install_fake_pulumi(home.root)
    assert find_pulumi(home) == own
    assert os.access(own, os.X_OK)


def test_engine_events_become_one_progress_line_with_counts_and_the_slow_step() -> None:
    reporter = RecordingReporter()
    progress = EngineProgress(reporter, "provisioning AWS (pulumi up)")
    progress(step("resourcePreEvent", "create", "vpc", "aws:ec2/vpc:Vpc"))
    progress(step("resOutputsEvent", "create", "vpc", "aws:ec2/vpc:Vpc"))
    progress(step("resourcePreEvent", "same", "aws", "pulumi:providers:aws"))
    progress(step("resourcePreEvent", "create", "cluster", "aws:eks/cluster:Cluster"))
    progress(step("resourcePreEvent", "update", "system-nodes", "aws:eks/nodeGroup:NodeGroup"))
    progress(step("resOutputsEvent", "update", "system-nodes", "aws:eks/nodeGroup:NodeGroup"))
    names = {name for name, _ in reporter.phases}
    assert names == {"provisioning AWS (pulumi up)"}
    details = [detail for _, detail in reporter.phases]
    assert details[0] == "starting; 1 in progress; create vpc"
    assert details[1] == "1 created; 0 in progress"
    assert details[2] == "1 created; 1 in progress; create cluster (about 10 min)"
    assert details[-1] == "1 created, 1 updated; 1 in progress"
    assert progress.summary().startswith("1 created, 1 updated in ")


def test_error_diagnostics_make_the_failure_message() -> None:
    progress = EngineProgress(RecordingReporter(), "provisioning AWS (pulumi up)")
    for message in ["creating EKS Cluster: AccessDenied\n  status 403", "second problem"]:
        event = {
            "sequence": 2,
            "timestamp": 0,
            "diagnosticEvent": {"message": message, "color": "never", "severity": "error"},
        }
        progress(EngineEvent.from_json(event))
    progress(
        EngineEvent.from_json(
            {"sequence": 3, "timestamp": 0, "diagnosticEvent": {"message": "fyi", "color": "never", "severity": "info"}}
        )
    )
    error = _failed("pulumi up", progress, RuntimeError("exit 255"), "fix it and re-run")
    assert isinstance(error, OperationError) and error.exit_code == 1
    assert error.message == "pulumi up failed: creating EKS Cluster: AccessDenied status 403; fix it and re-run"
    assert error.details == ["second problem"]
