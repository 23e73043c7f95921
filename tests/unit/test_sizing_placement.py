"""Placement: the cheapest instance x TP that serves each published model, derived by hand, and the refusals.

Numbers used by hand (constants of inferctl.sizing.memory): an A10G (g5) has 22,888 MiB; at
gpu_memory_utilization 0.9 vLLM may use 22,888 x 0.9 MiB = 21,600,269,107 B per GPU. Runtime per GPU =
activations 8,192 x (4 x hidden + 3 x intermediate / TP) x 2 B + sampler 256 x vocab x 8 B + 0.5 GiB CUDA context
+ 0.5 GiB CUDA graphs (+ 0.5 GiB NCCL when TP > 1). KV = usable - weights / TP - runtime.
"""

from __future__ import annotations

import re

import pytest

from inferctl.catalog import profile_from_config
from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError, PlanError
from inferctl.sizing import place_model
from inferctl.sizing.placement import Placement
from tests.support.sizing import (
    GEMMA2_9B,
    LLAMA_3_8B_INSTRUCT,
    LLAMA_3_70B,
    MISTRAL_7B,
    MIXTRAL,
    QWEN25_7B,
    fixture_config,
    fixture_profile,
)


def _place(
    fixture: str,
    families: list[str] | None = None,
    *,
    profile: ModelProfile | None = None,
    engine: dict[str, object] | None = None,
    min_concurrency: int = 1,
    data_volume_gib: int = 200,
) -> Placement:
    pool: dict[str, object] = {"instance_families": families or ["g5"], "data_volume_gib": data_volume_gib}
    config = PlatformConfig(target="aws", pools={"gpu": pool})
    model = ModelDeployment(name="m", engine=engine or {}, sizing={"min_concurrency": min_concurrency})
    return place_model(config, model, profile=profile or fixture_profile(fixture))


def test_llama_3_8b_instruct_takes_one_a10g() -> None:
    # Weights 16,060,522,496 B (14.96 GiB). Runtime: 973,078,528 + 262,668,288 + 2 x 0.5 GiB = 2,309,488,640 B.
    # KV = 21,600,269,107 - 16,060,522,496 - 2,309,488,640 = 3,230,257,971 B (3.01 GiB)
    # = 1,540 blocks of 16 tokens x 128 KiB -> 24,640 tokens; 8,192-token requests: 3,230,257,971 / 1 GiB = 3.01.
    placement = _place(LLAMA_3_8B_INSTRUCT)
    assert (placement.instance_type, placement.tensor_parallel_size, placement.gpu_name) == ("g5.xlarge", 1, "A10G")
    assert placement.max_model_len == 8192  # the model's limit: the whole context fits
    assert placement.kv_cache_tokens == 24_640 and placement.max_concurrency == pytest.approx(3.01)
    assert placement.kv_bytes_per_token == 131_072 and placement.weight_gib == pytest.approx(14.96, abs=0.01)
    assert placement.on_demand_usd_per_hour == pytest.approx(1.006) and placement.spot_is_estimate
    res = placement.resources
    # ephemeral storage: the 15 GiB checkpoint + 10 GiB margin; the image is not the pod's.
    assert (res.gpus, res.cpu, res.memory, res.ephemeral_storage, res.shm) == (1, "3", "9Gi", "25Gi", "2Gi")
    assert placement.checkpoint_gib == pytest.approx(14.96, abs=0.01)
    # Ranked alternatives: other shapes of the family, cheapest first, each at its highest TP.
    assert [(a.instance_type, a.tensor_parallel_size) for a in placement.alternatives] == [
        ("g5.12xlarge", 4),
        ("g5.48xlarge", 8),
    ]
    assert placement.compatible_instance_types[0] == "g5.xlarge"
    assert all(name.startswith("g5.") for name in placement.compatible_instance_types)


