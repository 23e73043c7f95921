"""What the aws platform costs now (``status``) and its always-on parts, from ``catalog/aws_prices.py`` (us-east-1
list prices, cited there) and the instance catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inferctl.aws.cost_now import cost_now
from inferctl.aws.kubeconfig import context_name
from inferctl.catalog import aws_prices as usd
from inferctl.catalog import get_instance, spot_estimate_usd_per_hour
from inferctl.catalog.prices import PriceBook
from inferctl.cli.app import main
from inferctl.home import Home
from inferctl.kube.views import NodeRow, NodesView, totals
from inferctl.sizing.platform_cost import always_on_lines, load_balancer_count, node_volume
from inferctl.sizing.system_nodes import choose_system_nodes
from inferctl.targets.aws import AwsTarget
from inferctl.targets.status import AwsStatus
from tests.support.aws import aws_config
from tests.support.kube import FakeCluster, kubeconfig, make_node, serve
from tests.support.sizing import ALWAYS_ON_USD, GPU_NODE_VOLUME_USD

CONFIG = aws_config()


def _row(name: str, instance: str, capacity: str, group: str, usd_per_hour: float | None) -> NodeRow:
    return NodeRow(
        name, instance, capacity, "us-east-1a", group, "1h", "True", 5, 1.0, 3.9, 1.0, 6.4, 0, 0, usd_per_hour
    )


def test_gp3_and_the_nat_are_priced_from_the_pages_figures() -> None:
    assert usd.gp3_usd_per_hour(50) == pytest.approx(4.0 / 730)
    # 6,000 IOPS and 500 MiB/s: 3,000 and 375 above the free baseline
    assert usd.gp3_usd_per_hour(200, iops=6000, throughput_mibs=500) == pytest.approx((16 + 15 + 15) / 730)
    assert usd.nat_gateway_usd_per_hour() == pytest.approx(0.05)
    # The ECR (api, dkr) and STS interface endpoints docs/guides/aws.md weighs, in 3 zones: $0.09/h
    assert usd.interface_endpoints_usd_per_hour(3, 3) == pytest.approx(0.09)


def test_the_always_on_lines_of_the_default_platform() -> None:
    lines = always_on_lines(CONFIG, PriceBook.snapshot(), choose_system_nodes(CONFIG))
    assert [line.item for line in lines] == [
        "EKS control plane",
        "NAT gateway",
        "system nodes",
        "load balancer",
        "storage",
    ]
    assert sum(line.on_demand_usd_per_hour for line in lines) == pytest.approx(ALWAYS_ON_USD)
    # An existing VPC's NAT is its owner's; a ClusterIP endpoint makes no load balancer
    owned = aws_config(vpc_id="vpc-0abc1234def567890")
    assert "NAT gateway" not in [
        line.item for line in always_on_lines(owned, PriceBook.snapshot(), choose_system_nodes(owned))
    ]
    quiet = CONFIG.model_copy(deep=True)
    quiet.endpoint.exposure.service_type = "ClusterIP"
    assert load_balancer_count(quiet) == 0 and load_balancer_count(CONFIG) == 1


def test_a_gpu_nodes_volume_is_its_pools_data_volume() -> None:
    assert node_volume(CONFIG, "g5.xlarge") == (204, pytest.approx(GPU_NODE_VOLUME_USD))
    assert node_volume(CONFIG, "c6a.large") == (
        CONFIG.pools.cpu.data_volume_gib + 4,
        pytest.approx((50 + 4) * 0.08 / 730),
    )


def test_status_prices_what_runs_now() -> None:
    """Two system nodes and one spot GPU node priced as ``inferctl nodes`` prices them, plus the fixed parts."""
    rows = [
        _row("a", "c6g.xlarge", "on-demand", "workshop-system", 0.136),
        _row("b", "c6g.xlarge", "on-demand", "workshop-system", 0.136),
        _row("g", "g5.xlarge", "spot", "g5-gpu-karpenter", 0.4024),
        _row("x", "zz9.huge", "spot", "x86-cpu-karpenter", None),
    ]
    now = cost_now(CONFIG, NodesView(nodes=rows, totals=totals(rows)))
    by_item = {line.item: line for line in now.lines}
    assert list(by_item) == [
        "EKS control plane", "NAT gateway", "load balancer", "system nodes", "nodes of g5-gpu-karpenter",
        "nodes of x86-cpu-karpenter", "storage",
    ]  # fmt: skip
    assert by_item["system nodes"].detail == "2 x c6g.xlarge on-demand"
    assert by_item["nodes of g5-gpu-karpenter"].on_demand_usd_per_hour == pytest.approx(0.4024)
    assert by_item["storage"].on_demand_usd_per_hour == pytest.approx(2 * 4.0 / 730 + GPU_NODE_VOLUME_USD)
    assert now.unpriced_nodes == 1
    assert now.usd_per_hour == pytest.approx(ALWAYS_ON_USD + 0.4024 + GPU_NODE_VOLUME_USD, abs=1e-4)
    report = AwsStatus("aws", "p", "c", "us-east-1", "not deployed", cost_now=now.to_dict()).to_dict()
    assert "cost_now" not in report  # nothing runs: nothing to price


def test_status_on_aws_shows_the_cost_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``inferctl status --target aws`` against a FakeCluster (tests.support.kube: the Kubernetes API at lightkube's
    HTTP transport, as no cluster runs here) behind the stack outputs ``up`` would have saved: the two system
    nodes and a spot GPU node, priced, with the fixed parts; the table prints it too."""
    fake = serve(FakeCluster(namespaces=["default", "kube-system", "inferctl"]), monkeypatch, tmp_path, hf_token=None)
    for name, zone in (("ip-10-0-0-11.ec2.internal", "us-east-1a"), ("ip-10-0-16-12.ec2.internal", "us-east-1b")):
        fake.put(make_node(name, "c6g.xlarge", nodegroup="workshop-system", zone=zone))
    fake.put(make_node("ip-10-0-1-23.ec2.internal", "g5.xlarge", nodepool="g5-gpu-karpenter", capacity_type="spot"))
    config = tmp_path / "inferctl.yaml"
    config.write_text(yaml.safe_dump(aws_config().model_dump(mode="json", exclude_defaults=True)), encoding="utf-8")
    target = AwsTarget(aws_config(), Home.from_env())
    target.save_outputs({"cluster_name": "workshop", "endpoint": "https://x", "certificate_authority": "Q0E="})
    # The kubeconfig 'up' writes authenticates through AWS; here a token on the fake cluster, same context name.
    kubeconfig(target.state_dir / "kubeconfig", contexts=[context_name("workshop", "us-east-1")])
    assert main(["status", "-c", str(config), "--output", "json"]) == 0
    cost = json.loads(capsys.readouterr().out)["cost_now"]
    g5_spot = spot_estimate_usd_per_hour(get_instance("g5.xlarge"))
    assert cost["usd_per_hour"] == pytest.approx(ALWAYS_ON_USD + g5_spot + GPU_NODE_VOLUME_USD, abs=1e-4)
    assert {line["item"]: line["detail"] for line in cost["lines"]}["system nodes"] == "2 x c6g.xlarge on-demand"
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["status", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "what the platform costs now" in out and "2 x c6g.xlarge on-demand" in out
