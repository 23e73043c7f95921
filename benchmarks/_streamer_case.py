"""The streamer case of cold_start.py: vLLM start -> ready with the default loader and with the Run:ai streamer
(``--load-format runai_streamer``) from a local directory and from S3 (moto's server on loopback, after the mirror
uploaded the model), in the same run, so the ratio compares like with like on this machine.

Local directory: the demo's architecture widened to about 0.55 GB of float32 weights (random, same tokenizer), so
that loading is a measurable part of the start; the demo's 10 MB would load in milliseconds either way.
S3 on loopback: the demo itself. moto serves ranged GETs of a large object from Python on the same two cores; with
the 0.55 GB model the streamer's requests timed out ("File access error" after 14 s per tensor), so that figure
would measure moto, not S3: the S3 case proves the path and its overhead on a small model, beside the default
loader on the same model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

WIDE = {"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 12, "num_attention_heads": 16,
        "num_key_value_heads": 4, "head_dim": 64}  # fmt: skip


def widened_demo(demo: Path, out: Path) -> Path:
    """The demo model with wider, deeper random weights (same tokenizer, same vocabulary)."""
    import numpy as np
    from safetensors.numpy import save_file

    from inferctl.demo_model import DEMO_MODEL_CONFIG

    shutil.copytree(demo, out, ignore=shutil.ignore_patterns("model.safetensors", "COMPLETE"))
    cfg = {**DEMO_MODEL_CONFIG, **WIDE}
    (out / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    rng = np.random.default_rng(0)
    h, i, d = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * d, cfg["num_key_value_heads"] * d

    def w(*shape: int) -> Any:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    tensors = {"model.embed_tokens.weight": w(cfg["vocab_size"], h), "model.norm.weight": np.ones(h, np.float32)}
    for n in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{n}."
        tensors |= {p + "self_attn.q_proj.weight": w(q, h), p + "self_attn.k_proj.weight": w(kv, h),
                    p + "self_attn.v_proj.weight": w(kv, h), p + "self_attn.o_proj.weight": w(h, q),
                    p + "mlp.gate_proj.weight": w(i, h), p + "mlp.up_proj.weight": w(i, h),
                    p + "mlp.down_proj.weight": w(h, i), p + "input_layernorm.weight": np.ones(h, np.float32),
                    p + "post_attention_layernorm.weight": np.ones(h, np.float32)}  # fmt: skip
    save_file(tensors, str(out / "model.safetensors"))
    return out


def start_to_ready(location: str, env: dict[str, str], streamer: bool, log: Path) -> float:
    from inferctl.config.models import ModelDeployment
    from inferctl.engine import VLLM_SERVER_MODULE, engine_args, server_args, streamer_args

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ModelDeployment(name="demo", engine={"dtype": "float32", "enforce_eager": True})
    extra = ["--distributed-executor-backend", "uni"]
    if streamer:
        extra += streamer_args(location, concurrency=8, memory_limit_bytes=1 << 30)
    argv = server_args(location, host="127.0.0.1", port=port, engine=engine_args(model), extra=extra)
    full_env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
                "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", **env}  # fmt: skip
    start = time.perf_counter()
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", VLLM_SERVER_MODULE, *argv], env=full_env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        while time.perf_counter() - start < 600:
            if server.poll() is not None:
                raise RuntimeError(f"vLLM exited; see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"not ready in 600 s; see {log}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def run_streamer_case(runs: int, work: Path) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from inferctl.cache.mirror import cache_uri, mirror_directory
    from inferctl.demo_model import ensure_demo_model
    from inferctl.home import Home

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    demo_dir = work / "demo"
    shutil.copytree(ensure_demo_model(Home(work / "home")), demo_dir, ignore=shutil.ignore_patterns("COMPLETE"))
    model_dir = widened_demo(demo_dir, work / "wide")
    weights_mb = (model_dir / "model.safetensors").stat().st_size / 1e6
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
        s3.create_bucket(Bucket="bench")
        upload_start = time.perf_counter()
        mirror_directory(s3, demo_dir, bucket="bench", model_id="inferctl/demo", revision="r1")
        upload_s = time.perf_counter() - upload_start
        uri = cache_uri("bench", "inferctl/demo", "r1")
        s3_env = {**creds, "AWS_ENDPOINT_URL": endpoint, "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
                  "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
        cases = {
            "default_loader_local_dir": (str(model_dir), {}, False),
            "runai_streamer_local_dir": (str(model_dir), {}, True),
            "default_loader_demo_local_dir": (str(demo_dir), {}, False),
            "runai_streamer_demo_s3_loopback": (uri, s3_env, True),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for i in range(runs):
            for name, (location, env, streamer) in cases.items():
                results[name].append(start_to_ready(location, env, streamer, work / f"{name}-{i}.log"))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in results.items()), flush=True)
    finally:
        server.stop()
    demo_mb = (demo_dir / "model.safetensors").stat().st_size / 1e6
    return {"weights_mb": {"wide": round(weights_mb, 1), "demo": round(demo_mb, 1)},
            "mirror_upload_s": round(upload_s, 2), "runs": results}  # fmt: skip
