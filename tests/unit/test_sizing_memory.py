"""The memory model: weight bytes by format, KV bytes by dtype/TP/window, overhead, host and disk needs."""

from __future__ import annotations

import pytest

from inferctl.catalog import load_profile, profile_from_config
from inferctl.config.models import EngineSettings
from inferctl.sizing import memory
from inferctl.sizing.memory import GIB
from tests.support.sizing import (
    GEMMA2_9B,
    LLAMA_3_8B,
    LLAMA_3_70B,
    MISTRAL_7B,
    QWEN25_7B,
    fixture_config,
    fixture_profile,
)

BF16 = EngineSettings()
# Llama-3-8B parts (see test_profile_configs): embeddings 1,050,673,152 + norms 32 x 8,192 + 4,096 = 266,240;
# projections 8,030,261,248 - 1,050,673,152 - 266,240 = 6,979,321,856.
LLAMA8_LINEAR, LLAMA8_OTHER = 6_979_321_856, 1_050_673_152 + 266_240


def test_bf16_weights_are_two_bytes_per_parameter() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    assert profile.linear_parameters == LLAMA8_LINEAR
    assert memory.weight_bytes(profile, BF16) == 16_060_522_496
    assert memory.weight_format(profile, BF16).label == "bfloat16"


def test_fp8_keeps_embeddings_at_16_bits() -> None:
    # 6,979,321,856 x 1 B + 1,050,939,392 x 2 B = 9,081,200,640 B (~9.08 GB, the size of public FP8 Llama-3-8B).
    engine = EngineSettings(quantization="fp8")
    assert memory.weight_bytes(fixture_profile(LLAMA_3_8B), engine) == 9_081_200_640


def test_awq_int4_counts_group_scales() -> None:
    # 4 bits + (16-bit scale + 4-bit zero) per 128 weights = 0.5 + 2.5/128 B per projection weight:
    # 6,979,321,856 x 0.51953125 = 3,625,976,... + 2,101,878,784 B of 16-bit embeddings/norms ~ 5.73e9 B.
    config = dict(fixture_config(LLAMA_3_8B), quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128})
    profile = profile_from_config(config, source="awq", origin="test")
    expected = int(LLAMA8_LINEAR * (0.5 + 2.5 / 128) + LLAMA8_OTHER * 2)
    assert memory.weight_bytes(profile, BF16) == expected
    assert memory.weight_format(profile, BF16).label == "int4 awq"
    assert memory.checkpoint_bytes(profile) == expected  # the download is the quantized checkpoint


def test_float32_checkpoint_runs_in_16_bits_but_downloads_32() -> None:
    gemma = fixture_profile(GEMMA2_9B)
    assert memory.compute_dtype(gemma, BF16) == "bfloat16"
    assert memory.weight_bytes(gemma, BF16) == 9_241_705_984 * 2
    assert memory.checkpoint_bytes(gemma) == 9_241_705_984 * 4
    assert memory.weight_bytes(gemma, EngineSettings(dtype="float32")) == 9_241_705_984 * 4


def test_kv_per_token_by_dtype() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    assert memory.kv_bytes_per_token(profile, BF16) == 131_072  # 2 x 32 x 8 x 128 x 2
    assert memory.kv_bytes_per_token(profile, EngineSettings(kv_cache_dtype="fp8")) == 65_536  # 1 byte


def test_tensor_parallel_splits_kv_heads_and_replicates_below_one() -> None:
    llama70 = fixture_profile(LLAMA_3_70B)
    # TP 8 over 8 KV heads: one head per GPU -> 2 x 80 x 1 x 128 x 2 = 40,960 B per token per GPU.
    assert memory.sequence_kv_bytes_per_gpu(llama70, BF16, 1, 8) == 40_960
    demo = load_profile("demo")  # 4 heads, 2 KV heads: TP 4 replicates each KV head on two GPUs
    assert memory.valid_tensor_parallel(demo, 4)
    per_gpu = memory.sequence_kv_bytes_per_gpu(demo, BF16, 1, 4)
    assert per_gpu == 2 * demo.num_layers * 1 * demo.head_dim * 2