def test_llama_3_70b_needs_eight_gpus_with_tp_dividing_the_heads() -> None:
    # 141,107,412,992 B of weights: 4 A10G (g5.12xlarge, 4 x 20.1 GiB usable) cannot hold them; 8 can.
    # Per GPU: 17,638,426,624 B weights + runtime 713,031,680 + 262,668,288 + 3 x 0.5 GiB = 2,586,312,704 B
    # -> KV 1,375,529,779 B; per token per GPU 2 x 80 x 1 x 128 x 2 = 40,960 B -> 2,098 blocks = 33,568 tokens,
    # 4.1 requests of 8,192. TP 8 divides 64 attention and 8 KV heads.
    placement = _place(LLAMA_3_70B)
    assert (placement.instance_type, placement.tensor_parallel_size) == ("g5.48xlarge", 8)
    assert 64 % placement.tensor_parallel_size == 0 and 8 % placement.tensor_parallel_size == 0
    assert placement.kv_cache_tokens == 33_568 and placement.max_concurrency == pytest.approx(4.1, abs=0.01)
    assert placement.resources.gpus == 8 and placement.alternatives == ()


def test_wider_pool_picks_the_cheaper_big_gpu() -> None:
    # With g6e allowed, 4 x L40S (44.7 GiB each) hold the 70B for $10.49/h instead of $16.29 on g5.48xlarge.
    placement = _place(LLAMA_3_70B, ["g5", "g6", "g6e"])
    assert (placement.instance_type, placement.tensor_parallel_size) == ("g6e.12xlarge", 4)
    prices = [placement.on_demand_usd_per_hour] + [a.on_demand_usd_per_hour for a in placement.alternatives]
    assert prices == sorted(prices)


def test_mixtral_moe() -> None:
    # 93,405,585,408 B of weights: 8 A10G at TP 8 (10.9 GiB each); context 32,768, KV 2 x 32 x 1 x 128 x 2 B/GPU.
    placement = _place(MIXTRAL)
    assert (placement.instance_type, placement.tensor_parallel_size, placement.max_model_len) == (
        "g5.48xlarge",
        8,
        32768,
    )
    assert placement.max_concurrency > 10


def test_qwen25_gets_the_longest_context_that_keeps_one_request() -> None:
    # Weights 15,231,233,024 B; runtime 1,166,016,512 + 311,427,072 + 1 GiB = 2,551,185,408 B;
    # KV 3,817,850,675 B / 57,344 B per token = 66,577 tokens -> rounded down to 256: 66,560 (limit 131,072).
    placement = _place(QWEN25_7B)
    assert (placement.instance_type, placement.max_model_len) == ("g5.xlarge", 66_560)
    assert placement.max_concurrency >= 1.0
    two = _place(QWEN25_7B, min_concurrency=2)  # half each: 33,288 -> 33,280
    assert (two.instance_type, two.max_model_len) == ("g5.xlarge", 33_280)


def test_sliding_window_lets_mistral_keep_its_full_context() -> None:
    # KV 21,600,269,107 - 14,483,464,192 - (973,078,528 + 65,536,000 + 1 GiB) = 5,004,448,563 B; a 32,768-token
    # request holds 4,096 + 2,048 tokens per layer: 131,072 x 6,144 B -> 6.21 requests (1.17 without the window).
    placement = _place(MISTRAL_7B)
    assert (placement.instance_type, placement.max_model_len) == ("g5.xlarge", 32768)
    assert placement.max_concurrency == pytest.approx(6.21, abs=0.01)


def test_gemma2_needs_more_than_one_a10g() -> None:
    # bf16 weights 18,483,411,968 B leave 579,303,219 B of KV on one A10G: 1,683 tokens at 344,064 B each,
    # under the 2,048-token minimum -> the cheapest fit is 4 GPUs (16 heads, 8 KV heads: TP 4 is valid).
    placement = _place(GEMMA2_9B)
    assert (placement.instance_type, placement.tensor_parallel_size, placement.max_model_len) == (
        "g5.12xlarge",
        4,
        8192,
    )
    # In a mixed pool the 1-GPU L40S serves it; A10G types are not compatible and must stay off the node list.
    mixed = _place(GEMMA2_9B, ["g5", "g6e"])
    assert mixed.instance_type == "g6e.xlarge"
    assert mixed.compatible_instance_types and all(n.startswith("g6e.") for n in mixed.compatible_instance_types)


