"""``status --output json`` keeps its keys, their order and their values now that targets return typed reports
(inferctl.targets.status). Each expected key list is the dict the targets built before the reports were typed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.targets.local.target import LocalTarget
from inferctl.targets.status import (
    AwsStatus,
    KubeModelStatus,
    KubernetesStatus,
    LocalModelStatus,
    LocalStatus,
)

LOCAL_MODEL = LocalModelStatus(
    name="demo",
    served_model_name="demo",
    source="demo",
    pid=42,
    port=8000,
    base_url="http://127.0.0.1:8000/v1",
    uptime_s=1.5,
    healthy=True,
    requests_running=0.0,
    requests_waiting=None,
    kv_cache_usage_pct=12.5,
    generation_tokens_total=None,
)
READY = KubeModelStatus("llama", "meta/llama", "ready", 1, 1, "http://x/v1", instance_type="g5.xlarge")
GATEWAY = {"name": "p-gateway", "state": "ready", "replicas": 2, "ready": 2, "service_type": "ClusterIP",
           "endpoint": "http://x/v1", "models": ["meta/llama"]}  # fmt: skip
KUBE = KubernetesStatus("kubernetes", "p", "ctx", "ns", [READY], [{"name": "pool"}], [], gateway=GATEWAY)


def test_local_running_report_keeps_its_keys() -> None:
    """The keys from before the gateway keep their order; what the gateway added follows them (a row per server:
    ``server`` ... ``requests_routed``; the report: ``gateway``). ``log_path`` moved into each server's row."""
    gateway = {"base_url": "http://127.0.0.1:9000/v1", "state": "healthy"}
    report = LocalStatus("local", "p", "running", [LOCAL_MODEL], gateway=gateway).to_dict()
    assert list(report) == ["target", "platform", "state", "models", "gateway"]
    assert list(report["models"][0]) == [
        "name", "served_model_name", "source", "pid", "port", "base_url", "uptime_s", "healthy",
        "requests_running", "requests_waiting", "kv_cache_usage_pct", "generation_tokens_total", "startup_phase",
        "note", "server", "replica", "state", "log_path", "routable", "requests_routed",
    ]  # fmt: skip
    assert report["models"][0]["requests_waiting"] is None and report["gateway"] is gateway
    assert report["models"][0]["startup_phase"] is None  # set only while the server has never answered
    assert report["models"][0]["note"] is None  # set when the report alone does not say what is wrong


def test_local_starting_report_adds_the_phase() -> None:
    """``starting`` (added after the keys above were pinned): the same keys, the phase in the model's row."""
    model = replace(LOCAL_MODEL, healthy=False, kv_cache_usage_pct=None, startup_phase="loading weights")
    report = LocalStatus("local", "p", "starting", [model]).to_dict()
    assert list(report) == ["target", "platform", "state", "models"]
    assert report["state"] == "starting" and report["models"][0]["startup_phase"] == "loading weights"


def test_local_preparing_report_adds_its_key_at_the_end() -> None:
    """``up`` preparing the model, before the server exists (added later): starting, no model, ``preparing``."""
    preparing = {"model": "smollm2", "phase": "converting the starter model", "detail": "", "up_pid": 7, "elapsed_s": 1}
    report = LocalStatus("local", "p", "starting", preparing=preparing).to_dict()
    assert list(report) == ["target", "platform", "state", "models", "preparing"]
    assert report["models"] == [] and report["preparing"] is preparing


def test_local_stopped_and_crashed_reports_keep_their_keys(isolated_home: Path) -> None:
    """A crash report per dead server under ``crashes`` (before the gateway: the one server's under ``crash``)."""
    stopped = LocalTarget(PlatformConfig(), Home.from_env()).status()
    assert stopped.to_dict() == {"target": "local", "platform": "inferctl", "state": "stopped", "models": []}
    crash = {"model": "demo", "how": "killed"}
    crashed = LocalStatus("local", "p", "crashed", crashes=[crash]).to_dict()
    assert list(crashed) == ["target", "platform", "state", "models", "crashes"] and crashed["crashes"] == [crash]


def test_kubernetes_model_rows_keep_their_keys_in_each_state() -> None:
    absent = KubeModelStatus("llama", "meta/llama", "not deployed", 0, 0, None, deployed=False)
    assert absent.to_dict() == {
        "name": "llama", "model": "meta/llama", "state": "not deployed", "replicas": 0, "ready": 0, "endpoint": None,
    }  # fmt: skip
    assert list(READY.to_dict()) == ["name", "model", "state", "replicas", "ready", "instance_type", "endpoint"]
    scaled = KubeModelStatus("llama", "m", "ready", 0, 0, "http://x/v1", autoscaling={"state": "idle"})
    assert list(scaled.to_dict()) == [
        "name", "model", "autoscaling", "state", "replicas", "ready", "instance_type", "endpoint",
    ]  # fmt: skip


def test_aws_reports_keep_their_keys() -> None:
    absent = AwsStatus("aws", "p", "c", "us-east-1", "not deployed").to_dict()
    assert absent == {
        "target": "aws", "platform": "p", "cluster": "c", "region": "us-east-1", "state": "not deployed", "models": [],
    }  # fmt: skip
    # Deployed: the cluster's report with the target, cluster and region of aws and the stack's endpoint after it.
    deployed = AwsStatus("aws", "p", "c", "us-east-1", "deployed", cluster_status=KUBE, endpoint="https://e")
    as_json = deployed.to_dict()
    assert list(as_json) == [
        "target", "platform", "context", "namespace", "gateway", "models", "nodepools", "last_cold_start", "cluster",
        "region", "state", "endpoint",
    ]  # fmt: skip
    assert as_json["target"] == "aws" and as_json["models"] == [READY.to_dict()]
    assert deployed.models == [READY]
    # With what the platform costs now (status reads the nodes): one more key, last.
    priced = AwsStatus("aws", "p", "c", "us-east-1", "deployed", cluster_status=KUBE, cost_now={"usd_per_hour": 0.49})
    assert list(priced.to_dict())[-2:] == ["endpoint", "cost_now"]
