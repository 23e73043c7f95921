"""Shared helpers for the render tests: workshop configs, a hand-built g5.xlarge placement, and validators for
every kind inferctl renders (Kubernetes core schemas, Karpenter CRDs with their CEL rules checked by hand,
PodMonitor structure).

Nothing here fakes anything: the schemas are the real ones (kubernetes-validate's packaged OpenAPI schemas,
Karpenter v1.14.1's CRDs from ``<repo>/../shared``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.sizing.placement import Placement, PodResources

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
KARPENTER_CRDS = SHARED / "schemas" / "karpenter-v1.14.1"
GOLDEN = REPO / "tests" / "golden" / "render"

LLAMA3_8B = "meta-llama/Meta-Llama-3-8B-Instruct"
LLAMA3_8B_REVISION = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"  # a commit sha (the model's ids are examples here)


def workshop_config(**overrides: Any) -> PlatformConfig:
    """The workshop's platform: aws target, both pools, Llama-3-8B-Instruct (gated), inferctl's safe defaults."""
    data: dict[str, Any] = {
        "name": "genai",
        "target": "aws",
        "models": [{"name": "llama-3-8b-instruct", "source": LLAMA3_8B}],
    }
    data.update(overrides)
    return PlatformConfig.model_validate(data)


def g5_xlarge_placement(model: str = "llama-3-8b-instruct", **changes: Any) -> Placement:
    """Llama-3-8B (16 GB of bf16 weights) on one A10G (24 GiB): 8k context, built by hand so the render tests do
    not depend on sizing. g5.xlarge: 4 vCPU, 16 GiB; the pod asks for what the kubelet leaves allocatable."""
    values: dict[str, Any] = {
        "model": model,
        "instance_type": "g5.xlarge",
        "gpu_name": "A10G",
        "gpu_memory_gib": 24.0,
        "tensor_parallel_size": 1,
        "max_model_len": 8192,
        "gpu_memory_utilization": 0.9,
        "kv_cache_tokens": 41_000,
        "max_concurrency": 5.0,
        "weight_gib": 14.96,
        "kv_bytes_per_token": 131_072,
        "resources": PodResources(gpus=1, cpu="3", memory="12Gi", ephemeral_storage="60Gi", shm="2Gi"),
        "streamer_worker_bytes": 2 * 2**30,  # sizing's default buffer (the largest tensor is 0.98 GiB)
        "on_demand_usd_per_hour": 1.006,
        "spot_usd_per_hour": 0.4,
        "spot_is_estimate": True,
        "price_region": "us-east-1",
    }
    values.update(changes)
    return Placement(**values)


def placements_for(config: PlatformConfig) -> dict[str, Placement]:
    return {m.name: g5_xlarge_placement(m.name) for m in config.models}


def variant_configs() -> dict[str, PlatformConfig]:
    """Configs that together reach every branch of the renderers (used by schema and checkov tests)."""
    two_models = [
        {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "replicas": 2},
        {
            "name": "qwen",
            "source": "Qwen/Qwen2.5-7B-Instruct",
            "engine": {"max_num_seqs": 64, "env": {"VLLM_LOGGING_LEVEL": "DEBUG"}},
        },
    ]
    return {
        "workshop": workshop_config(),
        "aws-internet-al2023-prometheus": workshop_config(
            models=two_models,
            endpoint={"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}},
            pools={"gpu": {"ami_alias": "al2023@v20250715", "instance_families": ["g5", "g6", "g6e"]}},
            observability={"prometheus": True, "monitor_labels": {"release": "kube-prometheus-stack"}},
            aws={"tags": {"team": "ml"}},
        ),
        "kubernetes-pvc-no-key": workshop_config(
            target="kubernetes",
            endpoint={"api_key": {"enabled": False}, "exposure": {"service_type": "LoadBalancer"}},
            kubernetes={"model_cache": "pvc", "storage_class": "gp3", "namespace": "llm", "kubernetes_version": "1.31"},
            observability={"grafana_dashboard": False},
        ),
        "kubernetes-karpenter": workshop_config(target="kubernetes", kubernetes={"karpenter": True}),
        # One model scales to zero behind the HTTP add-on's interceptor, the other follows load from min 1.
        "aws-autoscaling": workshop_config(
            models=[
                {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}},
                {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {"max_replicas": 4}},
            ],
            endpoint={"exposure": {"scheme": "internet-facing", "source_ranges": ["203.0.113.0/24"]}},
        ),
        # Any number of models asleep at zero, each through its own wake host; the user's Prometheus by URL.
        "kubernetes-two-asleep": workshop_config(
            target="kubernetes",
            models=[
                {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0}},
                {"name": "qwen", "source": "Qwen/Qwen2.5-7B-Instruct", "autoscaling": {"min_replicas": 0}},
            ],
            observability={"prometheus_url": "http://prometheus-server.monitoring.svc"},
            kubernetes={"karpenter": True},
        ),
        # The S3 model cache (issue 14): mirror Job, service accounts, the streamer's arguments.
        "aws-model-cache": workshop_config(
            models=[{"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "revision": LLAMA3_8B_REVISION}],
            cache={"enabled": True},
        ),
        "kubernetes-model-cache": workshop_config(
            target="kubernetes",
            models=[{"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "revision": LLAMA3_8B_REVISION}],
            cache={"enabled": True, "bucket": "team-model-cache", "region": "eu-west-1"},
            kubernetes={"karpenter": True},
        ),
    }


def model(config: PlatformConfig, index: int = 0) -> ModelDeployment:
    return config.models[index]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_containers(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        yield from obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


# --- Kubernetes core schemas -----------------------------------------------------------------------------------

CORE_KINDS = {
    "Namespace",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Job",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "DaemonSet",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "Deployment",
}


def schema_version(wanted: str) -> str:
    """The kubernetes-validate schema version closest to ``wanted`` (``1.33``): itself when packaged, else the
    newest older one (or the oldest packaged when ``wanted`` predates them all)."""
    from kubernetes_validate import utils
    from packaging.version import Version

    versions = [utils.major_minor(v) for v in utils.all_versions()]
    older = [v for v in versions if Version(v) <= Version(wanted)]
    return older[-1] if older else versions[0]


def validate_core(obj: dict[str, Any], kubernetes_version: str) -> str:
    """Validate against the strict (no unknown fields) OpenAPI schema of that Kubernetes version."""
    import kubernetes_validate

    return str(kubernetes_validate.validate(obj, schema_version(kubernetes_version), strict=True))


# --- Karpenter CRDs --------------------------------------------------------------------------------------------

CRD_FILES = {
    "NodePool": "karpenter.sh_nodepools.yaml",
    "EC2NodeClass": "karpenter.k8s.aws_ec2nodeclasses.yaml",
}


def require_karpenter_crds() -> Path:
    if not KARPENTER_CRDS.is_dir():
        pytest.skip(f"Karpenter CRDs not found at {KARPENTER_CRDS.resolve()} (the shared/ folder beside the repo)")
    return KARPENTER_CRDS


def _strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it: unknown fields are pruned there, so here they are errors
    (a typo must not vanish silently). Translates OpenAPI's ``nullable`` and int-or-string for jsonschema."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    open_ended = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and not open_ended:
        out["additionalProperties"] = False
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((require_karpenter_crds() / CRD_FILES[kind]).read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1" and v.get("storage"))
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return dict(_strict(schema))


def validate_karpenter(obj: dict[str, Any]) -> None:
    """jsonschema against the CRD's openAPIV3Schema, then the CEL rules of that CRD, evaluated by hand."""
    assert obj["apiVersion"] == {"NodePool": "karpenter.sh/v1", "EC2NodeClass": "karpenter.k8s.aws/v1"}[obj["kind"]]
    meta = obj["metadata"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and "namespace" not in meta
    body = {k: v for k, v in obj.items() if k not in {"apiVersion", "kind", "metadata"}}
    jsonschema.Draft7Validator(crd_schema(obj["kind"])).validate(body)
    problems = (node_class_cel if obj["kind"] == "EC2NodeClass" else node_pool_cel)(obj["spec"])
    assert not problems, problems


_RESTRICTED_TAGS = {"eks:eks-cluster-name", "karpenter.sh/nodepool", "karpenter.sh/nodeclaim"}
_RESTRICTED_TAGS.add("karpenter.k8s.aws/ec2nodeclass")


def node_class_cel(spec: dict[str, Any]) -> list[str]:
    """The EC2NodeClass v1.14.1 x-kubernetes-validations that do not compare with the old object."""
    out: list[str] = []
    if ("role" in spec) == ("instanceProfile" in spec):
        out.append("must specify exactly one of ['role', 'instanceProfile']")
    if spec.get("role") == "":
        out.append("role cannot be empty")
    terms = spec["amiSelectorTerms"]
    aliases = [t["alias"] for t in terms if "alias" in t]
    if aliases and len(terms) != 1:
        out.append("'alias' is mutually exclusive with other amiSelectorTerms")
    for term in terms:
        if "alias" in term and set(term) != {"alias"}:
            out.append("'alias' is mutually exclusive within a term")
    for alias in aliases:
        if not re.fullmatch(r"[a-zA-Z0-9]+@.+", alias):
            out.append(f"alias {alias!r} must be family@version")
        family = alias.split("@")[0]
        if family not in {"al2", "al2023", "bottlerocket", "windows2019", "windows2022", "windows2025"}:
            out.append(f"alias family {family!r} not supported")
    if not aliases and "amiFamily" not in spec:
        out.append("must specify amiFamily if amiSelectorTerms does not contain an alias")
    for field in ("subnetSelectorTerms", "securityGroupSelectorTerms"):
        selector_terms = spec[field]
        if not selector_terms:
            out.append(f"{field} cannot be empty")
        for term in selector_terms:
            if not ({"tags", "id", "name"} & set(term)):
                out.append(f"{field}: expected one of tags, id, name")
            if any(k == "" or v == "" for k, v in term.get("tags", {}).items()):
                out.append(f"{field}: empty tag keys or values")
    roots = [d for d in spec.get("blockDeviceMappings", []) if d.get("rootVolume")]
    if len(roots) > 1:
        out.append("only one blockDeviceMappings with rootVolume")
    for device in spec.get("blockDeviceMappings", []):
        if "ebs" in device and not ({"snapshotID", "volumeSize"} & set(device["ebs"])):
            out.append("snapshotID or volumeSize must be defined")
    for key in spec.get("tags", {}):
        if key == "" or key in _RESTRICTED_TAGS or key.startswith("kubernetes.io/cluster"):
            out.append(f"restricted tag {key!r}")
    return out


_AWS_WELL_KNOWN = {
    "karpenter.k8s.aws/instance-category",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-size",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-gpu-memory",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-memory",
}


def _label_key_problem(key: str) -> str | None:
    domain = key.split("/", 1)[0] if "/" in key else ""
    if key in {"karpenter.sh/nodepool", "kubernetes.io/hostname"}:
        return f"label {key!r} is restricted"
    if domain.endswith("karpenter.sh") and key != "karpenter.sh/capacity-type":
        return f"label domain karpenter.sh is restricted ({key})"
    if domain.endswith("karpenter.k8s.aws") and key not in _AWS_WELL_KNOWN:
        return f"label domain karpenter.k8s.aws is restricted ({key})"
    return None


def node_pool_cel(spec: dict[str, Any]) -> list[str]:
    """The NodePool v1.14.1 x-kubernetes-validations that do not compare with the old object (the well-known
    karpenter.k8s.aws keys are the subset inferctl may use)."""
    out: list[str] = []
    if "replicas" in spec and "weight" in spec:
        out.append("'weight' is not supported on static NodePools")
    for budget in spec.get("disruption", {}).get("budgets", []):
        if ("schedule" in budget) != ("duration" in budget):
            out.append("'schedule' must be set with 'duration'")
    template = spec["template"]
    for key in template.get("metadata", {}).get("labels", {}):
        problem = _label_key_problem(key)
        if problem:
            out.append(problem)
    ref = template["spec"]["nodeClassRef"]
    if "" in (ref["group"], ref["kind"], ref["name"]):
        out.append("nodeClassRef fields may not be empty")
    for req in template["spec"]["requirements"]:
        problem = _label_key_problem(req["key"])
        if problem:
            out.append(problem)
        values = req.get("values", [])
        if req["operator"] == "In" and not values:
            out.append(f"requirement {req['key']} with operator In must have a value")
        if req["operator"] in {"Gt", "Lt", "Gte", "Lte"} and (len(values) != 1 or not values[0].isdigit()):
            out.append(f"requirement {req['key']} {req['operator']} needs a single non-negative integer")
        if req["operator"] == "In" and "minValues" in req and len(values) < req["minValues"]:
            out.append(f"requirement {req['key']} has fewer values than minValues")
    return out


# --- PodMonitor ------------------------------------------------------------------------------------------------


def validate_pod_monitor(obj: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    """Structural check (no Prometheus Operator CRD is available here): the fields the operator needs, and that
    it really selects ``pods`` (the Deployments it is meant for) and names a port they expose."""
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(obj["spec"]) <= {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel"}
    selector = obj["spec"]["selector"]["matchLabels"]
    assert selector and pods
    for endpoint in obj["spec"]["podMetricsEndpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scheme", "scrapeTimeout"}
        assert endpoint["path"] == "/metrics"
        assert re.fullmatch(r"[0-9]+(ms|s|m|h)", endpoint["interval"])
    for pod in pods:
        labels = pod["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), "PodMonitor selector does not select the model pods"
        ports = {p["name"] for c in pod["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {e["port"] for e in obj["spec"]["podMetricsEndpoints"]} <= ports
        assert pod["metadata"]["namespace"] == obj["metadata"]["namespace"]
