"""Model profiles: the architecture facts sizing needs, read from a model's ``config.json``.

:func:`profile_from_config` is pure (a config dict in, a :class:`ModelProfile` out). Finding the config is apart:
:mod:`inferctl.catalog.files` reads a local directory, :mod:`inferctl.catalog.hub` a HuggingFace id, and
:func:`inferctl.catalog.sources.load_profile` chooses between them, so the definition imports neither.

Understood families (``model_type``): llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma, gemma2,
gemma3_text. Anything else is refused by name rather than sized by guesswork.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from inferctl.errors import ConfigError, PlanError

# Bytes per element of the dtypes that appear in config.json and safetensors headers.
DTYPE_BYTES: dict[str, float] = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F4": 0.5,
}


@dataclass(frozen=True)
class FamilyRules:
    """How one ``model_type`` lays out its weights (the parts that differ between families)."""

    tied_default: bool = False  # tie_word_embeddings when config.json omits it
    qkv_bias: bool = False  # q/k/v projections carry biases regardless of attention_bias (Qwen2)
    norms_per_layer: int = 2  # RMSNorms of hidden_size per decoder layer
    qk_norm: bool = False  # per-head RMSNorm on q and k (head_dim each)
    moe: str | None = None  # None | "mixtral" | "qwen" (router + experts [+ shared expert])
    sliding: str | None = None  # None | "all" | "qwen" | "alternate" | "pattern"


FAMILIES: dict[str, FamilyRules] = {
    "llama": FamilyRules(),
    "mistral": FamilyRules(sliding="all"),
    "mixtral": FamilyRules(moe="mixtral", sliding="all"),
    "qwen2": FamilyRules(qkv_bias=True, sliding="qwen"),
    "qwen2_moe": FamilyRules(qkv_bias=True, moe="qwen", sliding="qwen"),
    "qwen3": FamilyRules(qk_norm=True, sliding="qwen"),
    "qwen3_moe": FamilyRules(qk_norm=True, moe="qwen", sliding="qwen"),
    "gemma": FamilyRules(tied_default=True),
    "gemma2": FamilyRules(tied_default=True, norms_per_layer=4, sliding="alternate"),
    "gemma3_text": FamilyRules(tied_default=True, norms_per_layer=4, qk_norm=True, sliding="pattern"),
}

# Quantization methods as config.json and vLLM name them -> the method sizing reasons about.
_QUANT_ALIASES = {"awq_marlin": "awq", "gptq_marlin": "gptq", "gptq_marlin_24": "gptq", "fbgemm_fp8": "fp8"}


@dataclass(frozen=True)
class WeightsMetadata:
    """Exact facts about a checkpoint's stored tensors (from safetensors headers or the shard index)."""

    total_bytes: int
    parameters_by_dtype: dict[str, int] = field(default_factory=dict)  # empty when only the index was read
    source: str = "safetensors headers"


@dataclass(frozen=True)
class ModelProfile:
    """What sizing needs to know about a model. Counts are for the whole model (no tensor parallelism)."""

    source: str
    origin: str  # where config.json came from: local directory, huggingface hub, packaged snapshot, demo
    architecture: str
    model_type: str
    num_parameters: int
    parameters_source: str  # "safetensors headers" | "safetensors index" | "architecture"
    embedding_parameters: int  # input embeddings + untied lm_head (kept at 16 bits by int4/fp8 quantization)
    norm_parameters: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int  # the longest context the model supports (rope scaling applied)
    sliding_window: int | None
    sliding_window_layers: int  # layers whose KV cache only needs the window
    num_experts: int  # 0 for dense models
    experts_per_token: int
    expert_intermediate_size: int
    torch_dtype: str  # dtype of the stored weights
    quantization: str | None  # pre-quantized checkpoint: awq, gptq, fp8, compressed-tensors, bitsandbytes...
    quant_bits: int | None
    quant_group_size: int | None
    checkpoint_bytes: int | None  # exact size of the safetensors files when known
    notes: tuple[str, ...] = ()
    # The repository's top-level file names as the hub listed them at the revision; None when not listed (offline,
    # a local directory, a packaged snapshot). The S3 cache checks them for weights it can serve.
    repo_files: tuple[str, ...] | None = None

    @property
    def full_attention_layers(self) -> int:
        return self.num_layers - self.sliding_window_layers

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def linear_parameters(self) -> int:
        """Parameters in the projection matrices: what weight quantization shrinks."""
        return self.num_parameters - self.embedding_parameters - self.norm_parameters

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
        del out["repo_files"]  # a listing, not a fact about the model
        return out


