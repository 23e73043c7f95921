"""Where a model lives in the S3 model cache, and how hard the streamer may pull it: pure, no I/O.

The Run:ai streamer's knobs (run-ai/runai-model-streamer 0.17.0, docs/src/env-vars.md): ``RUNAI_STREAMER_CONCURRENCY``
(reader threads; default 16 from a file system, 8 from object storage) and ``RUNAI_STREAMER_MEMORY_LIMIT`` (bytes of
CPU buffer; default 40 GB, ``-1`` unlimited; ``DEFAULT_MEMORY_LIMIT_STRING`` in file_streamer/requests_iterator.py).
vLLM 0.32 sets both from ``--model-loader-extra-config '{"concurrency": N, "memory_limit": B}'``
(vllm/model_executor/model_loader/runai_streamer_loader.py), so they travel as arguments, one builder for every
target. Both apply per process, and vLLM runs one streamer per tensor-parallel worker: the buffer is sized per
worker by :func:`inferctl.sizing.memory.streamer_worker_bytes` and counted in the pod's memory (a 40 GB default
buffer per worker would get any pod OOM-killed); concurrency is per worker too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferctl.cache.compile_cache import compile_cache_prefix
from inferctl.cache.mirror import MODELS_PREFIX, cache_prefix
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.engine import engine_args
from inferctl.errors import ConfigError

if TYPE_CHECKING:
    from inferctl.sizing.placement import Placement

# Before 'up' creates the bucket on aws its generated name is unknown; plans and renders show this instead.
PENDING_BUCKET = "model-cache-bucket-created-by-up"
MIN_CONCURRENCY = 8  # the streamer's own default for object storage
MAX_CONCURRENCY = 64
THREADS_PER_CPU = 4  # readers wait on the network, not the CPU: a few per core keep a 10-25 Gbit/s NIC busy
CHUNK_BYTES = 8 * 1024 * 1024  # RUNAI_STREAMER_CHUNK_BYTESIZE default for object storage (env-vars.md)

__all__ = [
    "MODELS_PREFIX",
    "PENDING_BUCKET",
    "CacheLocation",
    "StreamerLimits",
    "cache_bucket",
    "cache_location",
    "compile_cache_key",
    "compile_cache_location",
    "compile_cache_wanted",
    "compiles",
    "mirror_has_own_volume",
    "streamer_limits",
    "uses_cache",
]


@dataclass(frozen=True)
class CacheLocation:
    bucket: str
    prefix: str  # models/<id>/<revision>/
    region: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class StreamerLimits:
    concurrency: int
    memory_limit_bytes: int


def uses_cache(config: PlatformConfig, model: ModelDeployment) -> bool:
    """The model is served from the cache: its own setting, else the platform's; never the demo or a local dir."""
    wanted = model.cache if model.cache is not None else config.cache.enabled
    return wanted and not model.is_demo and not model.is_local_path


def mirror_has_own_volume(config: PlatformConfig) -> bool:
    """The mirror Job downloads into a volume of its own (a generic ephemeral volume, sized for the checkpoint)
    where the cluster provisions one: on aws, whose program installs the EBS CSI driver and a default gp3
    StorageClass when the cache is on, and on kubernetes when ``kubernetes.storage_class`` names one. Elsewhere it
    downloads into its node's disk (an emptyDir), beside the vLLM image."""
    return config.traits.owns_infrastructure or config.kubernetes.storage_class is not None


def cache_bucket(config: PlatformConfig) -> str:
    """The bucket's name: the configured one, else (aws, before up) the placeholder the aws target replaces."""
    if config.cache.bucket:
        return config.cache.bucket
    if config.traits.owns_infrastructure:
        return PENDING_BUCKET
    raise ConfigError(
        "cache.enabled needs cache.bucket on the kubernetes target (an S3 bucket the model pods can read); "
        "set it, or turn the cache off"
    )


def cache_location(config: PlatformConfig, model: ModelDeployment, index: int = 0) -> CacheLocation:
    if not model.revision:
        raise ConfigError(
            f"models[{index}].revision is unset but the model is served from the S3 cache, which keeps one copy per "
            "revision; set it to the commit to serve (the hub's 'main' moves), e.g. the 40-hex sha from the "
            "model page's 'Files and versions'"
        )
    if not re.fullmatch(r"[A-Za-z0-9._-]+", model.revision):
        raise ConfigError(
            f"models[{index}].revision {model.revision!r} cannot key the cache; use a commit sha or a tag name"
        )
    return CacheLocation(
        bucket=cache_bucket(config),
        prefix=cache_prefix(model.source, model.revision),
        region=config.cache.region or config.aws.region,
    )


def compile_cache_key(config: PlatformConfig, model: ModelDeployment, placement: Placement) -> str:
    """What a compiled engine depends on that the S3 prefix must tell apart: the image (vLLM and torch versions),
    the engine arguments and the GPU model and count. vLLM checks its own, finer hash inside (compile_cache.py); this
    key only keeps configurations from sharing, or overwriting, one folder, and keeps GPU models apart."""
    factors = {
        "image": config.kubernetes.image,
        "engine": engine_args(
            model,
            tensor_parallel_size=placement.tensor_parallel_size,
            max_model_len=placement.max_model_len,
            gpu_memory_utilization=placement.gpu_memory_utilization,
        ),
        "gpu": placement.gpu_name,
        "gpus": placement.resources.gpus,
    }
    return hashlib.sha256(json.dumps(factors, sort_keys=True).encode()).hexdigest()[:16]


def compile_cache_wanted(config: PlatformConfig, model: ModelDeployment) -> bool:
    """Whether the model's pods would share a compile cache once its weights are in the S3 cache."""
    return config.cache.compile_cache and config.uses_karpenter and not model.engine.enforce_eager


def compiles(config: PlatformConfig, model: ModelDeployment) -> bool:
    """The model's pods share a compile cache (see :func:`compile_cache_location`)."""
    return compile_cache_wanted(config, model) and uses_cache(config, model)


def compile_cache_location(
    config: PlatformConfig, model: ModelDeployment, placement: Placement, index: int = 0
) -> CacheLocation | None:
    """Where the model's compile cache lives, None when it has none: not served from the cache, the compile cache
    switched off, an eager engine (nothing compiled), or no Karpenter pool: only there can every pod be held to the
    GPU model the cache was built for (the ``karpenter.k8s.aws/instance-gpu-name`` node label)."""
    if not compiles(config, model):
        return None
    weights = cache_location(config, model, index)
    assert model.revision is not None  # cache_location refused it otherwise
    prefix = compile_cache_prefix(model.source, model.revision, compile_cache_key(config, model, placement))
    return CacheLocation(bucket=weights.bucket, prefix=prefix, region=weights.region)


def quantity_cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def streamer_limits(config: PlatformConfig, cpu: str, worker_bytes: int) -> StreamerLimits:
    """Reader threads (from the pod's ``cpu`` unless configured) and the CPU buffer cap of each worker's streamer
    (``worker_bytes``, sized with the pod's memory by sizing)."""
    if worker_bytes <= 0:
        raise ValueError("the placement has no streamer buffer size; size the model with inferctl.sizing")
    concurrency = config.cache.streamer_concurrency or max(
        MIN_CONCURRENCY, min(MAX_CONCURRENCY, math.ceil(THREADS_PER_CPU * quantity_cpus(cpu)))
    )
    # Every reader holds at least one chunk: a smaller buffer would serialise them.
    return StreamerLimits(concurrency, max(worker_bytes, concurrency * CHUNK_BYTES))
