"""The AWS target around the parts tested elsewhere: plan (the program under Pulumi's mocks, with sizing and
rendering real), saved outputs, what down/status/endpoints do with no platform, the leftover check (botocore
Stubber), the CLI's preflight command, and that importing the target and its CLI stays cheap.
"""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from inferctl.aws.kubeconfig import exec_kubeconfig
from inferctl.aws.leftovers import find_leftovers
from inferctl.aws.offline import offline_plan
from inferctl.cli import aws_cmd
from inferctl.errors import ConfigError, MissingDependencyError, NotFoundError, OperationError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.targets import target_for, targets_with
from inferctl.targets.aws import AwsTarget
from inferctl.targets.base import LogsCapability, NodesCapability
from tests.support.aws import StubbedAws, aws_config, isolated_aws

__all__ = ["isolated_aws"]


def no_aws(service: str) -> Any:
    raise AssertionError(f"no AWS call expected, got a {service} client request")


class Lines(NullReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)


def test_the_offline_plan_lists_the_workshops_components() -> None:
    plan = offline_plan(aws_config())
    json.dumps(plan)  # --output json prints exactly this
    parts = plan["components"]
    assert parts["cluster"] == {"name": "workshop", "version": "1.36"}
    assert parts["system_nodes"] == [{"name": "workshop-system", "instance_types": ["c6g.xlarge"], "desired": 2}]
    assert parts["addons"] == ["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    assert parts["karpenter"]["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert parts["karpenter"]["interruption_queue"] == "workshop"
    assert len(parts["karpenter"]["rules"]) == 5
    assert parts["node_pools"] == ["g5-gpu-karpenter", "x86-cpu-karpenter"]
    assert parts["load_balancer_controller"]["chart"] == "aws-load-balancer-controller"
    assert plan["summary"]["resources"] == len(plan["resources"])
    types = {r["type"] for r in plan["resources"]}
    assert {"aws:eks/cluster:Cluster", "aws:sqs/queue:Queue", "kubernetes:karpenter.sh/v1:NodePool"} <= types
    karpenter = next(r for r in plan["resources"] if r["name"] == "karpenter")
    assert karpenter["properties"]["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert "offline" not in json.dumps(karpenter)  # the ECR token's placeholder never shows, even fake
    assert "kubeconfig" not in plan["outputs"]


def test_the_offline_plan_table_shows_the_components(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(aws_cmd, "console", Console(file=out, width=200))
    aws_cmd.print_offline_plan(offline_plan(aws_config()))
    text = out.getvalue()
    assert "2x c6g.xlarge" in text
    assert "coredns, eks-pod-identity-agent, kube-proxy, vpc-cni" in text
    assert "workshop + 5 rules" in text
    assert "g5-gpu-karpenter, x86-cpu-karpenter" in text
    assert "public for <deployer's egress IP>/32 + private for the nodes" in text


def test_the_targets_plan_adds_placements_and_the_kubernetes_objects(tmp_path: Path) -> None:
    target = AwsTarget(aws_config(), Home(tmp_path), clients=no_aws)
    target.fetch_egress_ip = lambda url: "198.51.100.23\n"  # checkip.amazonaws.com's answer (HTTP is the seam)
    typed = target.plan()
    assert [p.model for p in typed.placements] == ["llama3"]
    plan = typed.to_dict()
    json.dumps(plan)
    # The JSON keeps the keys it had as a dict: the offline plan's (without its resources), then the workload's.
    assert list(plan) == [
        "target", "platform", "cluster", "region", "offline", "components", "summary", "notes", "endpoint_access",
        "outputs", "placements", "objects", "resources",
    ]  # fmt: skip
    assert all(list(r) == ["type", "name"] for r in plan["resources"])
    assert plan["endpoint_access"]["public_access_cidrs"] == ["198.51.100.23/32"]  # the block 'up' will allow
    assert [p["model"] for p in plan["placements"]] == ["llama3"]
    assert plan["placements"][0]["instance_type"].startswith("g5.")
    assert {"kind": "Deployment", "name": "llama3", "namespace": "inferctl"} in plan["objects"]
    assert plan["components"]["node_pools"] == ["g5-gpu-karpenter", "x86-cpu-karpenter"]
    assert {"type": "aws:eks/cluster:Cluster", "name": "cluster"} in plan["resources"]
    assert not (tmp_path / "platforms").exists()  # plan writes nothing


def test_aws_is_a_target_with_logs_and_nodes(tmp_path: Path) -> None:
    assert isinstance(target_for(aws_config(), Home(tmp_path)), AwsTarget)
    assert "aws" in targets_with(LogsCapability) and "aws" in targets_with(NodesCapability)


def test_without_a_platform_down_is_a_no_op_and_reads_say_what_to_do(tmp_path: Path) -> None:
    target = AwsTarget(aws_config(), Home(tmp_path), clients=no_aws)
    reporter = Lines()
    target.down(reporter)
    assert reporter.lines == ["no AWS platform 'workshop' from this machine: nothing to remove"]
    assert target.status().state == "not deployed"
    with pytest.raises(NotFoundError, match="run 'inferctl up --target aws'"):
        target.endpoints()


def test_up_refuses_a_gated_model_without_hf_token_before_touching_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="HF_TOKEN is not set"):
        AwsTarget(aws_config(), Home(tmp_path), clients=no_aws).up(NullReporter())


def test_saved_outputs_give_the_kubernetes_target_a_kubeconfig_built_here(tmp_path: Path) -> None:
    target = AwsTarget(aws_config(), Home(tmp_path))
    # The stack's kubeconfig output, as another machine's program run wrote it: its Python is not ours.
    theirs = exec_kubeconfig("workshop", "us-east-1", "https://x", "Q0E=")
    theirs["users"][0]["user"]["exec"]["command"] = "/home/someone-else/venv/bin/python"
    target.save_outputs(
        {
            "cluster_name": "workshop",
            "endpoint": "https://x",
            "certificate_authority": "Q0E=",
            "kubeconfig": json.dumps(theirs),
        }
    )
    saved = target.saved_outputs()
    assert saved == {"cluster_name": "workshop", "endpoint": "https://x", "certificate_authority": "Q0E="}
    path = target.state_dir / "kubeconfig"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written == exec_kubeconfig("workshop", "us-east-1", "https://x", "Q0E=")
    assert written["users"][0]["user"]["exec"]["command"] == sys.executable
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = target.kubernetes(include_karpenter=False).config.kubernetes
    assert settings.kubeconfig == str(path)
    assert settings.context == "inferctl-workshop-us-east-1"
    target.forget_outputs()
    assert target.saved_outputs() is None and not path.exists()


def test_a_stack_from_before_the_ca_output_still_gives_a_local_kubeconfig(tmp_path: Path) -> None:
    target = AwsTarget(aws_config(), Home(tmp_path))
    theirs = exec_kubeconfig("workshop", "us-east-1", "https://old", "T0xE")
    theirs["users"][0]["user"]["exec"]["command"] = "/elsewhere/python"
    target.save_outputs({"cluster_name": "workshop", "endpoint": "https://old", "kubeconfig": json.dumps(theirs)})
    written = json.loads((target.state_dir / "kubeconfig").read_text(encoding="utf-8"))
    assert written == exec_kubeconfig("workshop", "us-east-1", "https://old", "T0xE")


def test_leftovers_lists_instances_and_load_balancers_tagged_for_the_cluster() -> None:
    aws = StubbedAws()
    aws.stub("ec2").add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        {
                            "InstanceId": "i-0123456789abcdef0",
                            "InstanceType": "g5.xlarge",
                            "Tags": [{"Key": "Name", "Value": "gpu"}],
                        }
                    ]
                }
            ]
        },
        {
            "Filters": [
                {"Name": "tag-key", "Values": ["kubernetes.io/cluster/workshop"]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        },
    )
    ours = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/k8s-inferctl-llama3/0123456789abcdef"
    theirs = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/other/fedcba9876543210"
    elbv2 = aws.stub("elbv2")
    elbv2.add_response(
        "describe_load_balancers",
        {
            "LoadBalancers": [
                {"LoadBalancerArn": ours, "LoadBalancerName": "k8s-inferctl-llama3"},
                {"LoadBalancerArn": theirs, "LoadBalancerName": "other"},
            ]
        },
        {},
    )
    elbv2.add_response(
        "describe_tags",
        {
            "TagDescriptions": [
                {"ResourceArn": ours, "Tags": [{"Key": "elbv2.k8s.aws/cluster", "Value": "workshop"}]},
                {"ResourceArn": theirs, "Tags": [{"Key": "elbv2.k8s.aws/cluster", "Value": "another"}]},
            ]
        },
        {"ResourceArns": [ours, theirs]},
    )
    aws.stub("elb").add_response("describe_load_balancers", {"LoadBalancerDescriptions": []}, {})
    log_group = "/aws/eks/workshop/cluster"
    aws.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": log_group, "retentionInDays": 7}]},
        {"logGroupNamePrefix": "/aws/eks/workshop/"},
    )
    # A model_cache volume the EBS CSI driver had not deleted yet: tagged for the cluster by the gp3 StorageClass.
    aws.stub("ec2").add_response(
        "describe_volumes",
        {
            "Volumes": [
                {"VolumeId": "vol-0123456789abcdef0", "Size": 200, "VolumeType": "gp3"},
                # The leftover GPU node's root volume: terminating the instance deletes it.
                {
                    "VolumeId": "vol-0fedcba9876543210",
                    "Size": 20,
                    "VolumeType": "gp3",
                    "Attachments": [{"InstanceId": "i-0123456789abcdef0", "State": "attached"}],
                },
            ]
        },
        {
            "Filters": [
                {"Name": "tag-key", "Values": ["kubernetes.io/cluster/workshop"]},
                {"Name": "status", "Values": ["creating", "available", "in-use", "error"]},
            ]
        },
    )
    found = find_leftovers(aws, "workshop", "us-east-1")
    aws.assert_done()
    assert [(f.kind, f.id) for f in found] == [
        ("ec2-instance", "i-0123456789abcdef0"),
        ("load-balancer", ours),
        ("log-group", log_group),
        ("ebs-volume", "vol-0123456789abcdef0"),
    ]
    assert found[3].delete_command == "aws ec2 delete-volume --region us-east-1 --volume-id vol-0123456789abcdef0"
    assert found[2].delete_command == f"aws logs delete-log-group --region us-east-1 --log-group-name {log_group}"
    assert (
        found[0].delete_command == "aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0"
    )
    assert found[1].name == "k8s-inferctl-llama3"


