"""The ``demo`` model: a tiny Llama built on this machine, so the whole path works with no network and no GPU.

Random weights (seeded), a byte-level BPE tokenizer trained on text found on the machine (Python's standard
library sources), and a chat template. vLLM loads and serves it through its real code paths; the words it returns
are noise. Built once into the inferctl home cache (about a second) and reused; the tests use the same builder.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from inferctl.home import Home

# Bump when the files change, so an old cache is never served.
# The ``source`` that names the demo model in a config, a profile lookup and on the command line.
DEMO_SOURCE = "demo"
DEMO_MODEL_VERSION = 1
DEMO_SERVED_NAME = "demo"
_VOCAB_SIZE = 2048
_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# The demo's config.json: Llama architecture, about 2.6M parameters (head_dim 64 suits vLLM's CPU attention).
DEMO_MODEL_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "vocab_size": _VOCAB_SIZE,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "torch_dtype": "float32",
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def demo_model_dir(home: Home) -> Path:
    return home.cache / f"demo-model-v{DEMO_MODEL_VERSION}"


def ensure_demo_model(home: Home) -> Path:
    """The demo model's directory, building it on first use. Safe against concurrent builders."""
    target = demo_model_dir(home)
    if (target / "COMPLETE").is_file():
        return target
    home.ensure(home.cache)
    staging = Path(tempfile.mkdtemp(prefix="demo-model-", dir=home.cache))
    try:
        build_demo_model(staging)
        (staging / "COMPLETE").write_text(f"{DEMO_MODEL_VERSION}\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not (target / "COMPLETE").is_file():  # a partial leftover, not a concurrent success
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_demo_model(out: Path) -> None:
    """Write config.json, generation_config.json, model.safetensors and the tokenizer files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _write_tokenizer(out)
    _write_weights(out)
    (out / "config.json").write_text(json.dumps(DEMO_MODEL_CONFIG, indent=2), encoding="utf-8")
    generation = {"bos_token_id": 1, "eos_token_id": 2, "do_sample": True, "temperature": 1.0}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2), encoding="utf-8")
    (out / "README.md").write_text(
        "Demo model built by inferctl: random weights, output is noise. Not for real use.\n", encoding="utf-8"
    )


def _training_text(limit_bytes: int = 3_000_000) -> list[str]:
    """Python standard-library sources: present on every machine that runs inferctl, in a stable order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.is_file())
    texts: list[str] = []
    total = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    if not texts:  # a stripped Python without sources: still build something usable
        texts = [json.dumps(DEMO_MODEL_CONFIG) * 50]
    return texts


def _write_tokenizer(out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_text(), trainer=trainer)
    tokenizer.save(str(out / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": DEMO_MODEL_CONFIG["max_position_embeddings"],
        "clean_up_tokenization_spaces": False,
        "chat_template": _CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2), encoding="utf-8")


def _write_weights(out: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    cfg = DEMO_MODEL_CONFIG
    hidden, inter = cfg["hidden_size"], cfg["intermediate_size"]
    head_dim = cfg["head_dim"]
    q_dim = cfg["num_attention_heads"] * head_dim
    kv_dim = cfg["num_key_value_heads"] * head_dim
    rng = np.random.default_rng(0)

    def normal(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    tensors: dict[str, Any] = {"model.embed_tokens.weight": normal(cfg["vocab_size"], hidden)}
    for i in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{i}"
        tensors[f"{prefix}.self_attn.q_proj.weight"] = normal(q_dim, hidden)
        tensors[f"{prefix}.self_attn.k_proj.weight"] = normal(kv_dim, hidden)
        tensors[f"{prefix}.self_attn.v_proj.weight"] = normal(kv_dim, hidden)
        tensors[f"{prefix}.self_attn.o_proj.weight"] = normal(hidden, q_dim)
        tensors[f"{prefix}.mlp.gate_proj.weight"] = normal(inter, hidden)
        tensors[f"{prefix}.mlp.up_proj.weight"] = normal(inter, hidden)
        tensors[f"{prefix}.mlp.down_proj.weight"] = normal(hidden, inter)
        tensors[f"{prefix}.input_layernorm.weight"] = np.ones(hidden, dtype=np.float32)
        tensors[f"{prefix}.post_attention_layernorm.weight"] = np.ones(hidden, dtype=np.float32)
    tensors["model.norm.weight"] = np.ones(hidden, dtype=np.float32)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
