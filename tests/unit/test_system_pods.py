"""The system pods' table (``sizing/system_pods.py``) against the charts inferctl pins and the values it sets.

Upstream values files, unchanged: ``tests/fixtures/helm/`` (see its README: KEDA 2.20.2, the HTTP add-on 0.15.0,
Prometheus 29.27.0, the AWS Load Balancer Controller 1.14.0) and ``../shared/reference/karpenter-v1.14.1/
helm-values.yaml`` (Karpenter's chart values). A chart default copied wrong into the table, or a request inferctl
sets in one place and sizes for with another, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferctl.aws.addons import http_addon_values, prometheus_values
from inferctl.config.models import PlatformConfig
from inferctl.sizing.system_pods import (
    GATEWAY_POD_REQUESTS,
    GATEWAY_REPLICAS,
    KARPENTER_MEMORY_LIMIT_MIB,
    KARPENTER_REQUESTS,
    LB_CONTROLLER_REQUESTS,
    PROMETHEUS_RELOADER_REQUESTS,
    PROMETHEUS_SERVER_REQUESTS,
    Resources,
    SystemPod,
    arm64_blockers,
    container_resources,
    system_pods,
    total_budget,
)
from tests.support.aws import aws_config
from tests.support.sizing import shared_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "helm"
CONFIG = aws_config()


def _values(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _requests(resources: dict[str, Any]) -> Resources:
    """``{"requests": {"cpu": "100m", "memory": "100Mi"}}`` -> Resources(100, 100) (the forms these charts use)."""
    cpu, memory = str(resources["requests"]["cpu"]), str(resources["requests"]["memory"])
    millicores = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    mib = int(memory[:-2]) * (1024 if memory.endswith("Gi") else 1)
    return Resources(millicores, mib)


def _pod(name: str, config: PlatformConfig = CONFIG) -> SystemPod:
    return next(pod for pod in system_pods(config) if pod.name == name)


def test_keda_and_its_http_add_on_are_sized_at_their_charts_requests_and_replicas() -> None:
    keda = _values("keda-2.20.2-values.yaml")
    for pod, part, key in (
        ("keda-operator", "operator", "operator"),
        ("keda-operator-metrics-apiserver", "metricsServer", "metricServer"),
        ("keda-admission-webhooks", "webhooks", "webhooks"),
    ):
        assert _pod(pod).requests == _requests(keda["resources"][key]) == Resources(100, 100)
        assert _pod(pod).replicas == keda[part]["replicaCount"] == 1
    http = _values("keda-add-ons-http-0.15.0-values.yaml")
    replicas = {
        "operator": http["operator"]["replicas"],
        "scaler": http["scaler"]["replicas"],
        "interceptor": http["interceptor"]["replicas"]["min"],  # KEDA scales it between min and max
    }
    assert replicas == {"operator": 1, "scaler": 3, "interceptor": 3}
    for part, pod in (
        ("operator", "keda-add-ons-http-operator"),
        ("scaler", "keda-add-ons-http-external-scaler"),
        ("interceptor", "keda-add-ons-http-interceptor"),
    ):
        assert _pod(pod).requests == _requests(http[part]["resources"]) == Resources(250, 20)
        assert _pod(pod).replicas == replicas[part]
    # inferctl leaves those requests and replica counts as the charts have them
    for part in ("operator", "scaler", "interceptor"):
        assert "resources" not in http_addon_values({})[part] and "replicas" not in http_addon_values({})[part]


def test_where_a_chart_requests_nothing_inferctl_requests_what_it_sizes_for() -> None:
    prometheus = _values("prometheus-29.27.0-values.yaml")
    assert prometheus["server"]["resources"] == {} and prometheus["configmapReload"]["prometheus"]["resources"] == {}
    values = prometheus_values("p", {})
    assert values["server"]["resources"]["requests"] == PROMETHEUS_SERVER_REQUESTS.quantities()
    assert values["configmapReload"]["prometheus"]["resources"]["requests"] == PROMETHEUS_RELOADER_REQUESTS.quantities()
    assert _pod("prometheus-server").requests == PROMETHEUS_SERVER_REQUESTS + PROMETHEUS_RELOADER_REQUESTS
    assert prometheus["server"]["replicaCount"] == _pod("prometheus-server").replicas == 1

    lb = _values("aws-load-balancer-controller-1.14.0-values.yaml")
    assert lb["resources"] == {} and lb["replicaCount"] == 2 and lb["configureDefaultAffinity"] is True
    controller = _pod("aws-load-balancer-controller")
    assert (controller.requests, controller.replicas, controller.spread) == (LB_CONTROLLER_REQUESTS, 2, "preferred")

    assert container_resources(KARPENTER_REQUESTS, memory_limit_mib=KARPENTER_MEMORY_LIMIT_MIB) == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }


def test_karpenter_is_two_replicas_that_never_share_a_node() -> None:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared (Karpenter's chart values) is not next to this checkout")
    chart = yaml.safe_load((shared / "reference" / "karpenter-v1.14.1" / "helm-values.yaml").read_text())
    assert chart["replicas"] == 2 and chart["controller"]["resources"] == {}
    (term,) = chart["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    karpenter = _pod("karpenter")
    assert (karpenter.replicas, karpenter.spread, karpenter.requests) == (2, "required", KARPENTER_REQUESTS)
    # one system node: one replica (aws/karpenter.py asks for min(2, desired_size))
    single = aws_config(system_nodes={"desired_size": 1, "min_size": 1})
    assert _pod("karpenter", single).replicas == 1


def test_every_pod_counts_cpu_and_memory_and_the_gateway_has_its_named_requests() -> None:
    """An unrequested pod would make the sum meaningless: each pod's budget (request or allowance) is non-zero."""
    for pod in system_pods(CONFIG):
        assert pod.budget.cpu_m > 0 and pod.budget.memory_mib > 0, pod.name
    gateway = _pod("model-gateway")
    assert (gateway.requests, gateway.replicas) == (GATEWAY_POD_REQUESTS, GATEWAY_REPLICAS) == (Resources(250, 256), 2)
    # The EKS add-on DaemonSets that request no memory carry an allowance, and only those
    allowances = {pod.name: pod.allowance for pod in system_pods(CONFIG) if pod.allowance != Resources(0, 0)}
    assert set(allowances) == {"aws-node", "kube-proxy", "eks-pod-identity-agent"}
    assert all(_pod(name).requests.memory_mib == 0 for name in allowances)