def profile_from_config(
    config: dict[str, Any],
    *,
    source: str,
    origin: str,
    weights: WeightsMetadata | None = None,
) -> ModelProfile:
    """Build the profile from a parsed ``config.json``. Raises PlanError for architectures it does not understand."""
    model_type = str(config.get("model_type", ""))
    architecture = str((config.get("architectures") or ["?"])[0])
    rules = FAMILIES.get(model_type)
    if rules is None:
        nested = (
            " (a multimodal config: only its text_config describes the language model)"
            if ("text_config" in config)
            else ""
        )
        raise PlanError(
            f"{source}: architecture {architecture} (model_type {model_type or 'missing'!r}){nested} is not "
            f"understood by inferctl's sizing; supported: {', '.join(FAMILIES)}; size it by hand with "
            "engine.tensor_parallel_size and engine.max_model_len"
        )
    try:
        return _profile(config, rules, model_type, architecture, source, origin, weights)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"{source}: config.json lacks or garbles {exc} for a {model_type} model") from None


def _profile(
    config: dict[str, Any],
    rules: FamilyRules,
    model_type: str,
    architecture: str,
    source: str,
    origin: str,
    weights: WeightsMetadata | None,
) -> ModelProfile:
    notes: list[str] = []
    hidden = int(config["hidden_size"])
    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    vocab = int(config["vocab_size"])
    intermediate = int(config.get("intermediate_size") or 0)
    tied = bool(config.get("tie_word_embeddings", rules.tied_default))
    torch_dtype = str(config.get("torch_dtype") or config.get("dtype") or "")
    if not torch_dtype:
        torch_dtype = "float32"
        notes.append("config.json names no torch_dtype; assuming float32 weights on disk")

    # Experts: Mixtral calls them num_local_experts; Qwen MoE num_experts with their own intermediate size.
    experts = int(config.get("num_local_experts") or config.get("num_experts") or 0) if rules.moe else 0
    experts_per_token = int(config.get("num_experts_per_tok") or 0) if experts else 0
    expert_intermediate = int(config.get("moe_intermediate_size") or intermediate) if experts else 0

    attention = _attention_parameters(config, rules, hidden, heads, kv_heads, head_dim)
    mlp_total = 0
    for index in range(layers):
        mlp_total += _mlp_parameters(config, rules, index, hidden, intermediate, experts, expert_intermediate)
    norms = layers * rules.norms_per_layer * hidden + hidden
    if rules.qk_norm:
        norms += layers * 2 * head_dim
    embedding = vocab * hidden * (1 if tied else 2)
    computed = layers * attention + mlp_total + norms + embedding

    parameters, parameters_source = computed, "architecture"
    quantization, bits, group = _quantization(config)
    checkpoint_bytes = weights.total_bytes if weights else None
    if weights and quantization is None:
        if weights.parameters_by_dtype:
            parameters, parameters_source = sum(weights.parameters_by_dtype.values()), weights.source
        elif torch_dtype in DTYPE_BYTES:
            parameters, parameters_source = int(weights.total_bytes / DTYPE_BYTES[torch_dtype]), weights.source
        if abs(parameters - computed) > 0.02 * computed:
            notes.append(
                f"the checkpoint holds {parameters:,} parameters, the architecture accounts for {computed:,}; "
                "sizing uses the checkpoint's count"
            )

    sliding_window, sliding_layers = _sliding(config, rules, layers)
    return ModelProfile(
        source=source,
        origin=origin,
        architecture=architecture,
        model_type=model_type,
        num_parameters=parameters,
        parameters_source=parameters_source,
        embedding_parameters=embedding,
        norm_parameters=norms,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        tie_word_embeddings=tied,
        max_position_embeddings=_context_limit(config),
        sliding_window=sliding_window,
        sliding_window_layers=sliding_layers,
        num_experts=experts,
        experts_per_token=experts_per_token,
        expert_intermediate_size=expert_intermediate,
        torch_dtype=torch_dtype,
        quantization=quantization,
        quant_bits=bits,
        quant_group_size=group,
        checkpoint_bytes=checkpoint_bytes,
        notes=tuple(notes),
    )


