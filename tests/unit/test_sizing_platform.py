"""The platform plan: placements for every model, the fixed cost of an EKS platform, totals and JSON."""

from __future__ import annotations

import json

import pytest

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import PlanError
from inferctl.sizing import plan_platform
from inferctl.sizing.platform_plan import PlatformPlan
from tests.support.sizing import (
    ALWAYS_ON_USD,
    GPU_NODE_VOLUME_USD,
    LLAMA_3_8B_INSTRUCT,
    LLAMA_3_70B,
    SYSTEM_NODES_USD,
    fixture_dir,
    fixture_profile,
)


def _config(target: str = "aws", **extra: object) -> PlatformConfig:
    models = [
        ModelDeployment(name="small", source=str(fixture_dir(LLAMA_3_8B_INSTRUCT)), replicas=2),
        ModelDeployment(name="big", source=str(fixture_dir(LLAMA_3_70B))),
    ]
    return PlatformConfig.model_validate({"target": target, "models": [m.model_dump() for m in models], **extra})


def test_aws_plan_prices_models_and_the_fixed_platform() -> None:
    plan = plan_platform(_config())
    assert plan.placements["small"].instance_type == "g5.xlarge"
    assert plan.placements["big"].instance_type == "g5.48xlarge"
    fixed = {line.item: line.on_demand_usd_per_hour for line in plan.fixed}
    # EKS $0.10, NAT $0.045 + its address $0.005, 2 x c6g.xlarge (auto) at $0.136, one NLB (the gateway's: one per
    # platform, not one per model) at $0.0225, two 50 GiB gp3 system volumes.
    assert fixed == {
        "EKS control plane": 0.10,
        "NAT gateway": pytest.approx(0.05),
        "system nodes": pytest.approx(SYSTEM_NODES_USD),
        "load balancer": pytest.approx(0.0225),
        "storage": pytest.approx(2 * 50 * 0.08 / 730),
    }
    always_on = ALWAYS_ON_USD  # a second model adds no NLB
    # Each GPU node with its data volume: 2 replicas x (1.006 + volume) + (16.288 + volume); spot the same volumes.
    assert plan.total_on_demand_usd_per_hour == pytest.approx(
        always_on + 2 * (1.006 + GPU_NODE_VOLUME_USD) + 16.288 + GPU_NODE_VOLUME_USD, abs=1e-4
    )
    assert plan.total_spot_usd_per_hour == pytest.approx(
        always_on + 2 * (0.4024 + GPU_NODE_VOLUME_USD) + 6.5152 + GPU_NODE_VOLUME_USD, abs=1e-4
    )
    assert plan.profiles["big"].num_parameters == 70_553_706_496


def test_system_nodes_follow_the_config() -> None:
    plan = plan_platform(
        _config(aws={"system_nodes": {"instance_types": ["m6i.large"], "desired_size": 3, "min_size": 3}})
    )
    nodes = next(line for line in plan.fixed if line.item == "system nodes")
    assert nodes.on_demand_usd_per_hour == pytest.approx(3 * 0.096) and "3 x m6i.large" in nodes.detail


def test_kubernetes_target_has_no_fixed_cost() -> None:
    plan = plan_platform(
        _config("kubernetes"),
        profiles={"small": fixture_profile(LLAMA_3_8B_INSTRUCT), "big": fixture_profile(LLAMA_3_70B)},
    )
    assert plan.fixed == [] and any("not aws" in note for note in plan.notes)
    assert plan.total_on_demand_usd_per_hour == pytest.approx(2 * 1.006 + 16.288)


def test_other_region_is_marked_us_east_1() -> None:
    plan = plan_platform(_config(aws={"region": "eu-central-1"}))
    assert plan.region == "eu-central-1"
    assert all(p.price_region == "us-east-1" for p in plan.placements.values())
    assert "eu-central-1" in plan.prices and "us-east-1" in plan.prices


