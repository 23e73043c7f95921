"""Sizing the system node group from its pods: AL2023's reservations, the placement with anti-affinity, the 20%
headroom, the ``auto`` choice, and a named type too small for the pods.

nodeadm's own test vectors (awslabs/amazon-eks-ami v20260724, ``nodeadm/test/e2e/cases/``):
``custom-max-pods-expression/expected-kubelet-config.json`` (2 CPUs, maxPods 44: kubeReserved cpu 70m, memory
739Mi) and ``kubelet-config-new-instance-type/expected-kubelet-config.json`` (maxPods 110: 1465Mi).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferctl.aws.eks import system_ami_type
from inferctl.catalog.instances import get_instance
from inferctl.errors import PlanError
from inferctl.sizing import system_nodes as sizing
from inferctl.sizing.system_nodes import (
    HEADROOM,
    allocatable,
    choose_system_nodes,
    kube_reserved_cpu_m,
    kube_reserved_memory_mib,
    place,
    system_instance_types,
)
from inferctl.sizing.system_pods import Image, Resources, SystemPod, pod_count, system_pods
from tests.support.aws import aws_config

CONFIG = aws_config()


def test_reservations_follow_nodeadm() -> None:
    assert kube_reserved_cpu_m(2) == 70  # nodeadm's e2e vector
    assert (kube_reserved_memory_mib(44), kube_reserved_memory_mib(110)) == (739, 1465)
    # 6% of core 1, 1% of core 2, 0.5% of cores 3-4, 0.25% beyond: 60 + 10 + 10 + 4 x 2.5
    assert (kube_reserved_cpu_m(1), kube_reserved_cpu_m(4), kube_reserved_cpu_m(8)) == (60, 80, 90)
    # m5.xlarge: 4 vCPU, 16 GiB less 7.5%, 58 pods (4 ENIs x 14 addresses): the catalog's figures exactly
    m5 = get_instance("m5.xlarge")
    assert allocatable(m5) == Resources(4000 - 80, int(16384 * 0.925) - (11 * 58 + 255) - 100) == Resources(3920, 14162)
    # c6g.large: the catalog (Karpenter's table) is lower than the formula, and the lower one counts
    c6g = get_instance("c6g.large")
    assert allocatable(c6g).memory_mib == c6g.allocatable_memory_mib < int(4096 * 0.925) - (11 * 29 + 255) - 100


def test_the_default_pair_holds_every_system_pod_with_the_documented_headroom() -> None:
    """The acceptance check: on the pair ``auto`` chooses, every pod has a node (requests within allocatable, pods
    within maxPods, Karpenter's two replicas on two nodes), and each node keeps 20% of its CPU and memory free."""
    choice = choose_system_nodes(CONFIG)
    assert choice.auto and (choice.count, choice.instance.name) == (2, "c6g.xlarge")
    fit = choice.fit
    pods = system_pods(CONFIG)
    assert fit.schedules and fit.within_headroom and not fit.unplaced
    assert sum(len(node.pods) for node in fit.nodes) == pod_count(pods, 2) == 25
    alloc = allocatable(choice.instance)
    for node in fit.nodes:
        assert node.requests.cpu_m <= node.budget.cpu_m <= alloc.cpu_m * (1 - HEADROOM)
        assert node.requests.memory_mib <= node.budget.memory_mib <= alloc.memory_mib * (1 - HEADROOM)
        assert len(node.pods) <= choice.instance.max_pods
        assert node.pods.count("karpenter") == 1  # required anti-affinity
        assert {"aws-node", "kube-proxy", "eks-pod-identity-agent"} <= set(node.pods)
    # Room for a rolling update's surge pod: the largest system pod fits in what a node leaves free.
    largest = max((pod.budget for pod in pods), key=lambda r: (r.memory_mib, r.cpu_m))
    assert any(
        alloc.cpu_m - n.budget.cpu_m >= largest.cpu_m and alloc.memory_mib - n.budget.memory_mib >= largest.memory_mib
        for n in fit.nodes
    )
    assert system_instance_types(CONFIG) == ["c6g.xlarge"] and system_ami_type(["c6g.xlarge"]).endswith(
        "ARM_64_STANDARD"
    )


def test_auto_takes_the_cheapest_type_that_fits_and_smaller_ones_do_not() -> None:
    choice = choose_system_nodes(CONFIG)
    price = choice.instance.on_demand_usd_per_hour or 0.0
    pods = system_pods(CONFIG)
    cheaper = [inst for inst in sizing._auto_candidates() if (inst.on_demand_usd_per_hour or 0.0) < price]
    assert cheaper  # c6a.large, m6g.large, ...: 2 vCPU nodes offer 1.93 vCPU each to 4.56 vCPU of pods
    for inst in cheaper:
        fit = place(pods, inst, 2)
        assert not fit.within_headroom or inst.arch == "arm64", inst.name
    assert "every image on the system nodes is published for arm64" in choice.arch_note
    # Burstable and -flex types are never candidates, though t3.xlarge would hold the pods.
    names = {inst.name for inst in sizing._auto_candidates()}
    assert not {"t3.xlarge", "t4g.xlarge", "m7i-flex.xlarge"} & names and "c6a.xlarge" in names
    assert place(pods, get_instance("t3.xlarge"), 2).within_headroom


def test_one_image_not_known_for_arm64_keeps_auto_on_x86(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every image is multi-arch now (the gateway's included), so the cheaper Graviton pair wins; an image not
    known to be published for arm64 would keep auto on x86 and say which."""
    real = sizing.system_pods

    def one_unknown(config: object) -> list[SystemPod]:
        pods = real(CONFIG)
        return [
            SystemPod(**{**p.__dict__, "images": tuple(Image(i.ref, None) for i in p.images)})  # type: ignore[arg-type]
            if p.name == "model-gateway"
            else p
            for p in pods
        ]

    default = choose_system_nodes(CONFIG)
    assert (default.instance.name, default.instance.arch) == ("c6g.xlarge", "arm64")
    assert system_ami_type(default.instance_types) == "AL2023_ARM_64_STANDARD"
    monkeypatch.setattr(sizing, "system_pods", one_unknown)
    choice = choose_system_nodes(CONFIG)
    assert (choice.instance.name, choice.instance.arch) == ("c6a.xlarge", "amd64")
    assert "c6g.xlarge" in choice.arch_note and "not known to be published for arm64" in choice.arch_note


def test_required_anti_affinity_leaves_replicas_past_the_node_count_pending() -> None:
    spread = SystemPod("spread", "x", "Deployment", 3, Resources(100, 100), "required", (), "inferctl")
    fit = place([spread], get_instance("m5.xlarge"), 2)
    assert fit.unplaced == ("spread",) and not fit.schedules
    # preferred anti-affinity still schedules the third replica, beside another
    loose = SystemPod("loose", "x", "Deployment", 3, Resources(100, 100), "preferred", (), "inferctl")
    assert place([loose], get_instance("m5.xlarge"), 2).schedules
    # maxPods counts: 8 pods on a node that takes 8 (c6g.medium) fit, 9 do not
    many = SystemPod("many", "x", "Deployment", 9, Resources(1, 1), "none", (), "inferctl")
    assert not place([many], get_instance("c6g.medium"), 1).schedules
    assert place([many], get_instance("c6g.medium"), 2).schedules


def test_m5_xlarge_stays_available_by_name_and_fits() -> None:
    config = aws_config(system_nodes={"instance_types": ["m5.xlarge"]})
    choice = choose_system_nodes(config)
    assert not choice.auto and choice.instance.name == "m5.xlarge" and choice.fit.within_headroom
    assert system_instance_types(config) == ["m5.xlarge"] and not choice.warnings


def test_a_named_type_that_cannot_hold_the_pods_is_refused_in_one_line() -> None:
    config = aws_config(system_nodes={"instance_types": ["t3.medium"]})
    with pytest.raises(PlanError) as caught:
        choose_system_nodes(config)
    assert caught.value.exit_code == 2 and "\n" not in caught.value.message
    assert caught.value.message.startswith("aws.system_nodes: 2 x t3.medium cannot hold the system pods (4.56 vCPU")
    assert "keda-add-ons-http-interceptor" in caught.value.message and "instance_types to auto" in caught.value.message


def test_a_named_type_over_the_headroom_is_a_warning() -> None:
    # 3 x m6i.large: the pods schedule, but the busiest node is past 80% of its CPU
    config = aws_config(system_nodes={"instance_types": ["m6i.large"], "desired_size": 3, "min_size": 3})
    choice = choose_system_nodes(config)
    assert choice.fit.schedules and not choice.fit.within_headroom
    (warning,) = choice.warnings
    assert "m6i.large's CPU" in warning and "instance_types: auto" in warning


def test_instance_types_is_auto_or_a_list() -> None:
    with pytest.raises(ValidationError, match=r"'m5.xlarge' is neither auto nor a list; write auto or a list such as"):
        aws_config(system_nodes={"instance_types": "m5.xlarge"})
    with pytest.raises(ValidationError):
        aws_config(system_nodes={"instance_types": []})
    assert aws_config().aws.system_nodes.instance_types == "auto"