def test_quantized_checkpoint_needs_fewer_gpus() -> None:
    config = dict(
        fixture_config(LLAMA_3_70B), quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128}
    )
    profile = profile_from_config(config, source="llama-70b-awq", origin="test")
    placement = _place(LLAMA_3_70B, profile=profile)
    # ~37 GiB of int4 weights fit 4 A10G: g5.12xlarge ($5.67) instead of g5.48xlarge ($16.29).
    assert (placement.instance_type, placement.tensor_parallel_size, placement.weight_format) == (
        "g5.12xlarge",
        4,
        "int4 awq",
    )


def test_fp8_kv_cache_doubles_the_tokens() -> None:
    placement = _place(LLAMA_3_8B_INSTRUCT, engine={"kv_cache_dtype": "fp8"})
    assert placement.kv_bytes_per_token == 65_536 and placement.kv_cache_tokens == 2 * 24_640


def test_engine_settings_are_honoured() -> None:
    placement = _place(LLAMA_3_8B_INSTRUCT, engine={"max_model_len": 4096, "gpu_memory_utilization": 0.8})
    assert placement.max_model_len == 4096 and placement.gpu_memory_utilization == 0.8
    assert _place(LLAMA_3_8B_INSTRUCT, engine={"tensor_parallel_size": 4}).instance_type == "g5.12xlarge"


def test_model_that_fits_nowhere_in_the_pool_is_refused_with_numbers_and_a_fix() -> None:
    # 8 x T4 (16 GiB) = 128 GiB < 131.4 GiB of weights.
    with pytest.raises(PlanError) as caught:
        _place(LLAMA_3_70B, ["g4dn"])
    message = caught.value.message
    assert caught.value.exit_code == 2 and "\n" not in message
    assert "131.4 GiB" in message and "g4dn.metal" in message and "8 x 16.0 GiB T4" in message
    assert "fp8" not in message  # T4s have no fp8 kernels: not offered
    family = re.search(r"add (\S+) to pools\.gpu\.instance_families", message)
    assert family is not None
    assert _place(LLAMA_3_70B, ["g4dn", family.group(1)]).instance_type.startswith(family.group(1) + ".")


def test_fp8_is_offered_where_it_fits() -> None:
    # TP pinned to 4 on L4s: 87 GiB of bf16 Mixtral exceed 4 x 20.1 GiB; fp8 halves the projections.
    with pytest.raises(PlanError, match=r"set engine\.quantization: fp8 \(g6\.12xlarge, TP 4\)"):
        _place(MIXTRAL, ["g6"], engine={"tensor_parallel_size": 4})
    assert (
        _place(MIXTRAL, ["g6"], engine={"tensor_parallel_size": 4, "quantization": "fp8"}).instance_type
        == "g6.12xlarge"
    )


def test_fp8_on_gpus_without_fp8_kernels_is_refused_for_that_reason() -> None:
    with pytest.raises(PlanError, match=r"fp8 weights need compute capability 8\.0 or newer; T4 has 7\.5"):
        _place(LLAMA_3_8B_INSTRUCT, ["g4dn"], engine={"quantization": "fp8"})