def test_plan_is_json() -> None:
    data = json.loads(json.dumps(plan_platform(_config()).to_dict()))
    assert [m["name"] for m in data["models"]] == ["small", "big"]
    assert data["models"][0]["placement"]["tensor_parallel_size"] == 1
    assert data["models"][1]["profile"]["num_kv_heads"] == 8
    assert data["total"]["on_demand_usd_per_hour"] == pytest.approx(
        ALWAYS_ON_USD + 3 * GPU_NODE_VOLUME_USD + 2 * 1.006 + 16.288, abs=1e-4
    )
    assert [line["item"] for line in data["cost_lines"]] == [
        "EKS control plane",
        "NAT gateway",
        "system nodes",
        "load balancer",
        "storage",
        "model small",
        "model big",
    ]


def test_a_plan_over_the_gpu_pools_limits_is_refused_with_the_limit_to_raise() -> None:
    # big: 3 replicas x g5.48xlarge (8 GPUs each) = 24 GPUs; small: 2 x g5.xlarge = 2 more. The default pool
    # limit of 16 GPUs would let Karpenter launch two of the big nodes and leave the third replica Pending.
    config = _config()
    config.models[1].replicas = 3
    with pytest.raises(PlanError) as caught:
        plan_platform(config)
    assert caught.value.exit_code == 2 and "\n" not in caught.value.message
    assert caught.value.message == (
        "the plan's GPU nodes (2 x g5.xlarge for small, 3 x g5.48xlarge for big) have 26 GPUs but "
        "pools.gpu.limits.gpus is 16, so Karpenter would leave replicas Pending; raise pools.gpu.limits.gpus to 26 "
        "or lower models[].replicas"
    )
    raised = config.model_copy(update={"pools": config.pools.model_copy(deep=True)})
    raised.pools.gpu.limits.gpus = 26
    assert plan_platform(raised).placements["big"].instance_type == "g5.48xlarge"
    # Memory counts too (g5.48xlarge has 768 GiB): 3 x 768 + 2 x 16 = 2,336 GiB over a 2,000 GiB limit.
    raised.pools.gpu.limits.memory_gib = 2000
    with pytest.raises(PlanError, match=r"have 2,336 GiB of memory but pools\.gpu\.limits\.memory_gib is 2,000"):
        plan_platform(raised)


def _unpriced(plan: PlatformPlan) -> str:
    notes = [note for note in plan.notes if note.startswith("$/h leaves out")]
    assert len(notes) == 1, plan.notes
    return notes[0]


def test_an_aws_plan_names_what_its_dollars_per_hour_leave_out() -> None:
    """What the program creates and AWS bills besides instances and the control plane (aws/network.py: one NAT
    gateway in a new VPC; render/exposure.py: an NLB per model on aws; aws/eks.py: control-plane log group;
    aws/model_cache.py: the bucket) is named, not silently missing from the total."""
    default = _unpriced(plan_platform(_config()))
    for item in ("NAT gateway's $0.045 per GB", "load balancers' NLCU", "CloudWatch", "data transfer"):
        assert item in default, default
    assert "S3" not in default
    existing_vpc = _unpriced(
        plan_platform(
            _config(
                aws={"vpc_id": "vpc-0abc1234def567890", "control_plane_logs": []},
                endpoint={"exposure": {"service_type": "ClusterIP"}},
                cache={"enabled": True},
            )
        )
    )
    assert "NAT gateway" not in existing_vpc and "load balancer" not in existing_vpc
    assert "CloudWatch" not in existing_vpc and "S3 storage of the model cache" in existing_vpc


def test_a_kubernetes_plan_has_no_such_note() -> None:
    plan = plan_platform(
        _config("kubernetes"),
        profiles={"small": fixture_profile(LLAMA_3_8B_INSTRUCT), "big": fixture_profile(LLAMA_3_70B)},
    )
    assert not [note for note in plan.notes if note.startswith("$/h leaves out")]
