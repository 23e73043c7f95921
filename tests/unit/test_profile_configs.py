"""Model profiles from published config.json files (tests/fixtures/models, see its README for sources).

Parameter counts are derived by hand below from the architecture and checked against the counts the model cards
publish (within 1%); KV bytes per token are exact: 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (bf16).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferctl.catalog import load_profile, profile_from_config
from inferctl.catalog.hub import packaged_configs
from inferctl.catalog.sources import profile_from_directory
from inferctl.config.models import EngineSettings
from inferctl.errors import ConfigError, NotFoundError, PlanError
from inferctl.sizing.memory import kv_bytes_per_token
from tests.support.sizing import (
    FIXTURES,
    GEMMA2_9B,
    LLAMA_3_8B,
    LLAMA_3_8B_INSTRUCT,
    LLAMA_3_70B,
    MISTRAL_7B,
    MIXTRAL,
    QWEN3_8B,
    QWEN25_7B,
    fixture_config,
    fixture_profile,
)

BF16 = EngineSettings()

# (fixture, parameters derived by hand, parameters the model card publishes, KV bytes per token)
CASES = [
    # Llama-3-8B: embed + lm_head 2 x 128256 x 4096 = 1,050,673,152; per layer q 4096x4096 + k,v 2 x 4096x1024
    # + o 4096x4096 = 41,943,040, MLP 3 x 4096 x 14336 = 176,160,768, 2 norms 8,192 -> 218,112,000 x 32
    # = 6,979,584,000; + final norm 4,096 -> 8,030,261,248. KV: 2 x 32 x 8 x 128 x 2 = 131,072 B = 128 KiB.
    (LLAMA_3_8B, 8_030_261_248, 8.03e9, 131_072),
    # Llama-3-70B: embeddings 2 x 128256 x 8192 = 2,101,346,304; per layer attention 2 x 8192^2 + 2 x 8192 x 1024
    # = 150,994,944, MLP 3 x 8192 x 28672 = 704,643,072, norms 16,384 -> 855,654,400 x 80 = 68,452,352,000;
    # + 8,192 -> 70,553,706,496. KV: 2 x 80 x 8 x 128 x 2 = 327,680 B = 320 KiB.
    (LLAMA_3_70B, 70_553_706_496, 70.6e9, 327_680),
    # Mixtral-8x7B: embeddings 2 x 32000 x 4096 = 262,144,000; per layer attention 41,943,040, 8 experts x
    # 3 x 4096 x 14336 = 1,409,286,144, router 4096 x 8 = 32,768, norms 8,192 -> 1,451,270,144 x 32
    # = 46,440,644,608; + 4,096 -> 46,702,792,704. KV as Llama-3-8B: 131,072 B.
    (MIXTRAL, 46_702_792_704, 46.7e9, 131_072),
    # Qwen2.5-7B: embeddings 2 x 152064 x 3584 = 1,089,994,752; per layer q 3584^2 + bias 3584, k,v 2 x
    # (3584 x 512 + 512), o 3584^2 -> 29,364,736, MLP 3 x 3584 x 18944 = 203,685,888, norms 7,168 -> 233,057,792
    # x 28 = 6,525,618,176; + 3,584 -> 7,615,616,512 (card: 7.61B, 6.53B without embeddings). KV: 2 x 28 x 4
    # x 128 x 2 = 57,344 B = 56 KiB.
    (QWEN25_7B, 7_615_616_512, 7.61e9, 57_344),
    # Qwen3-8B: embeddings 2 x 151936 x 4096 = 1,244,659,712; per layer attention 41,943,040 + q/k norms 256,
    # MLP 3 x 4096 x 12288 = 150,994,944, norms 8,192 -> 192,946,432 x 36 = 6,946,071,552; + 4,096
    # -> 8,190,735,360 (card: 8.2B). KV: 2 x 36 x 8 x 128 x 2 = 147,456 B = 144 KiB.
    (QWEN3_8B, 8_190_735_360, 8.2e9, 147_456),
    # Mistral-7B-v0.1: as Llama-3-8B with a 32000 vocabulary: 218,112,000 x 32 + 2 x 32000 x 4096 + 4,096
    # = 7,241,732,096 (card: 7.24B). KV 131,072 B per token, but only 4,096 (+ a prefill chunk) tokens per layer.
    (MISTRAL_7B, 7_241_732_096, 7.24e9, 131_072),
    # Gemma-2-9b: tied embeddings 256000 x 3584 = 917,504,000; per layer q 3584 x 4096 + k,v 2 x 3584 x 2048
    # + o 4096 x 3584 = 44,040,192, MLP 3 x 3584 x 14336 = 154,140,672, 4 norms 14,336 -> 198,195,200 x 42
    # = 8,324,198,400; + 3,584 -> 9,241,705,984 (card: 9.24B). KV: 2 x 42 x 8 x 256 x 2 = 344,064 B = 336 KiB.
    (GEMMA2_9B, 9_241_705_984, 9.24e9, 344_064),
]


@pytest.mark.parametrize(("name", "derived", "published", "kv_per_token"), CASES, ids=[c[0] for c in CASES])
def test_parameters_and_kv_per_token(name: str, derived: int, published: float, kv_per_token: int) -> None:
    profile = fixture_profile(name)
    assert profile.num_parameters == derived
    assert abs(profile.num_parameters - published) / published < 0.01
    assert kv_bytes_per_token(profile, BF16) == kv_per_token


# Families without a fixture directory: config values of public models, and the counts their cards publish.
QWEN3_30B_A3B = {  # Qwen/Qwen3-30B-A3B: 128 experts, 8 active, no shared expert
    "architectures": ["Qwen3MoeForCausalLM"],
    "model_type": "qwen3_moe",
    "hidden_size": 2048,
    "num_hidden_layers": 48,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "head_dim": 128,
    "intermediate_size": 6144,
    "moe_intermediate_size": 768,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
QWEN15_MOE = {  # Qwen/Qwen1.5-MoE-A2.7B: 60 experts, 4 active, plus a shared expert
    "architectures": ["Qwen2MoeForCausalLM"],
    "model_type": "qwen2_moe",
    "hidden_size": 2048,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "intermediate_size": 5632,
    "moe_intermediate_size": 1408,
    "shared_expert_intermediate_size": 5632,
    "num_experts": 60,
    "num_experts_per_tok": 4,
    "decoder_sparse_step": 1,
    "vocab_size": 151936,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
GEMMA_7B = {  # google/gemma-7b
    "architectures": ["GemmaForCausalLM"],
    "model_type": "gemma",
    "hidden_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 256,
    "intermediate_size": 24576,
    "vocab_size": 256000,
    "max_position_embeddings": 8192,
    "torch_dtype": "bfloat16",
}
GEMMA3_1B = {  # google/gemma-3-1b-it: 5 local layers (window 512) per global one
    "architectures": ["Gemma3ForCausalLM"],
    "model_type": "gemma3_text",
    "hidden_size": 1152,
    "num_hidden_layers": 26,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "intermediate_size": 6912,
    "vocab_size": 262144,
    "max_position_embeddings": 32768,
    "sliding_window": 512,
    "sliding_window_pattern": 6,
    "torch_dtype": "bfloat16",
}
FAMILY_CASES = [
    # 48 x (attention 18,874,368 + q/k norms 256 + experts 128 x 3 x 2048 x 768 + router 2048 x 128 + norms 4,096)
    # + embeddings 2 x 151936 x 2048 + 2,048 = 30,532,122,624 (card: 30.5B).
    (QWEN3_30B_A3B, 30_532_122_624, 30.5e9, 2 * 48 * 4 * 128 * 2, 0),
    # 24 x (q,k,v with biases 12,589,056 + o 4,194,304 + experts 60 x 3 x 2048 x 1408 + router 122,880
    # + shared expert 3 x 2048 x 5632 + its gate 2,048 + norms 4,096) + 622,329,856 + 2,048 = 14,315,784,192 (14.3B).
    (QWEN15_MOE, 14_315_784_192, 14.3e9, 2 * 24 * 16 * 128 * 2, 0),
    # 28 x (attention 50,331,648 + MLP 226,492,416 + norms 6,144) + tied 786,432,000 + 3,072 = 8,537,680,896 (8.54B).
    (GEMMA_7B, 8_537_680_896, 8.54e9, 2 * 28 * 16 * 256 * 2, 0),
    # 26 x (attention 2,949,120 + q/k norms 512 + MLP 23,887,872 + 4 norms 4,608) + tied 301,989,888 + 1,152
    # = 999,885,952 (1B); 26 - 26 // 6 = 22 sliding layers.
    (GEMMA3_1B, 999_885_952, 1.0e9, 2 * 26 * 1 * 256 * 2, 22),
]


@pytest.mark.parametrize(
    ("config", "derived", "published", "kv_per_token", "sliding"),
    FAMILY_CASES,
    ids=["qwen3_moe", "qwen2_moe", "gemma", "gemma3_text"],
)
def test_other_families(
    config: dict[str, object], derived: int, published: float, kv_per_token: int, sliding: int
) -> None:
    profile = profile_from_config(dict(config), source="x", origin="test")
    assert profile.num_parameters == derived
    assert abs(profile.num_parameters - published) / published < 0.01
    assert kv_bytes_per_token(profile, BF16) == kv_per_token
    assert profile.sliding_window_layers == sliding


def test_llama_3_8b_fields() -> None:
    profile = fixture_profile(LLAMA_3_8B)
    assert (profile.num_layers, profile.num_attention_heads, profile.num_kv_heads, profile.head_dim) == (32, 32, 8, 128)
    assert (profile.hidden_size, profile.intermediate_size, profile.vocab_size) == (4096, 14336, 128256)
    assert not profile.tie_word_embeddings and profile.max_position_embeddings == 8192
    assert profile.sliding_window is None and not profile.is_moe and profile.torch_dtype == "bfloat16"


def test_moe_fields() -> None:
    profile = fixture_profile(MIXTRAL)
    assert (profile.num_experts, profile.experts_per_token, profile.expert_intermediate_size) == (8, 2, 14336)
    assert profile.max_position_embeddings == 32768 and profile.sliding_window is None  # null in the config


def test_sliding_windows() -> None:
    mistral = fixture_profile(MISTRAL_7B)
    assert (mistral.sliding_window, mistral.sliding_window_layers) == (4096, 32)  # every layer
    gemma = fixture_profile(GEMMA2_9B)
    assert (gemma.sliding_window, gemma.sliding_window_layers) == (4096, 21)  # every other layer of 42
    assert gemma.tie_word_embeddings and gemma.head_dim == 256 and gemma.torch_dtype == "float32"
    qwen = fixture_profile(QWEN25_7B)
    assert qwen.sliding_window is None  # sliding_window is set, but use_sliding_window is false
    assert qwen.max_position_embeddings == 131072


def test_index_total_size_gives_exact_parameters() -> None:
    # The instruct fixture carries the published shard index: total_size 16,060,522,496 B / 2 B per bf16 weight.
    profile = fixture_profile(LLAMA_3_8B_INSTRUCT)
    assert profile.parameters_source == "safetensors index"
    assert profile.checkpoint_bytes == 16_060_522_496 and profile.num_parameters == 8_030_261_248


def _llama_tensors(config: dict[str, int]) -> dict[str, list[int]]:
    """Tensor names and shapes as transformers stores a Llama (an independent enumeration of the weights)."""
    h, i, heads, kv, d = (
        config[k]
        for k in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim")
    )
    shapes = {
        "model.embed_tokens.weight": [config["vocab_size"], h],
        "model.norm.weight": [h],
        "lm_head.weight": [config["vocab_size"], h],
    }
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        shapes |= {
            p + "self_attn.q_proj.weight": [heads * d, h],
            p + "self_attn.k_proj.weight": [kv * d, h],
            p + "self_attn.v_proj.weight": [kv * d, h],
            p + "self_attn.o_proj.weight": [h, heads * d],
            p + "mlp.gate_proj.weight": [i, h],
            p + "mlp.up_proj.weight": [i, h],
            p + "mlp.down_proj.weight": [h, i],
            p + "input_layernorm.weight": [h],
            p + "post_attention_layernorm.weight": [h],
        }
    return shapes


def _write_safetensors(path: Path, shapes: dict[str, list[int]], *, data: bool = True) -> int:
    """A bf16 safetensors file; ``data=False`` writes the header only (all inferctl reads), for big shapes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + (bytes(offset) if data else b""))
    return offset


