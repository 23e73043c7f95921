"""Every pod the aws platform puts on its system nodes, with its CPU and memory requests: the one table that sizes
the system node group (:mod:`inferctl.sizing.system_nodes`) and that the Helm values inferctl sets are built from.

Each entry says where its numbers come from: the chart's or the EKS add-on manifest's own requests at the version
inferctl pins, or a request inferctl sets in its Helm values (where a chart requests nothing, an unrequested pod
would make the sum meaningless, so inferctl requests it). Three EKS add-on DaemonSets request no memory, and their
add-on configuration cannot be set from here without facts we do not have (the add-ons' configuration schemas):
for those the table carries an **allowance**, inferctl's figure for what the pod uses, counted by the sizing but not
requested from the scheduler. Sources (read at the tags named; copied as data):

* Karpenter 1.14.1: ``/work/shared/reference/karpenter-v1.14.1/helm-values.yaml`` (the chart's values.yaml):
  ``replicas: 2``, ``podAntiAffinity`` required on ``kubernetes.io/hostname``, a zone ``topologySpreadConstraints``
  with ``DoNotSchedule``, ``controller.resources: {}`` (its comment suggests 1 CPU / 1Gi). Image
  ``public.ecr.aws/karpenter/controller:1.14.1``: aws/karpenter-provider-aws v1.14.1 ``.ko.yaml`` builds
  ``defaultPlatforms: linux/arm64, linux/amd64``.
* AWS Load Balancer Controller chart 1.14.0 (kubernetes-sigs/aws-load-balancer-controller v2.14.0,
  ``helm/aws-load-balancer-controller/values.yaml``): ``replicaCount: 2``, ``resources: {}`` with a commented
  suggestion of 100m / 128Mi, ``configureDefaultAffinity: true`` (``templates/deployment.yaml``: preferred
  anti-affinity on the hostname). Image ``public.ecr.aws/eks/aws-load-balancer-controller:v2.14.0``: ``Makefile``
  ``IMG_PLATFORM ?= linux/amd64,linux/arm64``.
* KEDA 2.20.2 (kedacore/charts v2.20.2, ``keda/values.yaml``): operator, metrics API server and admission webhooks,
  ``replicaCount: 1`` each, ``resources.operator|metricServer|webhooks.requests`` 100m / 100Mi. Images
  ``ghcr.io/kedacore/keda*:2.20.2``: kedacore/keda v2.20.2 ``Makefile`` ``BUILD_PLATFORMS ?=
  linux/amd64,linux/arm64,linux/s390x``.
* KEDA HTTP add-on 0.15.0 (kedacore/charts c4b92e9, "release v0.15.0", ``http-add-on/values.yaml``):
  ``operator.replicas: 1``, ``scaler.replicas: 3``, ``interceptor.replicas.min: 3`` (``max: 50``, scaled by the
  chart's own ScaledObject), each requesting 250m / 20Mi. Images ``ghcr.io/kedacore/http-add-on-*:0.15.0``:
  kedacore/http-add-on v0.15.0 ``Makefile`` ``KO_RELEASE_PLATFORMS ?= linux/amd64,linux/arm64,linux/s390x``.
* Prometheus chart 29.27.0 (prometheus-community/helm-charts prometheus-29.27.0, ``charts/prometheus``):
  ``server.replicaCount: 1``, ``server.resources: {}`` and ``configmapReload.prometheus.resources: {}``
  (``templates/deploy.yaml``: the server's two containers). Images ``quay.io/prometheus/prometheus:v3.14.0``
  (Chart.yaml ``appVersion``): prometheus/prometheus v3.14.0 ``Makefile.common`` ``DOCKER_ARCHS ?= amd64 arm64
  ...``; ``quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1``: prometheus-operator's
  ``scripts/push-docker-image.sh`` ``CPU_ARCHS`` "amd64 arm64 arm ppc64le s390x" (read at v0.93.0, the stored
  snapshot has no v0.93.1 tag).
* CoreDNS (EKS add-on): eksctl-io/eksctl v0.230.0 ``pkg/addons/default/assets/coredns-1.36.json``, EKS's CoreDNS
  Deployment for Kubernetes 1.36 as eksctl ships it: 2 replicas, requests 100m / 70Mi (limit 170Mi), preferred
  anti-affinity on the hostname, node affinity ``kubernetes.io/arch`` in amd64, arm64. (The same requests as
  kubernetes/kubernetes ``cluster/addons/dns/coredns/coredns.yaml.base``.)
* kube-proxy (EKS add-on): eksctl-io/eksctl v0.230.0 ``pkg/addons/default/testdata/sample-1.25.json`` (an EKS
  cluster's kube-proxy DaemonSet): requests ``cpu: 100m`` and no memory, as aws/containers-roadmap issue 1509 says
  of the add-on. Allowance 64Mi: twice the 30Mi kubernetes/kops PR 6352 never saw kube-proxy exceed on t3.large to
  m5.xlarge nodes. arm64: eksctl's ``pkg/addons/default/kube_proxy.go`` adds arm64 to the DaemonSet's node affinity
  for the add-on's multi-arch images.
* vpc-cni ``aws-node`` (EKS add-on): aws/amazon-vpc-cni-k8s v1.23.0 ``config/master/aws-k8s-cni.yaml`` (generated
  from ``charts/aws-vpc-cni``): containers aws-node and aws-eks-nodeagent request 25m each (init 25m), no memory.
  Allowance 100Mi: the 50Mi per container aws/amazon-vpc-cni-k8s PR 2760 proposed (closed, not merged). arm64: the
  chart's node affinity lists amd64 and arm64.
* eks-pod-identity-agent (EKS add-on): aws/eks-pod-identity-agent v0.1.37 ``charts/eks-pod-identity-agent/
  values.yaml``: ``resources: {}``; allowance: the same file's commented suggestion, 100m / 128Mi. arm64: the
  chart's node affinity lists amd64 and arm64.
* EBS CSI driver (EKS add-on, only for ``kubernetes.model_cache: pvc``): kubernetes-sigs/aws-ebs-csi-driver v1.64.0
  ``deploy/kubernetes/base/controller.yaml`` (2 replicas; ebs-plugin, provisioner, attacher, snapshotter, resizer at
  10m / 40Mi, liveness-probe 10m / 32Mi) and ``node.yaml`` (ebs-plugin 10m / 40Mi, node-driver-registrar and
  liveness-probe 10m / 32Mi); ``charts/aws-ebs-csi-driver/values.yaml`` ``controller.affinity``: preferred
  anti-affinity. arm64: ``Makefile`` ``ALL_ARCH_linux?=amd64 arm64``.
* The model gateway (render/gateway.py): 2 replicas at :data:`GATEWAY_POD_REQUESTS` (the gateway and, when a model
  sleeps at zero, its wake registrar together). Image ``lightseekorg/smg:1.13.0``: smg-project/smg
  ``.github/workflows/release-docker.yml`` (main, f8daa8835a8b) builds ``platforms: linux/amd64,linux/arm64`` for
  every release tag (:mod:`inferctl.gateway`); not checked against Docker Hub, which is unreachable here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inferctl.cache.location import uses_cache
from inferctl.config.models import PlatformConfig
from inferctl.gateway import GATEWAY_IMAGE, GATEWAY_IMAGE_ARM64

Spread = Literal["required", "preferred", "none"]  # pod anti-affinity on kubernetes.io/hostname


@dataclass(frozen=True)
class Resources:
    """CPU in millicores, memory in MiB (what one pod asks for, all its containers together)."""

    cpu_m: int
    memory_mib: int

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib)

    def times(self, count: int) -> Resources:
        return Resources(self.cpu_m * count, self.memory_mib * count)

    def quantities(self) -> dict[str, str]:
        """Kubernetes quantities in their canonical form: ``{"cpu": "250m", "memory": "1Gi"}``."""
        return {"cpu": f"{self.cpu_m}m", "memory": mebibytes(self.memory_mib)}


def mebibytes(mib: int) -> str:
    """``1024`` -> ``1Gi``, ``256`` -> ``256Mi`` (how the API server writes a memory quantity back)."""
    return f"{mib // 1024}Gi" if mib and mib % 1024 == 0 else f"{mib}Mi"


ZERO = Resources(0, 0)


@dataclass(frozen=True)
class Image:
    """A container image at its pinned tag; ``arm64``: published for linux/arm64 (None: not known)."""

    ref: str
    arm64: bool | None


@dataclass(frozen=True)
class SystemPod:
    """One workload on the system nodes. ``replicas``: a Deployment's pods (an autoscaled one at its minimum); a
    DaemonSet runs one pod per node. ``requests``: what the scheduler sees. ``allowance``: inferctl's figure for a
    resource the pod does not request (ZERO where it requests everything)."""

    name: str
    component: str
    kind: Literal["Deployment", "DaemonSet"]
    replicas: int
    requests: Resources
    spread: Spread
    images: tuple[Image, ...]
    set_by: Literal["chart", "EKS add-on", "inferctl"]
    allowance: Resources = ZERO

    @property
    def budget(self) -> Resources:
        """What the sizing counts for one pod: per resource the larger of its request and its allowance."""
        return Resources(
            max(self.requests.cpu_m, self.allowance.cpu_m), max(self.requests.memory_mib, self.allowance.memory_mib)
        )

    @property
    def pods_per_node(self) -> int:
        return 1 if self.kind == "DaemonSet" else 0


def container_resources(requests: Resources, *, memory_limit_mib: int | None = None) -> dict[str, Any]:
    """A container's ``resources`` as Helm values take them: the requests, and a memory limit where one is set
    (no CPU limits: a throttled controller is slower, not safer)."""
    out: dict[str, Any] = {"requests": requests.quantities()}
    if memory_limit_mib is not None:
        out["limits"] = {"memory": mebibytes(memory_limit_mib)}
    return out


# --- the requests inferctl sets in its Helm values (the renderers import these; the table below uses them) -------

# Karpenter: half the CPU its chart's comment suggests (it idles between scheduling rounds), its memory in full,
# limited to it: Karpenter caches every instance type and offering of the region.
KARPENTER_REQUESTS = Resources(500, 1024)
KARPENTER_MEMORY_LIMIT_MIB = 1024
# The load balancer controller: the chart's own commented suggestion (values.yaml ``resources``), as requests.
LB_CONTROLLER_REQUESTS = Resources(100, 128)
# Prometheus' server: one server scraping a few nodes' kubelets and cAdvisor, the API server and this platform's
# vLLM pods, with no volume. 512Mi requested (an estimate: nothing here measured it on EKS); the 1Gi limit bounds a
# runaway, and a restart loses only history (2 days at most, docs/guides/aws.md).
PROMETHEUS_SERVER_REQUESTS = Resources(100, 512)
PROMETHEUS_SERVER_MEMORY_LIMIT_MIB = 1024
# Its configmap-reload sidecar (prometheus-config-reloader): a small Go process watching one ConfigMap.
PROMETHEUS_RELOADER_REQUESTS = Resources(10, 32)
PROMETHEUS_RELOADER_MEMORY_LIMIT_MIB = 64
# The model gateway: one Deployment per platform on the system nodes. Its renderer (render/gateway.py) imports
# these, so the node group is sized for what it deploys; change them here, with the reason, and the sizing follows.
# A quarter of a core and 256Mi per replica: smg is a Rust proxy; nothing here measured it under load on EKS.
GATEWAY_POD_REQUESTS = Resources(250, 256)
GATEWAY_REPLICAS = 2
GATEWAY_SPREAD: Spread = "preferred"


def _images(*refs: str, arm64: bool | None) -> tuple[Image, ...]:
    return tuple(Image(ref, arm64) for ref in refs)


_KEDA = "ghcr.io/kedacore/"
_EKS_ECR = "602401143452.dkr.ecr.<region>.amazonaws.com/"  # EKS add-on images: the region's EKS registry


def system_pods(config: PlatformConfig) -> list[SystemPod]:
    """The pods ``up --target aws`` runs on the system node group for ``config``, largest first within a kind."""
    replicas = min(2, config.aws.system_nodes.desired_size)  # karpenter.py / lb_controller.py: one per node, up to 2
    pods = [
        SystemPod(
            "aws-node", "vpc-cni", "DaemonSet", 1, Resources(50, 0), "none",
            _images(f"{_EKS_ECR}amazon-k8s-cni:v1.23.0", f"{_EKS_ECR}amazon/aws-network-policy-agent:v1.4.1",
                    arm64=True),
            "EKS add-on", allowance=Resources(0, 100),
        ),
        SystemPod(
            "kube-proxy", "kube-proxy", "DaemonSet", 1, Resources(100, 0), "none",
            _images(f"{_EKS_ECR}eks/kube-proxy", arm64=True), "EKS add-on", allowance=Resources(0, 64),
        ),
        SystemPod(
            "eks-pod-identity-agent", "eks-pod-identity-agent", "DaemonSet", 1, ZERO, "none",
            _images(f"{_EKS_ECR}eks/eks-pod-identity-agent", arm64=True), "EKS add-on",
            allowance=Resources(100, 128),
        ),
        SystemPod(
            "coredns", "coredns", "Deployment", 2, Resources(100, 70), "preferred",
            _images(f"{_EKS_ECR}eks/coredns:v1.14.3-eksbuild.9", arm64=True), "EKS add-on",
        ),
        SystemPod(
            "karpenter", "karpenter", "Deployment", replicas, KARPENTER_REQUESTS, "required",
            _images(f"public.ecr.aws/karpenter/controller:{config.aws.karpenter_version}", arm64=True), "inferctl",
        ),
        SystemPod(
            "aws-load-balancer-controller", "aws-load-balancer-controller", "Deployment", replicas,
            LB_CONTROLLER_REQUESTS, "preferred",
            _images("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.0", arm64=True), "inferctl",
        ),
        SystemPod(
            "keda-operator", "keda", "Deployment", 1, Resources(100, 100), "none",
            _images(f"{_KEDA}keda:2.20.2", arm64=True), "chart",
        ),
        SystemPod(
            "keda-operator-metrics-apiserver", "keda", "Deployment", 1, Resources(100, 100), "none",
            _images(f"{_KEDA}keda-metrics-apiserver:2.20.2", arm64=True), "chart",
        ),
        SystemPod(
            "keda-admission-webhooks", "keda", "Deployment", 1, Resources(100, 100), "none",
            _images(f"{_KEDA}keda-admission-webhooks:2.20.2", arm64=True), "chart",
        ),
        SystemPod(
            "keda-add-ons-http-operator", "keda-http-add-on", "Deployment", 1, Resources(250, 20), "none",
            _images(f"{_KEDA}http-add-on-operator:0.15.0", arm64=True), "chart",
        ),
        SystemPod(
            "keda-add-ons-http-external-scaler", "keda-http-add-on", "Deployment", 3, Resources(250, 20), "none",
            _images(f"{_KEDA}http-add-on-scaler:0.15.0", arm64=True), "chart",
        ),
        SystemPod(
            "keda-add-ons-http-interceptor", "keda-http-add-on", "Deployment", 3, Resources(250, 20), "none",
            _images(f"{_KEDA}http-add-on-interceptor:0.15.0", arm64=True), "chart",
        ),
        SystemPod(
            "prometheus-server", "prometheus", "Deployment", 1,
            PROMETHEUS_SERVER_REQUESTS + PROMETHEUS_RELOADER_REQUESTS, "none",
            _images("quay.io/prometheus/prometheus:v3.14.0",
                    "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1", arm64=True),
            "inferctl",
        ),
        SystemPod(
            "model-gateway", "model-gateway", "Deployment", GATEWAY_REPLICAS, GATEWAY_POD_REQUESTS, GATEWAY_SPREAD,
            _images(GATEWAY_IMAGE, arm64=GATEWAY_IMAGE_ARM64), "inferctl",
        ),
    ]  # fmt: skip
    if installs_ebs_csi_driver(config):
        ebs = "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver"  # the add-on version resolves at plan time
        pods += [
            SystemPod("ebs-csi-node", "aws-ebs-csi-driver", "DaemonSet", 1, Resources(30, 104), "none",
                      _images(ebs, arm64=True), "EKS add-on"),
            SystemPod("ebs-csi-controller", "aws-ebs-csi-driver", "Deployment", 2, Resources(60, 232), "preferred",
                      _images(ebs, arm64=True), "EKS add-on"),
        ]  # fmt: skip
    return pods


def installs_ebs_csi_driver(config: PlatformConfig) -> bool:
    """aws/storage.py installs the EBS CSI driver add-on for a PVC model cache and for the volumes of the S3 cache's
    mirror Jobs (render/model_cache.py), and only then."""
    return config.kubernetes.model_cache == "pvc" or any(uses_cache(config, model) for model in config.models)


def total_budget(pods: list[SystemPod], nodes: int) -> Resources:
    """What every pod together counts against ``nodes`` nodes (a DaemonSet once per node)."""
    total = ZERO
    for pod in pods:
        total = total + pod.budget.times(nodes if pod.kind == "DaemonSet" else pod.replicas)
    return total


def pod_count(pods: list[SystemPod], nodes: int) -> int:
    return sum(nodes if pod.kind == "DaemonSet" else pod.replicas for pod in pods)


def arm64_blockers(pods: list[SystemPod]) -> list[str]:
    """Images not known to be published for arm64 (each ``ref``), which keep the system nodes on x86."""
    return [image.ref for pod in pods for image in pod.images if image.arm64 is not True]


def as_rows(pods: list[SystemPod]) -> list[Mapping[str, Any]]:
    """The table as ``plan --output json`` shows it."""
    return [
        {
            "name": pod.name,
            "kind": pod.kind,
            "replicas": pod.replicas if pod.kind == "Deployment" else "per node",
            "cpu_m": pod.requests.cpu_m,
            "memory_mib": pod.requests.memory_mib,
            "allowance": pod.allowance.quantities() if pod.allowance != ZERO else None,
            "spread": pod.spread,
            "set_by": pod.set_by,
        }
        for pod in pods
    ]