def test_the_sum_is_the_tables_sum_and_the_ebs_driver_joins_only_for_a_pvc_or_s3_cache() -> None:
    pods = system_pods(CONFIG)
    # DaemonSets on each of 2 nodes: aws-node 50m/100Mi, kube-proxy 100m/64Mi, pod identity agent 100m/128Mi.
    # Deployments: CoreDNS 2 x 100m/70Mi, Karpenter 2 x 500m/1Gi, LB controller 2 x 100m/128Mi, KEDA 3 x 100m/100Mi,
    # HTTP add-on 7 x 250m/20Mi, Prometheus 110m/544Mi, gateway 2 x 250m/256Mi.
    cpu = 2 * (50 + 100 + 100) + 2 * 100 + 2 * 500 + 2 * 100 + 3 * 100 + 7 * 250 + 110 + 2 * 250
    memory = 2 * (100 + 64 + 128) + 2 * 70 + 2 * 1024 + 2 * 128 + 3 * 100 + 7 * 20 + 544 + 2 * 256
    assert total_budget(pods, 2) == Resources(cpu, memory) == Resources(4560, 4524)
    assert not {"ebs-csi-node", "ebs-csi-controller"} & {pod.name for pod in pods}
    with_pvc = CONFIG.model_copy(update={"kubernetes": CONFIG.kubernetes.model_copy(update={"model_cache": "pvc"})})
    pvc = {pod.name: pod for pod in system_pods(with_pvc)}
    assert pvc["ebs-csi-node"].requests == Resources(30, 104) and pvc["ebs-csi-controller"].replicas == 2
    # The S3 cache's mirror Jobs download into volumes of their own: the program installs the driver for them too.
    models = [model.model_copy(update={"revision": "abc", "cache": True}) for model in CONFIG.models]
    cached = {pod.name for pod in system_pods(CONFIG.model_copy(update={"models": models}))}
    assert {"ebs-csi-node", "ebs-csi-controller"} <= cached


def test_every_system_image_is_published_for_arm64() -> None:
    """The gateway's image (lightseekorg/smg:1.13.0, linux/amd64 + linux/arm64: inferctl.gateway) was the last
    one not known to be: nothing keeps the system nodes off Graviton now."""
    assert arm64_blockers(system_pods(CONFIG)) == []
    gateway = next(pod for pod in system_pods(CONFIG) if pod.name == "model-gateway")
    assert [(image.ref, image.arm64) for image in gateway.images] == [("lightseekorg/smg:1.13.0", True)]