def test_safetensors_headers_give_exact_counts(tmp_path: Path) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "vocab_size": 100,
        "max_position_embeddings": 512,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    data_bytes = _write_safetensors(tmp_path / "model.safetensors", _llama_tensors(config))
    profile = profile_from_directory(tmp_path)
    computed = profile_from_config(config, source="x", origin="test").num_parameters
    assert profile.parameters_source == "safetensors headers"
    assert profile.num_parameters == computed == data_bytes // 2 and profile.checkpoint_bytes == data_bytes
    assert profile.notes == ()
    # Mistral-style repositories also ship consolidated.safetensors (the same weights again): not counted twice.
    (tmp_path / "consolidated.safetensors").write_bytes((tmp_path / "model.safetensors").read_bytes())
    assert profile_from_directory(tmp_path).num_parameters == computed


def test_index_names_the_shards(tmp_path: Path) -> None:
    config = fixture_config(LLAMA_3_8B)
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shapes = {"model.embed_tokens.weight": [128256, 4096]}
    _write_safetensors(tmp_path / "model-00001-of-00002.safetensors", shapes, data=False)
    index = {
        "metadata": {"total_size": 16_060_522_496},
        "weight_map": {
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors",
        },
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    # A shard is missing (a partial download): the index's total_size is the exact figure left.
    profile = profile_from_directory(tmp_path)
    assert profile.parameters_source == "safetensors index" and profile.num_parameters == 8_030_261_248
    _write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"lm_head.weight": [128256, 4096]}, data=False)
    complete = profile_from_directory(tmp_path)
    assert complete.parameters_source == "safetensors headers" and complete.num_parameters == 2 * 128256 * 4096


