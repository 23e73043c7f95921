"""The demo model builder: files vLLM and transformers accept, cached once."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from inferctl.demo_model import DEMO_MODEL_CONFIG, ensure_demo_model
from inferctl.home import Home

if importlib.util.find_spec("tokenizers") is None or importlib.util.find_spec("safetensors") is None:
    pytest.skip("the demo builder needs the local extra (tokenizers, safetensors)", allow_module_level=True)


def test_builds_once_and_caches(tmp_path: Path) -> None:
    home = Home(tmp_path)
    first = ensure_demo_model(home)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert ensure_demo_model(home) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert json.loads((first / "config.json").read_text()) == DEMO_MODEL_CONFIG
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no staging leftovers


def test_weights_match_the_architecture(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    tensors = load_file(str(ensure_demo_model(Home(tmp_path)) / "model.safetensors"))
    cfg = DEMO_MODEL_CONFIG
    assert tensors["model.embed_tokens.weight"].shape == (cfg["vocab_size"], cfg["hidden_size"])
    q = tensors["model.layers.0.self_attn.q_proj.weight"]
    assert q.shape == (cfg["num_attention_heads"] * cfg["head_dim"], cfg["hidden_size"])
    layers = {k.split(".")[2] for k in tensors if k.startswith("model.layers.")}
    assert len(layers) == cfg["num_hidden_layers"]
    params = sum(t.size for t in tensors.values())
    assert 2_000_000 < params < 4_000_000


def test_tokenizer_and_chat_template_load_with_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(ensure_demo_model(Home(tmp_path))))
    ids = tokenizer("def hello(world):\n    return 42")["input_ids"]
    assert 3 <= len(ids) < 30
    assert max(ids) < DEMO_MODEL_CONFIG["vocab_size"]
    assert tokenizer.decode(ids) == "def hello(world):\n    return 42"
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                           add_generation_prompt=True)  # fmt: skip
    assert prompt == "<|user|>\nhi<|end|>\n<|assistant|>\n"
