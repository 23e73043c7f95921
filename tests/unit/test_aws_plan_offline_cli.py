"""`inferctl plan --target aws --offline --output json`: the workshop's components from the Pulumi program under
Pulumi's own mocks (no AWS account here; the mocks are the seam)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferctl.cli.app import main


def test_offline_plan_lists_the_workshop_components(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inferctl.yaml").write_text(
        "name: workshop\ntarget: aws\nmodels:\n  - name: llama3\n    source: meta-llama/Meta-Llama-3-8B-Instruct\n"
    )
    assert main(["plan", "--offline", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    parts = report["components"]
    assert parts["cluster"]["name"] == "workshop"
    assert parts["system_nodes"] == [{"name": "workshop-system", "instance_types": ["c6g.xlarge"], "desired": 2}]
    assert parts["addons"] == ["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    assert parts["karpenter"]["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert parts["karpenter"]["version"].startswith("1.14.")
    assert len(parts["karpenter"]["rules"]) == 5
    assert parts["node_pools"] == ["g5-gpu-karpenter", "x86-cpu-karpenter"]
    types = {r["type"] for r in report["resources"]}
    assert {"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:sqs/queue:Queue"} <= types


def test_offline_needs_target_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--offline"]) == 2
    assert "add --target aws" in capsys.readouterr().err