def test_leftover_load_balancers_are_asked_for_their_tags_twenty_at_a_time_classic_ones_by_name() -> None:
    aws = StubbedAws()
    aws.stub("ec2").add_response("describe_instances", {"Reservations": []}, None)
    arns = [f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/lb{i}/{i:016x}" for i in range(25)]
    elbv2 = aws.stub("elbv2")
    elbv2.add_response(
        "describe_load_balancers",
        {"LoadBalancers": [{"LoadBalancerArn": arn, "LoadBalancerName": f"lb{i}"} for i, arn in enumerate(arns)]},
        {},
    )
    elbv2.add_response(
        "describe_tags", {"TagDescriptions": [{"ResourceArn": arn} for arn in arns[:20]]}, {"ResourceArns": arns[:20]}
    )
    ours = {"Key": "kubernetes.io/cluster/workshop", "Value": "owned"}
    elbv2.add_response(
        "describe_tags",
        {
            "TagDescriptions": [
                {"ResourceArn": arn, **({"Tags": [ours]} if arn == arns[22] else {})} for arn in arns[20:]
            ]
        },
        {"ResourceArns": arns[20:]},
    )
    elb = aws.stub("elb")
    elb.add_response(
        "describe_load_balancers",
        {"LoadBalancerDescriptions": [{"LoadBalancerName": "legacy"}, {"LoadBalancerName": "unrelated"}]},
        {},
    )
    elb.add_response(
        "describe_tags",
        {
            "TagDescriptions": [
                {"LoadBalancerName": "legacy", "Tags": [{"Key": "eks:eks-cluster-name", "Value": "workshop"}]},
                {"LoadBalancerName": "unrelated", "Tags": [{"Key": "eks:eks-cluster-name", "Value": "another"}]},
            ]
        },
        {"LoadBalancerNames": ["legacy", "unrelated"]},
    )
    aws.stub("logs").add_response(
        "describe_log_groups", {"logGroups": []}, {"logGroupNamePrefix": "/aws/eks/workshop/"}
    )
    aws.stub("ec2").add_response("describe_volumes", {"Volumes": []}, None)
    found = find_leftovers(aws, "workshop", "us-east-1")
    aws.assert_done()
    assert [f.to_dict() for f in found] == [
        {
            "kind": "load-balancer",
            "id": arns[22],
            "name": "lb22",
            "delete_command": f"aws elbv2 delete-load-balancer --region us-east-1 --load-balancer-arn {arns[22]}",
        },
        {
            "kind": "classic-load-balancer",
            "id": "legacy",
            "name": "legacy",
            "delete_command": "aws elb delete-load-balancer --region us-east-1 --load-balancer-name legacy",
        },
    ]


def test_the_preflight_command_prints_json_and_exits_2_on_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None
) -> None:
    """The command builds its own boto3 clients; without credentials botocore refuses before any request."""
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    config = tmp_path / "inferctl.yaml"
    config.write_text(
        "name: workshop\ntarget: aws\nmodels:\n  - name: llama3\n    source: meta-llama/Meta-Llama-3-8B-Instruct\n",
        encoding="utf-8",
    )
    app = typer.Typer()
    aws_cmd.register(app)
    result = CliRunner().invoke(app, ["aws", "preflight", "-c", str(config), "-o", "json"])
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == ["credentials", "pulumi"]
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2


