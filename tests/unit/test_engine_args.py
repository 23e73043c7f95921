"""The one engine-argument builder."""

from __future__ import annotations

from inferctl.config import ModelDeployment, parse_config
from inferctl.engine import engine_args, server_args


def test_defaults_are_minimal() -> None:
    model = ModelDeployment(name="demo")
    assert engine_args(model) == ["--served-model-name", "demo", "--dtype", "auto", "--gpu-memory-utilization", "0.9"]


def test_config_values_map_to_vllm_flags() -> None:
    config = parse_config(
        """
models:
  - name: llama
    source: meta-llama/Meta-Llama-3-8B-Instruct
    served_model_name: llama3
    revision: main
    engine:
      dtype: bfloat16
      quantization: awq
      kv_cache_dtype: fp8
      max_model_len: 8192
      gpu_memory_utilization: 0.85
      tensor_parallel_size: 2
      max_num_seqs: 64
      enforce_eager: true
      enable_prefix_caching: false
      extra_args: ["--seed", "7"]
"""
    )
    args = engine_args(config.models[0])
    assert args == [
        "--served-model-name", "llama3", "--revision", "main", "--dtype", "bfloat16", "--quantization", "awq",
        "--kv-cache-dtype", "fp8", "--tensor-parallel-size", "2", "--max-model-len", "8192",
        "--gpu-memory-utilization", "0.85", "--max-num-seqs", "64", "--enforce-eager",
        "--no-enable-prefix-caching", "--seed", "7",
    ]  # fmt: skip


def test_sizing_values_fill_only_unset_fields() -> None:
    model = ModelDeployment(name="m", engine={"max_model_len": 4096})  # type: ignore[arg-type]
    args = engine_args(model, tensor_parallel_size=4, max_model_len=8192, gpu_memory_utilization=0.92)
    assert args[args.index("--max-model-len") + 1] == "4096"
    assert args[args.index("--tensor-parallel-size") + 1] == "4"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.92"


def test_server_args_place_location_first_and_no_secret() -> None:
    args = server_args("/models/x", host="0.0.0.0", port=8000, engine=["--dtype", "auto"], extra=["--x"])
    assert args == ["--model", "/models/x", "--host", "0.0.0.0", "--port", "8000", "--dtype", "auto", "--x"]
    assert not any("api-key" in a for a in args)
    # `vllm serve` (the image's entry) takes the model positionally; the module entry (local target) as --model.
    served = server_args("/models/x", host="0.0.0.0", port=8000, engine=["--dtype", "auto"], entry="serve")
    assert served == ["/models/x", "--host", "0.0.0.0", "--port", "8000", "--dtype", "auto"]