def test_kv_shortfall_names_max_model_len_and_concurrency() -> None:
    with pytest.raises(PlanError) as caught:
        _place(LLAMA_3_8B_INSTRUCT, engine={"max_model_len": 8192}, min_concurrency=200)
    message = caught.value.message
    assert "g5.48xlarge" in message and "min_concurrency 200" in message
    lower = re.search(r"lower engine\.max_model_len to (\d+)", message)
    fewer = re.search(r"lower sizing\.min_concurrency to (\d+)", message)
    assert lower is not None and fewer is not None and int(fewer.group(1)) == 129
    fixed = _place(LLAMA_3_8B_INSTRUCT, engine={"max_model_len": int(lower.group(1))}, min_concurrency=200)
    assert fixed.instance_type == "g5.48xlarge"


def test_small_data_volume_is_refused_with_the_size_to_set() -> None:
    with pytest.raises(PlanError) as caught:
        _place(LLAMA_3_70B, data_volume_gib=100)
    volume = re.search(r"raise pools\.gpu\.data_volume_gib to (\d+)", caught.value.message)
    assert volume is not None
    assert _place(LLAMA_3_70B, data_volume_gib=int(volume.group(1))).instance_type == "g5.48xlarge"


def test_settings_the_model_cannot_take_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"exceeds .* limit of 8,192 tokens"):
        _place(LLAMA_3_8B_INSTRUCT, engine={"max_model_len": 16384})
    with pytest.raises(ConfigError, match="28 attention / 4 KV heads; use one of 1, 2, 4"):
        _place(QWEN25_7B, engine={"tensor_parallel_size": 8})
    with pytest.raises(ConfigError, match="needs a checkpoint quantized with it"):
        _place(LLAMA_3_8B_INSTRUCT, engine={"quantization": "awq"})
    with pytest.raises(ConfigError, match="max_num_seqs"):
        _place(LLAMA_3_8B_INSTRUCT, engine={"max_num_seqs": 2}, min_concurrency=4)


def test_pool_without_gpus_is_refused() -> None:
    with pytest.raises(PlanError, match=r"\[m5\] has no NVIDIA x86_64 GPU instance types"):
        _place(LLAMA_3_8B_INSTRUCT, ["m5"])
    with pytest.raises(PlanError, match="g9 not in the catalog"):
        _place(LLAMA_3_8B_INSTRUCT, ["g9"])


def test_placement_serialises() -> None:
    data = _place(LLAMA_3_8B_INSTRUCT).to_dict()
    assert data["instance_type"] == "g5.xlarge" and data["resources"]["gpus"] == 1
    assert all("alternatives" not in alt for alt in data["alternatives"])


def test_a_model_whose_checkpoint_outgrows_the_data_volume_everywhere_gets_both_fixes() -> None:
    # Llama-3.1-405B's published config: 756 GiB of bf16 weights. 8 x H200 (p5en.48xlarge, 141 GiB each) hold
    # them at TP 8, but the node must also store the 756 GiB checkpoint + 20 GiB image (+ 11.2 GiB compressed
    # while it is pulled) + 10 GiB margin = 798 GiB, which the default 200 GiB data volume cannot: the family alone
    # is no fix, the volume must grow with it (798 + 1 GiB kube-reserved over the 90% kubelet leaves -> 887.8 ->
    # 890 GiB).
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 16384,
        "intermediate_size": 53248,
        "num_hidden_layers": 126,
        "num_attention_heads": 128,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "rope_scaling": {"factor": 8.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "torch_dtype": "bfloat16",
    }
    profile = profile_from_config(config, source="llama-405b", origin="test")
    with pytest.raises(PlanError) as caught:
        _place(LLAMA_3_70B, profile=profile)
    message = caught.value.message
    assert "756.0 GiB" in message and "\n" not in message
    fix = re.search(r"add (\S+) to pools\.gpu\.instance_families \((\S+), TP 8, .*data_volume_gib to (\d+)$", message)
    assert fix is not None and fix.groups() == ("p5en", "p5en.48xlarge", "890")
    placed = _place(LLAMA_3_70B, ["g5", "p5en"], profile=profile, data_volume_gib=890)
    assert (placed.instance_type, placed.tensor_parallel_size) == ("p5en.48xlarge", 8)