def test_valid_tensor_parallel_follows_the_heads() -> None:
    qwen = fixture_profile(QWEN25_7B)  # 28 heads, 4 KV heads
    assert [tp for tp in (1, 2, 4, 8) if memory.valid_tensor_parallel(qwen, tp)] == [1, 2, 4]
    llama70 = fixture_profile(LLAMA_3_70B)  # 64 heads, 8 KV heads
    assert all(memory.valid_tensor_parallel(llama70, tp) for tp in (1, 2, 4, 8))


def test_sliding_window_caps_a_requests_kv() -> None:
    mistral = fixture_profile(MISTRAL_7B)  # every layer slides over 4,096 tokens
    assert memory.sequence_kv_bytes_per_gpu(mistral, BF16, 1000, 1) == 131_072 * 1000
    # 32,768 tokens keep only window + one prefill chunk: 4,096 + 2,048 = 6,144 tokens per layer.
    assert memory.sequence_kv_bytes_per_gpu(mistral, BF16, 32768, 1) == 131_072 * 6144
    gemma = fixture_profile(GEMMA2_9B)  # 21 full + 21 sliding layers, 2 x 8 x 256 x 2 = 8,192 B per layer-token
    assert memory.sequence_kv_bytes_per_gpu(gemma, BF16, 8192, 1) == 8192 * (21 * 8192 + 21 * 6144)


def test_longest_context() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    kv = 3 * GIB
    # 3 GiB / 128 KiB = 24,576 tokens: the whole 8,192 limit fits for 3 requests, not for 4.
    assert memory.longest_context(profile, BF16, kv, 3, 1, 8192) == 8192
    # 4 requests: 24,576 / 4 = 6,144 tokens each (a multiple of 256 already).
    assert memory.longest_context(profile, BF16, kv, 4, 1, 8192) == 6144
    # 7 requests: 3,510.86 -> 3,510 -> rounded down to 3,328.
    assert memory.longest_context(profile, BF16, kv, 7, 1, 8192) == 3328


def test_runtime_overhead_parts() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    one = memory.runtime_overhead(profile, BF16, 1)
    # Activations: 8,192 tokens x (4 x 4,096 + 3 x 14,336) x 2 B = 973,078,528; sampler: 256 x 128,256 x 4 B x 2.
    assert one.activations == 973_078_528 and one.sampler == 262_668_288
    assert one.cuda_graphs == GIB // 2 and one.nccl == 0
    eager_tp2 = memory.runtime_overhead(profile, EngineSettings(enforce_eager=True), 2)
    assert eager_tp2.cuda_graphs == 0 and eager_tp2.nccl == GIB // 2
    assert eager_tp2.activations < one.activations  # the MLP part splits across GPUs


@pytest.mark.parametrize(("tp", "shm_gib"), [(1, 2), (2, 2), (4, 4), (8, 8)])
def test_shm(tp: int, shm_gib: int) -> None:
    assert memory.shm_bytes(tp) == shm_gib * GIB


def test_host_and_disk() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    # 4 GiB base + 1 worker x (2 GiB + the 128,256 x 4,096 x 2 B embedding) ~ 6.98 GiB.
    assert memory.host_memory_bytes(profile, 1) == 4 * GIB + 2 * GIB + 128_256 * 4096 * 2
    # The pod's ephemeral storage: checkpoint 16,060,522,496 B + 10 GiB margin -> 25 GiB rounded up; the image's
    # 20 GiB unpacked and 12 GB compressed are the container runtime's, never the pod's (only the node's data
    # volume must hold them too): 14.96 + 10 + 20 + 11.18 GiB -> 57.
    assert memory.ceil_gib(memory.ephemeral_bytes(profile)) == 25
    assert memory.ceil_gib(memory.node_disk_bytes(profile)) == 57