def _attention_parameters(
    config: dict[str, Any], rules: FamilyRules, hidden: int, heads: int, kv_heads: int, head_dim: int
) -> int:
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    params = hidden * q_out + 2 * hidden * kv_out + q_out * hidden  # q, k, v, o
    if rules.qkv_bias:
        params += q_out + 2 * kv_out
    elif config.get("attention_bias"):
        params += q_out + 2 * kv_out + hidden
    return params


def _mlp_parameters(
    config: dict[str, Any],
    rules: FamilyRules,
    index: int,
    hidden: int,
    intermediate: int,
    experts: int,
    expert_intermediate: int,
) -> int:
    """Gated MLP (gate, up, down) or a mixture of experts for decoder layer ``index``."""
    dense = 3 * hidden * intermediate + (2 * intermediate + hidden if config.get("mlp_bias") else 0)
    if not experts:
        return dense
    if rules.moe == "qwen":
        step = int(config.get("decoder_sparse_step") or 1)
        if index in (config.get("mlp_only_layers") or []) or (index + 1) % step != 0:
            return dense
    params = experts * 3 * hidden * expert_intermediate + hidden * experts  # experts + router
    shared = int(config.get("shared_expert_intermediate_size") or 0)
    if rules.moe == "qwen" and shared:
        params += 3 * hidden * shared + hidden  # shared expert and its gate
    return params


def _sliding(config: dict[str, Any], rules: FamilyRules, layers: int) -> tuple[int | None, int]:
    """The sliding window and how many layers use it."""
    window = config.get("sliding_window") or config.get("sliding_window_size")
    if not window:
        return None, 0
    window = int(window)
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        count = sum(1 for kind in layer_types if kind == "sliding_attention")
    elif rules.sliding == "all":
        count = layers
    elif rules.sliding == "qwen":
        # Qwen applies the window only when use_sliding_window is set, and only from max_window_layers on.
        count = layers - int(config.get("max_window_layers") or 0) if config.get("use_sliding_window") else 0
    elif rules.sliding == "alternate":
        count = (layers + 1) // 2  # Gemma 2: even-numbered layers are local
    elif rules.sliding == "pattern":
        pattern = int(config.get("sliding_window_pattern") or 6)  # Gemma 3: every pattern-th layer is global
        count = layers - layers // pattern
    else:
        count = 0
    return (window, max(0, count)) if count > 0 else (None, 0)


def _context_limit(config: dict[str, Any]) -> int:
    """The model's longest context, as vLLM derives it: rope scaling multiplies the position limit, except for
    the llama3 / longrope kinds whose max_position_embeddings already includes it."""
    limit = int(
        config.get("max_position_embeddings")
        or config.get("max_sequence_length")
        or config.get("seq_length")
        or config.get("n_positions")
        or 2048
    )
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    if isinstance(rope, dict) and rope.get("factor"):
        kind = str(rope.get("rope_type") or rope.get("type") or "")
        if kind and kind not in ("su", "longrope", "llama3", "default"):
            base = int(rope.get("original_max_position_embeddings") or limit) if kind == "yarn" else limit
            limit = int(base * float(rope["factor"]))
    return limit


def _quantization(config: dict[str, Any]) -> tuple[str | None, int | None, int | None]:
    """(method, bits, group size) of a pre-quantized checkpoint, from config.json's quantization_config."""
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        return None, None, None
    method = str(quant.get("quant_method") or "unknown").lower()
    method = _QUANT_ALIASES.get(method, method)
    bits = quant.get("bits") or quant.get("w_bit") or quant.get("weight_bits")
    group = quant.get("group_size") or quant.get("q_group_size")
    if method == "fp8":
        bits = 8
    elif method == "bitsandbytes":
        bits = 8 if quant.get("load_in_8bit") else 4
    elif method == "compressed-tensors":
        for group_config in (quant.get("config_groups") or {}).values():
            weights = group_config.get("weights") or {}
            bits = bits or weights.get("num_bits")
            group = group or weights.get("group_size")
    elif method == "mxfp4":
        bits = 4
    return method, int(bits) if bits else None, int(group) if group and int(group) > 0 else None