def test_quantization_config_is_read() -> None:
    awq = dict(
        fixture_config(LLAMA_3_8B),
        quantization_config={
            "quant_method": "awq",
            "bits": 4,
            "group_size": 128,
            "zero_point": True,
            "version": "gemm",
        },
    )
    profile = profile_from_config(awq, source="awq", origin="test")
    assert (profile.quantization, profile.quant_bits, profile.quant_group_size) == ("awq", 4, 128)
    fp8 = dict(fixture_config(LLAMA_3_8B), quantization_config={"quant_method": "fp8", "activation_scheme": "dynamic"})
    assert profile_from_config(fp8, source="fp8", origin="test").quant_bits == 8
    ct = dict(
        fixture_config(LLAMA_3_8B),
        quantization_config={
            "quant_method": "compressed-tensors",
            "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 128}, "targets": ["Linear"]}},
        },
    )
    assert profile_from_config(ct, source="ct", origin="test").quant_bits == 4


def test_rope_scaling_extends_the_context() -> None:
    yarn = dict(
        fixture_config(QWEN25_7B),
        max_position_embeddings=32768,
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    )
    assert profile_from_config(yarn, source="q", origin="test").max_position_embeddings == 131072
    llama3 = dict(
        fixture_config(LLAMA_3_8B),
        max_position_embeddings=131072,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192},
    )
    assert profile_from_config(llama3, source="l", origin="test").max_position_embeddings == 131072


