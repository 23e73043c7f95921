"""The result of sizing: where and how one model runs. Renderers and targets consume it; nothing here does I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PodResources:
    """Kubernetes resources for one model server pod (quantities as Kubernetes strings)."""

    gpus: int  # nvidia.com/gpu, equals the tensor-parallel size
    cpu: str  # e.g. "6"
    memory: str  # e.g. "24Gi"
    ephemeral_storage: str  # e.g. "26Gi": the checkpoint download + room for caches and logs (not the image)
    shm: str  # size limit of the /dev/shm memory emptyDir, e.g. "8Gi"


@dataclass(frozen=True)
class Placement:
    """One model on one instance type, with the engine settings and pod resources that make it fit."""

    model: str  # deployment name (config.models[].name)
    instance_type: str  # e.g. "g5.xlarge"
    gpu_name: str  # e.g. "A10G"
    gpu_memory_gib: float  # per GPU
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    kv_cache_tokens: int  # tokens the KV cache holds across all GPUs of the pod
    max_concurrency: float  # kv_cache_tokens / max_model_len
    weight_gib: float  # total weight memory (all GPUs)
    kv_bytes_per_token: int
    resources: PodResources
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    spot_is_estimate: bool  # True: derived from on-demand with a documented discount, not a live price
    price_region: str  # region the prices are for (the snapshot is us-east-1)
    alternatives: tuple[Placement, ...] = field(default=())
    # Added by sizing; defaults keep hand-built placements (tests, other targets) valid.
    instance_gpu_count: int = 0  # GPUs on the instance (>= tensor_parallel_size)
    # Types with exactly tensor_parallel_size GPUs that serve the same settings, cheapest first: pin the pod's
    # node affinity (node.kubernetes.io/instance-type In [...]) to these so Karpenter cannot pick a GPU that is
    # too small when the pool mixes families.
    compatible_instance_types: tuple[str, ...] = ()
    kv_cache_gib: float = 0.0  # KV cache across all GPUs of the pod
    runtime_overhead_gib_per_gpu: float = 0.0  # estimated activations, CUDA graphs, context, NCCL
    weight_format: str = ""  # e.g. "bfloat16", "fp8", "int4 awq"
    # Size of the checkpoint as downloaded (safetensors headers / index total_size, else parameters x stored
    # dtype): what the model cache holds, whatever the weights take in GPU memory after quantization.
    checkpoint_gib: float = 0.0
    # The Run:ai streamer's CPU buffer of each tensor-parallel worker when the model is served from the S3 cache
    # (its memory_limit; counted in resources.memory only then). 0: not sized (hand-built placements).
    streamer_worker_bytes: int = 0
    notes: tuple[str, ...] = ()

    @property
    def download_gib(self) -> float:
        """What a pod downloads, streams or reads from disk: the checkpoint, else (a hand-built placement that
        knows no checkpoint size) the weights."""
        return self.checkpoint_gib or self.weight_gib

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alternatives"] = [
            {k: v for k, v in asdict(alt).items() if k != "alternatives"} for alt in self.alternatives
        ]
        return out
