"""Where a model lives in the S3 model cache, and how hard the streamer may pull it: pure, no I/O.

The Run:ai streamer's knobs (run-ai/runai-model-streamer 0.17.0, docs/src/env-vars.md): ``RUNAI_STREAMER_CONCURRENCY``
(reader threads; default 16 from a file system, 8 from object storage) and ``RUNAI_STREAMER_MEMORY_LIMIT`` (bytes of
CPU buffer; default 40 GB, ``-1`` unlimited; ``DEFAULT_MEMORY_LIMIT_STRING`` in file_streamer/requests_iterator.py).
vLLM 0.32 sets both from ``--model-loader-extra-config '{"concurrency": N, "memory_limit": B}'``
(vllm/model_executor/model_loader/runai_streamer_loader.py), so they travel as arguments, one builder for every
target. A 40 GB default buffer would get a 16 GiB pod OOM-killed: we cap it from the pod's memory.
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
MEMORY_SHARE = 0.25  # of the pod's memory limit: the rest is vLLM's own (tokenizer, engine, CUDA host buffers)
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


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ('24Gi', '512Mi', '1000000') in bytes."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", quantity)
    if match is None or (match.group(2) and match.group(2) not in _UNITS):
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _UNITS.get(match.group(2), 1))


def quantity_cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def streamer_limits(config: PlatformConfig, cpu: str, memory: str) -> StreamerLimits:
    """Reader threads and CPU buffer cap for a pod with ``cpu`` and ``memory`` (its limits), unless configured."""
    settings = config.cache
    concurrency = settings.streamer_concurrency or max(
        MIN_CONCURRENCY, min(MAX_CONCURRENCY, math.ceil(THREADS_PER_CPU * quantity_cpus(cpu)))
    )
    if settings.streamer_memory_limit_gib is not None:
        limit = int(settings.streamer_memory_limit_gib * 2**30)
    else:
        limit = int(quantity_bytes(memory) * MEMORY_SHARE)
    # Every reader holds at least one chunk: a smaller buffer would serialise them.
    return StreamerLimits(concurrency, max(limit, concurrency * CHUNK_BYTES))