def test_unknown_architecture_is_refused_by_name() -> None:
    falcon = {"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": 4544}
    with pytest.raises(PlanError, match=r"FalconForCausalLM .*not understood.*supported: llama"):
        profile_from_config(falcon, source="tiiuae/falcon-7b", origin="test")
    gemma3 = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "text_config": {}}
    with pytest.raises(PlanError, match="multimodal"):
        profile_from_config(gemma3, source="google/gemma-3-4b-it", origin="test")


def test_garbled_config_names_the_missing_field() -> None:
    broken = {k: v for k, v in fixture_config(LLAMA_3_8B).items() if k != "hidden_size"}
    with pytest.raises(ConfigError, match="hidden_size"):
        profile_from_config(broken, source="broken", origin="test")


def test_local_path_without_config(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no config\.json"):
        load_profile(str(tmp_path))


def test_demo_model_profile() -> None:
    profile = load_profile("demo")
    assert profile.origin == "demo" and profile.model_type == "llama"
    assert 0 < profile.num_parameters < 10_000_000


def test_packaged_snapshots_equal_the_fixtures() -> None:
    packaged = packaged_configs()
    assert len(packaged) >= 10
    for repo, config in packaged.items():
        assert fixture_config(repo.replace("/", "--")) == config, repo
    assert {d.name for d in FIXTURES.iterdir() if d.is_dir()} == {r.replace("/", "--") for r in packaged}
