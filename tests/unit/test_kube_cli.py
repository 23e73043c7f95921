"""``inferctl status`` and ``inferctl nodes`` on a workshop-shaped cluster, and the bad inputs that must be one
line and exit 2, all through ``inferctl.cli.app.main``.

The cluster is :class:`tests.support.kube.FakeCluster` at lightkube's HTTP transport, installed through
:func:`inferctl.kube.client.make_transport` (no API server runs here); the unreachable server is real (a closed
local port). Prices come from the real packaged catalog.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferctl.catalog import get_instance, spot_estimate_usd_per_hour
from inferctl.cli.app import main
from tests.support.kube import (
    FakeCluster,
    kubeconfig,
    make_deployment,
    make_node,
    make_nodeclaim,
    make_nodepool,
    make_pod,
    serve,
    set_rollout,
)

NS = "inferctl"
SELECTOR = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
SYSTEM_NODE = "ip-10-0-0-11.ec2.internal"
GPU_NODE = "ip-10-0-1-23.ec2.internal"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    return serve(FakeCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path, hf_token=None)


def write_config(tmp_path: Path, **kubernetes: Any) -> str:
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    data = {
        "name": "genai",
        "target": "kubernetes",
        "models": [{"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct"}],
        "kubernetes": {"kubeconfig": str(path), "karpenter": True, **kubernetes},
    }
    file = tmp_path / "inferctl.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(file)


def workshop_cluster(fake: FakeCluster) -> None:
    """Both workshop NodePools, one system node-group node (m5.xlarge, on-demand), one spot g5.xlarge from
    Karpenter running the model, and the model's Deployment and Service."""
    fake.put(
        make_nodepool("g5-gpu-karpenter", limits={"nvidia.com/gpu": "16"}, resources={"nvidia.com/gpu": "1"}, nodes=1)
    )
    fake.put(make_nodepool("x86-cpu-karpenter", nodes=0))
    fake.put(make_node(SYSTEM_NODE, "m5.xlarge", nodegroup="system", zone="us-east-1a"))
    fake.put(
        make_node(GPU_NODE, "g5.xlarge", nodepool="g5-gpu-karpenter", capacity_type="spot", zone="us-east-1b", gpus=1)
    )
    fake.put(make_nodeclaim("g5-gpu-karpenter-x7k2p", "g5-gpu-karpenter", node_name=GPU_NODE))
    fake.put(
        make_pod(
            "coredns-5d8f7c9b4-abcde",
            "kube-system",
            {"k8s-app": "kube-dns"},
            node=SYSTEM_NODE,
            phase="Running",
            ready=True,
            requests={"cpu": "100m", "memory": "70Mi"},
            container={"state": {"running": {}}},
        )
    )
    fake.put(
        make_pod(
            "backup-28712345-xyz",
            "default",
            {"job": "backup"},
            node=SYSTEM_NODE,
            phase="Succeeded",
            requests={"cpu": "2", "memory": "4Gi"},
        )
    )
    fake.put(
        make_pod(
            "llama-6d4cf56db6-x2x9p",
            NS,
            SELECTOR,
            node=GPU_NODE,
            phase="Running",
            ready=True,
            requests={"cpu": "3", "memory": "9Gi", "nvidia.com/gpu": "1"},
            container={"state": {"running": {}}},
        )
    )
    fake.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "llama",
                "namespace": NS,
                "generation": 1,
                "labels": SELECTOR,
                "annotations": {"inferctl.io/instance-type": "g5.xlarge"},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": SELECTOR},
                "template": {"metadata": {"labels": SELECTOR}, "spec": {"containers": [{"name": "vllm"}]}},
            },
        }
    )
    set_rollout(fake, "llama", NS, ready=1)
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "llama", "namespace": NS, "labels": SELECTOR},
            "spec": {"type": "ClusterIP", "selector": SELECTOR, "ports": [{"name": "http", "port": 80}]},
        }
    )
    # the platform's gateway: two replicas, its ClusterIP Service, and what its public /v1/models lists
    gateway = {"inferctl.io/platform": "genai", "app.kubernetes.io/component": "gateway"}
    deployment = make_deployment("genai-gateway", NS, gateway)
    deployment["spec"]["replicas"] = 2
    fake.put(deployment)
    set_rollout(fake, "genai-gateway", NS, ready=2, replicas=2)
    fake.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "genai-gateway", "namespace": NS, "labels": gateway},
            "spec": {"type": "ClusterIP", "selector": gateway, "ports": [{"name": "http", "port": 80}]},
        }
    )
    fake.proxy[(NS, "genai-gateway")] = (200, {"object": "list", "data": [{"id": "llama", "object": "model"}]})


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_status_json_shows_models_and_both_nodepools(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workshop_cluster(fake)
    report = run_json(capsys, "status", "-c", write_config(tmp_path), "--output", "json")
    assert report["target"] == "kubernetes" and report["context"] == "fake" and report["namespace"] == NS
    # The keys and their order are a contract for scripts (the typed report's to_dict must keep them); the load
    # per model (from Prometheus) came later, at the end.
    assert list(report) == [
        "target", "platform", "context", "namespace", "gateway", "models", "nodepools", "last_cold_start", "load",
    ]  # fmt: skip
    assert report["load"]["models"] == [] and "observability.prometheus_url" in report["load"]["problem"]
    # the platform's one entry: its replicas, readiness, Service type, endpoint and the models it lists
    assert report["gateway"] == {
        "name": "genai-gateway", "state": "ready", "replicas": 2, "ready": 2, "service_type": "ClusterIP",
        "endpoint": "http://127.0.0.1:8000/v1", "models": ["llama"],
    }  # fmt: skip
    assert list(report["models"][0]) == ["name", "model", "state", "replicas", "ready", "instance_type", "endpoint"]
    assert report["models"] == [
        {
            "name": "llama",
            "model": "llama",
            "state": "ready",
            "replicas": 1,
            "ready": 1,
            "instance_type": "g5.xlarge",
            "endpoint": "http://127.0.0.1:8000/v1",
        }
    ]
    assert [{k: p[k] for k in ("name", "nodeclass", "nodes", "ready")} for p in report["nodepools"]] == [
        {"name": "g5-gpu-karpenter", "nodeclass": "g5-gpu-karpenter", "nodes": 1, "ready": "True"},
        {"name": "x86-cpu-karpenter", "nodeclass": "x86-cpu-karpenter", "nodes": 0, "ready": "True"},
    ]


def test_nodes_json_prices_and_totals_match_the_catalog(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workshop_cluster(fake)
    view = run_json(capsys, "nodes", "-c", write_config(tmp_path), "-o", "json")
    by_name = {n["name"]: n for n in view["nodes"]}
    system, gpu = by_name[SYSTEM_NODE], by_name[GPU_NODE]
    m5_price = get_instance("m5.xlarge").on_demand_usd_per_hour
    g5_spot = spot_estimate_usd_per_hour(get_instance("g5.xlarge"))
    assert (system["instance_type"], system["capacity_type"], system["zone"], system["group"]) == (
        "m5.xlarge",
        "on-demand",
        "us-east-1a",
        "system",
    )
    assert system["usd_per_hour"] == pytest.approx(m5_price)
    assert (gpu["instance_type"], gpu["capacity_type"], gpu["group"]) == ("g5.xlarge", "spot", "g5-gpu-karpenter")
    assert gpu["usd_per_hour"] == pytest.approx(g5_spot)
    assert g5_spot < get_instance("g5.xlarge").on_demand_usd_per_hour  # type: ignore[operator]
    # Requests: the finished backup pod holds nothing; the model holds the node's only GPU.
    assert (system["pods"], system["cpu_requested"], system["cpu_allocatable"]) == (1, 0.1, 3.92)
    assert (gpu["gpu_requested"], gpu["gpu_allocatable"], gpu["memory_requested_gib"]) == (1, 1, 9.0)
    totals = view["totals"]
    assert totals["nodes"] == 2 and totals["unpriced"] == 0
    assert totals["usd_per_hour"] == pytest.approx(m5_price + g5_spot)  # type: ignore[operator]
    assert totals["usd_per_month"] == pytest.approx((m5_price + g5_spot) * 730, abs=0.01)  # type: ignore[operator]
    assert (totals["gpu_requested"], totals["gpu_allocatable"], totals["cpu_requested"]) == (1, 1, 3.1)


def test_nodes_table_renders(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    workshop_cluster(fake)
    assert main(["nodes", "-c", write_config(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "g5.xlarge" in out and "m5.xlarge" in out and "spot" in out
    lines = out.splitlines()
    # The fleet first, one line per resource (requested/allocatable, share, bar), then each node's lines.
    assert lines[0].split()[:5] == ["2", "nodes", "(3.1/7.84)", "40%", "cpu"] and "/month" in lines[0]
    assert lines[2].split()[:3] == ["(1/1)", "100%", "gpu"]
    assert [line.split()[:2] for line in lines if line.startswith("ip-")] == [[GPU_NODE, "cpu"], [SYSTEM_NODE, "cpu"]]


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_unreachable_api_server(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("inferctl.kube.client.make_transport", lambda: None)  # the real network
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig(tmp_path / "kubeconfig", server=f"https://127.0.0.1:{port}")
    line = _one_line_exit_2(capsys, ["status", "-c", write_config(tmp_path)])
    assert "cannot reach the Kubernetes API server" in line


def test_wrong_context(fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_exit_2(capsys, ["nodes", "-c", write_config(tmp_path, context="prod")])
    assert "context 'prod' is not in kubeconfig" in line and "one of: fake" in line


def test_missing_hf_token_for_gated_model(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    line = _one_line_exit_2(capsys, ["up", "-y", "-c", write_config(tmp_path)])
    assert "is gated and HF_TOKEN is not set" in line and "huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct" in line
    # Only reads: the preflight and whether hf-secret already exists (it would stand in for HF_TOKEN).
    assert fake.requests and {r.method for r in fake.requests} == {"GET"}
    assert fake.applied() == []


def test_namespace_forbidden(fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake.forbidden_namespaces.add(NS)
    line = _one_line_exit_2(capsys, ["status", "-c", write_config(tmp_path)])
    assert "forbidden" in line and "namespace inferctl" in line


def test_nodes_on_a_target_without_nodes(fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_exit_2(capsys, ["nodes", "-c", write_config(tmp_path), "--target", "local"])
    assert "target local has no nodes to show" in line and "kubernetes" in line


def test_nodes_watch_refreshes_until_interrupted(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``time.sleep`` of the watch loop is replaced so the test neither waits nor needs a real Ctrl-C."""
    workshop_cluster(fake)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the second refresh is "interrupted by Ctrl-C"
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("inferctl.cli.live.pause", sleep)
    assert main(["nodes", "-c", write_config(tmp_path), "-o", "json", "--watch"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["totals"]["nodes"] == 2 for line in lines)
    assert sleeps == [2.0, 2.0]


@pytest.mark.parametrize("command", ["up", "down"])
def test_a_declined_confirmation_changes_nothing_and_keeps_stdout_clean(
    fake: FakeCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """On a terminal, 'up'/'down' on a cluster ask first. The plan and the question go to stderr, so stdout holds
    only what --output json promises; saying no prints why nothing happened and exits 1 without a request that
    writes."""
    import sys

    import typer

    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked: list[tuple[str, bool]] = []

    def decline(question: str, *, default: bool, err: bool = False) -> bool:
        asked.append((question, err))
        return False

    monkeypatch.setattr(typer, "confirm", decline)
    json_output = ["--output", "json"] if command == "up" else []  # down has no output to format
    rc = main([command, "-c", write_config(tmp_path), *json_output])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.out == ""
    assert asked == [(f"{command} platform 'genai' on target kubernetes?", True)]  # asked on stderr
    assert f"{command} of platform 'genai' not confirmed; nothing was changed" in captured.err
    if command == "up":
        assert "llama" in captured.err  # the plan was shown before the question
    assert {r.method for r in fake.requests} <= {"GET"}
    assert fake.applied() == []


def test_endpoint_prints_one_base_url_for_every_model(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deployed models, one gateway: ``endpoint`` shows the gateway's base URL once, with both models behind
    it; ``--output json`` keeps every model's entry and adds the shared ``base_url``."""
    workshop_cluster(fake)
    qwen = {"inferctl.io/platform": "genai", "inferctl.io/model": "qwen"}
    fake.put(make_deployment("qwen", NS, qwen))
    path = Path(write_config(tmp_path))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["models"].append({"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "served_model_name": "qwen-7b"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    report = run_json(capsys, "endpoint", "-c", str(path), "--output", "json")
    assert report["base_url"] == "http://127.0.0.1:8000/v1"
    assert [(e["model"], e["base_url"]) for e in report["endpoints"]] == [
        ("llama", "http://127.0.0.1:8000/v1"),
        ("qwen-7b", "http://127.0.0.1:8000/v1"),
    ]
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["endpoint", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("http://127.0.0.1:8000/v1") == 1 and "llama, qwen-7b" in out
    assert "svc/genai-gateway" in out  # the port-forward hint names the gateway's Service
