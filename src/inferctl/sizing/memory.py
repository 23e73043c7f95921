"""The memory model: how many bytes a model needs on a GPU (weights, KV cache, runtime) and on its host.

All functions are pure. What vLLM does, and what we assume where it cannot be known before the server starts:

- vLLM may use ``gpu_memory_utilization x GPU memory`` per GPU. From that budget it subtracts the weights (split
  evenly by tensor parallelism), the peak activation memory of its profiling forward pass and non-torch memory;
  the rest becomes the KV cache.
- KV bytes per token are exact: ``2 (K and V) x layers x kv_heads x head_dim x kv-dtype bytes``. With tensor
  parallelism each GPU holds ``kv_heads / tp`` heads (at least one: vLLM replicates KV heads when tp > kv_heads).
- Sliding-window layers keep at most ``window + one prefill chunk`` tokens per request (vLLM frees blocks that slid
  out of the window), so their share of a request's KV stops growing past the window.
- Runtime overhead is an estimate (constants below), chosen to err towards "does not fit" rather than an OOM on a
  node you pay for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferctl.catalog.profile import DTYPE_BYTES, ModelProfile
from inferctl.config.ami_aliases import effective_image_pull
from inferctl.config.models import EngineSettings, GpuPool

MIB = 2**20
GIB = 2**30

# Tokens in vLLM's profiling forward pass (its max_num_batched_tokens on data-center GPUs for the OpenAI server;
# smaller GPUs default lower, so this over-estimates there, on purpose).
PROFILE_BATCH_TOKENS = 8192
# Requests the sampler is profiled with (vLLM's default max_num_seqs): float32 logits and probabilities of this many
# rows x vocab are alive at the peak.
SAMPLER_ROWS = 256
# CUDA context, cuBLAS/cuDNN workspaces and allocator fragmentation per GPU: vLLM counts them as non-torch memory;
# 300-600 MiB are typical on A10G/L4/A100/H100.
CUDA_CONTEXT_BYTES = GIB // 2
# CUDA graphs captured for the decode batch sizes (skipped with enforce_eager): typically 0.2-1 GiB per GPU.
CUDA_GRAPH_BYTES = GIB // 2
# NCCL communicators and vLLM's custom all-reduce buffers, per GPU, only with tensor parallelism.
NCCL_BYTES = GIB // 2
# Tokens one prefill step may add to a request past its sliding window before old blocks are freed.
PREFILL_CHUNK_TOKENS = 2048
# vLLM allocates the KV cache in blocks of 16 tokens.
KV_BLOCK_TOKENS = 16

# Host (pod) side.
# API server + engine core processes: Python, torch, the CUDA libraries and the tokenizer resident in memory.
HOST_BASE_BYTES = 4 * GIB
# Each tensor-parallel worker process (CUDA libraries, NCCL, pinned staging buffers).
HOST_PER_WORKER_BYTES = 2 * GIB
# vLLM reads safetensors through mmap: pages are reclaimable page cache, so loading needs no full copy of the weights
# in RAM; each worker does materialise one tensor at a time, at most the embedding matrix, which we add per worker.
# From the S3 cache each worker instead runs its own Run:ai streamer, with a CPU buffer of its own (below).
# The Run:ai streamer's CPU buffer for the whole pod, split evenly across its tensor-parallel workers. vLLM 0.32
# starts one streamer per worker (model_executor/model_loader/runai_streamer_loader.py) and hands each the same
# RUNAI_STREAMER_MEMORY_LIMIT, which runai-model-streamer 0.15.7-0.16.1 apply per process and 0.17.x, when streaming
# is distributed, divide by the workers on the node (distributed_streamer.py, rank_memory_limit); without
# distribution every version applies it per process. So each worker is given its share: the pod holds at most this
# total whichever version the image ships. Either version refuses a limit below the largest tensor
# ("Memory limit supplied ... cannot be smaller than", file_streamer/requests_iterator.py), so a share never goes
# below it. 2 GiB keeps two 1 GiB embedding-sized buffers in flight, which the streamer measured as most of the
# gain (0.17.1 requests_iterator.py, _ring_sizing: 1 -> 2 buffers +6.2%, 2 -> 4 +1.5%).
STREAMER_BUFFER_BYTES = 2 * GIB
# CPUs: the API server, the engine core and one busy thread per GPU worker.
CPU_BASE = 2
# The vllm/vllm-openai image unpacked on the node's disk: the container runtime's, on the node's data volume, but
# never part of a pod's ephemeral-storage usage (kubelet counts a pod's writable layer, logs and emptyDirs).
IMAGE_BYTES = 20 * GIB
# The pod's own writes besides the checkpoint: compile caches in HOME, /tmp, logs, tokenizer files.
DISK_MARGIN_BYTES = 10 * GIB
# The compressed layers of the 10-12 GB image (DESIGN.md) sit on the data volume beside the unpacked image while it
# is pulled: SOCI's parallel pull writes each layer to a file before unpacking it (awslabs/soci-snapshotter
# docs/parallel-mode.md) and drops it after (discard-unpacked-layers, render/bottlerocket.py); containerd keeps them.
IMAGE_COMPRESSED_BYTES = 12 * 10**9
# The mirror Job's scratch: the checkpoint it downloads before uploading it to the S3 cache, plus a fifth and 5 GiB
# for tokenizer files and the hub's partial downloads.
MIRROR_SCRATCH_FACTOR = 1.2
MIRROR_SCRATCH_EXTRA_BYTES = 5 * GIB
# The data volume pulls a 10-12 GB vLLM image and GBs of weights on every new node: buy gp3 throughput (rendered
# into the GPU pool's EC2NodeClass, and a bound of the cold-start estimate). gp3 allows 3,000-16,000 IOPS and
# 125-1,000 MiB/s (the EC2NodeClass CRD's field descriptions, Karpenter v1.14.1). A parallel pull fetches the image
# as fast as the NIC allows (g5.xlarge: up to 10 Gbit/s, ~1,190 MiB/s) and writes it twice (the compressed layer,
# then its unpacked files): such nodes get gp3's most throughput; a sequential pull (~30 MB/s measured, see
# cache/coldstart.py) keeps the 500 MiB/s that also serves hub downloads.
DATA_VOLUME_IOPS = 6000
DATA_VOLUME_THROUGHPUT_MIBS = 500
PARALLEL_PULL_THROUGHPUT_MIBS = 1000
BOTTLEROCKET_OS_GIB = 4  # Bottlerocket's OS volume; images and pod storage live on the data volume


def gib(value: float) -> float:
    return value / GIB


def compute_dtype(profile: ModelProfile, engine: EngineSettings) -> str:
    """The dtype vLLM computes in: ``engine.dtype``, or for ``auto`` the checkpoint's, with float32 checkpoints run
    in 16 bits (vLLM's auto rule)."""
    if engine.dtype != "auto":
        return engine.dtype
    if profile.torch_dtype in ("float16", "bfloat16"):
        return profile.torch_dtype
    return "bfloat16"


@dataclass(frozen=True)
class WeightFormat:
    """Bytes per parameter on the GPU: projection matrices may be quantized; embeddings and norms are not."""

    label: str  # e.g. "bfloat16", "fp8", "int4 awq"
    linear_bytes: float
    other_bytes: float
    quantized: bool


def weight_format(profile: ModelProfile, engine: EngineSettings) -> WeightFormat:
    """How the weights sit in GPU memory for this engine setting (``engine.quantization`` wins over the checkpoint).

    int4 AWQ/GPTQ: 4 bits per weight plus a 16-bit scale and a 4-bit zero point per group (128 by default).
    fp8: one byte per weight (per-tensor or per-channel scales are negligible). bitsandbytes 4-bit: ~4.25 bits.
    Raises ValueError for a method whose bit width is unknown.
    """
    base = DTYPE_BYTES[compute_dtype(profile, engine)]
    method = engine.quantization or profile.quantization
    if method is None:
        return WeightFormat(compute_dtype(profile, engine), base, base, False)
    bits = profile.quant_bits if profile.quantization == method else None
    if method == "fp8":
        bits = 8
    elif method in ("awq", "gptq", "bitsandbytes"):
        bits = bits or 4
    if bits is None:
        raise ValueError(f"quantization {method!r} without a known bit width")
    per_weight = bits / 8
    if bits < 8:
        group = 64 if method == "bitsandbytes" else (profile.quant_group_size or 128)
        per_weight += (2 + bits / 8) / group
    label = "fp8" if method == "fp8" else f"int{bits} {method}"
    return WeightFormat(label, per_weight, base, True)


def weight_bytes(profile: ModelProfile, engine: EngineSettings) -> int:
    """Weight memory across all GPUs."""
    fmt = weight_format(profile, engine)
    if fmt.quantized and profile.quantization is not None and profile.checkpoint_bytes and not engine.quantization:
        return profile.checkpoint_bytes  # a pre-quantized checkpoint loads as stored
    linear = profile.linear_parameters * fmt.linear_bytes
    other = (profile.embedding_parameters + profile.norm_parameters) * fmt.other_bytes
    return int(linear + other)


def checkpoint_bytes(profile: ModelProfile) -> int:
    """Bytes downloaded: the safetensors size when known, else parameters x stored dtype (or quantized size)."""
    if profile.checkpoint_bytes:
        return profile.checkpoint_bytes
    if profile.quantization is not None:
        return weight_bytes(profile, EngineSettings())
    return int(profile.num_parameters * DTYPE_BYTES.get(profile.torch_dtype, 2))


def kv_dtype_bytes(profile: ModelProfile, engine: EngineSettings) -> int:
    if engine.kv_cache_dtype != "auto":
        return 1  # every fp8 variant
    return int(DTYPE_BYTES[compute_dtype(profile, engine)])


def kv_bytes_per_token(profile: ModelProfile, engine: EngineSettings) -> int:
    """KV bytes one token costs in every layer: 2 x layers x kv_heads x head_dim x kv-dtype bytes."""
    return 2 * profile.num_layers * profile.num_kv_heads * profile.head_dim * kv_dtype_bytes(profile, engine)


def valid_tensor_parallel(profile: ModelProfile, tp: int) -> bool:
    """vLLM's rule: tp divides the attention heads, and divides or is a multiple of the KV heads."""
    heads_ok = profile.num_attention_heads % tp == 0
    kv_ok = profile.num_kv_heads % tp == 0 or tp % profile.num_kv_heads == 0
    return heads_ok and kv_ok


def kv_heads_per_gpu(profile: ModelProfile, tp: int) -> int:
    return max(1, profile.num_kv_heads // tp)


def sequence_kv_bytes_per_gpu(profile: ModelProfile, engine: EngineSettings, tokens: int, tp: int) -> int:
    """KV bytes one request of ``tokens`` tokens holds on each GPU (sliding-window layers capped)."""
    per_layer_token = 2 * kv_heads_per_gpu(profile, tp) * profile.head_dim * kv_dtype_bytes(profile, engine)
    full = profile.full_attention_layers * tokens
    window_tokens = tokens
    if profile.sliding_window:
        window_tokens = min(tokens, profile.sliding_window + PREFILL_CHUNK_TOKENS)
    return per_layer_token * (full + profile.sliding_window_layers * window_tokens)


def kv_cache_tokens(profile: ModelProfile, engine: EngineSettings, kv_bytes_per_gpu: int, tp: int) -> int:
    """Tokens (in every layer) the KV cache holds, in whole 16-token blocks."""
    per_token = sequence_kv_bytes_per_gpu(profile, engine, 1, tp)
    blocks = kv_bytes_per_gpu // (per_token * KV_BLOCK_TOKENS)
    return int(blocks * KV_BLOCK_TOKENS)


def max_concurrency(
    profile: ModelProfile, engine: EngineSettings, kv_bytes_per_gpu: int, tokens: int, tp: int
) -> float:
    """Requests of ``tokens`` tokens the KV cache holds at once."""
    return kv_bytes_per_gpu / sequence_kv_bytes_per_gpu(profile, engine, tokens, tp)


def longest_context(
    profile: ModelProfile, engine: EngineSettings, kv_bytes_per_gpu: int, concurrency: int, tp: int, limit: int
) -> int:
    """The largest max_model_len <= ``limit`` such that ``concurrency`` requests of it fit (0 if not even 16).

    Below the limit the result is rounded down to a multiple of 256 tokens."""

    def fits(tokens: int) -> bool:
        return concurrency * sequence_kv_bytes_per_gpu(profile, engine, tokens, tp) <= kv_bytes_per_gpu

    if fits(limit):
        return limit
    low, high = 0, limit  # fits(low) holds (0 tokens), fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low - low % 256 if low >= 256 else low - low % KV_BLOCK_TOKENS


@dataclass(frozen=True)
class RuntimeOverhead:
    """Estimated per-GPU memory that is neither weights nor KV cache."""

    activations: int
    sampler: int
    cuda_context: int
    cuda_graphs: int
    nccl: int

    @property
    def total(self) -> int:
        return self.activations + self.sampler + self.cuda_context + self.cuda_graphs + self.nccl


def runtime_overhead(profile: ModelProfile, engine: EngineSettings, tp: int) -> RuntimeOverhead:
    """Per-GPU overhead. Activations of the profiling pass: per token ~4 hidden-size tensors (residual, norm output,
    attention output, projection input) plus gate/up/down intermediates of the MLP (the routed experts' for MoE),
    split by tensor parallelism, at the compute dtype."""
    ffn = profile.intermediate_size
    if profile.is_moe:
        ffn = profile.experts_per_token * profile.expert_intermediate_size
    act_bytes = DTYPE_BYTES[compute_dtype(profile, engine)]
    activations = int(PROFILE_BATCH_TOKENS * (4 * profile.hidden_size + 3 * ffn / tp) * act_bytes)
    rows = min(SAMPLER_ROWS, engine.max_num_seqs or SAMPLER_ROWS)
    sampler = rows * profile.vocab_size * 4 * 2
    return RuntimeOverhead(
        activations=activations,
        sampler=sampler,
        cuda_context=CUDA_CONTEXT_BYTES,
        cuda_graphs=0 if engine.enforce_eager else CUDA_GRAPH_BYTES,
        nccl=NCCL_BYTES if tp > 1 else 0,
    )


def shm_bytes(tp: int) -> int:
    """/dev/shm for the pod: vLLM's message queues and NCCL's shared-memory transport; 1 GiB per GPU, at least 2."""
    return max(2, tp) * GIB


def largest_tensor_bytes(profile: ModelProfile) -> int:
    """The largest single tensor of the checkpoint as stored: the embedding (or lm_head) matrix, or an MLP projection
    where that is bigger. Pre-quantized checkpoints keep their embeddings in 16 bits."""
    ffn = max(profile.intermediate_size, profile.expert_intermediate_size)
    stored = DTYPE_BYTES.get(profile.torch_dtype, 2)
    return int(max(profile.vocab_size, ffn) * profile.hidden_size * stored)


def streamer_worker_bytes(profile: ModelProfile, tp: int, total_bytes: int | None = None) -> int:
    """The streamer CPU buffer of each of ``tp`` workers: an even share of ``total_bytes`` (else
    :data:`STREAMER_BUFFER_BYTES`), never below the largest tensor, which the streamer must hold whole."""
    total = total_bytes or STREAMER_BUFFER_BYTES
    return max(-(-total // tp), largest_tensor_bytes(profile))


def host_memory_bytes(profile: ModelProfile, tp: int, *, streamer_worker_bytes: int = 0) -> int:
    """Pod memory (without /dev/shm): processes plus, per worker, the largest tensor it materialises while loading
    and, served from the S3 cache, its streamer buffer."""
    per_worker = HOST_PER_WORKER_BYTES + largest_tensor_bytes(profile) + streamer_worker_bytes
    return int(HOST_BASE_BYTES + tp * per_worker)


def ephemeral_bytes(profile: ModelProfile) -> int:
    """The pod's ephemeral storage: the downloaded checkpoint (in its model-cache emptyDir) and a margin."""
    return checkpoint_bytes(profile) + DISK_MARGIN_BYTES


def node_disk_bytes(profile: ModelProfile) -> int:
    """Node data-volume space the model needs: the pod's ephemeral storage plus the image, unpacked and (while it
    is pulled) compressed."""
    return ephemeral_bytes(profile) + IMAGE_BYTES + IMAGE_COMPRESSED_BYTES


def gpu_data_volume_throughput_mibs(pool: GpuPool) -> int:
    """gp3 throughput of a GPU node's data volume: more where its AMI pulls the image in parallel (see above)."""
    parallel = effective_image_pull(pool.ami_alias, pool.image_pull) != "sequential"
    return PARALLEL_PULL_THROUGHPUT_MIBS if parallel else DATA_VOLUME_THROUGHPUT_MIBS


def mirror_scratch_bytes(checkpoint: int) -> int:
    """Scratch the mirror Job needs for a checkpoint of ``checkpoint`` bytes (one set of weights: see
    :func:`inferctl.cache.mirror.choose_weights`)."""
    return int(checkpoint * MIRROR_SCRATCH_FACTOR + MIRROR_SCRATCH_EXTRA_BYTES)


def ceil_gib(value: float) -> int:
    return math.ceil(value / GIB)