def test_importing_the_target_and_its_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, inferctl.targets.aws, inferctl.cli.aws_cmd, inferctl.aws;"
        "print(sorted(m for m in ('pulumi', 'pulumi_aws', 'boto3', 'botocore', 'lightkube') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_leftovers_that_aws_will_not_list_are_one_line_saying_where_to_look() -> None:
    aws = StubbedAws()
    aws.stub("ec2").add_client_error("describe_instances", "UnauthorizedOperation", "not authorized", 403)
    with pytest.raises(OperationError) as failed:
        find_leftovers(aws, "workshop", "us-east-1")
    assert failed.value.message == (
        "could not check for leftovers (UnauthorizedOperation); look in the EC2 console for instances, EBS volumes "
        "and load balancers tagged kubernetes.io/cluster/workshop or elbv2.k8s.aws/cluster=workshop, and in CloudWatch "
        "Logs for /aws/eks/workshop/, in us-east-1"
    )


def test_a_profile_that_does_not_exist_is_one_line_for_every_aws_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_aws: None
) -> None:
    """boto3 reads AWS_PROFILE when a session is made: the target, --live-prices and the EKS token all say so."""
    from inferctl.aws.token import eks_token
    from inferctl.catalog import fetch_price_book

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    expected = r"cannot use the AWS configuration \(The config profile \(no-such-profile\) could not be found\); fix"
    with pytest.raises(ConfigError, match=expected):
        AwsTarget(aws_config(), Home(tmp_path)).clients()
    with pytest.raises(ConfigError, match=expected):
        fetch_price_book(["g5.xlarge"], "us-east-1")
    with pytest.raises(ConfigError, match=expected):
        eks_token("workshop", "us-east-1")


def test_a_missing_aws_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from inferctl import aws_sdk as sdk

    real = importlib.util.find_spec
    monkeypatch.setattr(sdk.importlib.util, "find_spec", lambda name: None if name == "pulumi" else real(name))
    with pytest.raises(MissingDependencyError) as failed:
        AwsTarget(aws_config(), Home(tmp_path), clients=no_aws).plan()
    assert failed.value.message == "planning the aws target needs pulumi: pip install 'inferctl[aws]'"
    assert failed.value.exit_code == 2
