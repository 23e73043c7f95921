"""Cold start of the demo model: `inferctl up` -> first streamed token, beside a raw vLLM start on this machine.

Three variants, each run --runs times (median reported), all with the demo model already built (its one-off build
time is measured once and reported separately):

- inferctl: `inferctl up` in a subprocess, then one streamed chat request; the clock stops at the first token.
- raw vLLM, defaults: `python -m vllm.entrypoints.openai.api_server --model <demo dir>` as a user would start it.
- raw vLLM, inferctl's options: the same server with the options inferctl's local target adds, to show where the
  time goes (imports and process starts) rather than in inferctl itself.

Target: inferctl <= 20 s to first token. Writes benchmarks/results/cold_start.json.

``--case streamer`` (issue 14) instead times vLLM start -> ready with the default loader and with the Run:ai streamer
from a local directory and from S3 on loopback, in one run (see _streamer_case.py); writes cold_start_streamer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import INFERCTL, median, write_result

TARGET_S = 20.0
KEY = "sk-bench"


def first_token_s(base_url: str, model: str, api_key: str, start: float, deadline_s: float = 600) -> float:
    """Poll until a streamed chat completion yields its first content chunk; seconds since ``start``."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True}
    headers = {"Authorization": f"Bearer {api_key}"}
    while time.perf_counter() - start < deadline_s:
        try:
            with httpx.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers, timeout=30) as r:
                if r.status_code == 200:
                    for line in r.iter_lines():
                        if line.startswith("data: ") and '"content"' in line:
                            return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("no first token")


def run_inferctl(home: Path) -> float:
    env = {**os.environ, "INFERCTL_HOME": str(home), "INFERCTL_API_KEY": KEY}
    start = time.perf_counter()
    argv = [*INFERCTL, "up", "--model", "demo", "--output", "json"]  # the demo: the default is now the starter
    started = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    endpoint = json.loads(started.stdout)["endpoints"][0]  # the key is INFERCTL_API_KEY, set above
    elapsed = first_token_s(endpoint["base_url"], endpoint["model"], KEY, start)
    subprocess.run([*INFERCTL, "down"], env=env, check=True, capture_output=True)
    return elapsed


def run_raw(model_dir: Path, inferctl_options: bool) -> float:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", "demo", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "VLLM_API_KEY": KEY, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    if inferctl_options:
        argv += ["--enforce-eager", "--distributed-executor-backend", "uni"]
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    start = time.perf_counter()
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        return first_token_s(f"http://127.0.0.1:{port}/v1", "demo", KEY, start)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", choices=["platform", "streamer"], default="platform")
    args = parser.parse_args()
    if args.case == "streamer":
        return streamer_main(args.runs)
    from inferctl.demo_model import ensure_demo_model
    from inferctl.home import Home

    home = Path(tempfile.mkdtemp(prefix="inferctl-cold-"))
    build_start = time.perf_counter()
    model_dir = ensure_demo_model(Home(home))
    build_s = time.perf_counter() - build_start
    runs: dict[str, list[float]] = {"inferctl_up": [], "raw_vllm_defaults": [], "raw_vllm_inferctl_options": []}
    for i in range(args.runs):
        runs["inferctl_up"].append(run_inferctl(home))
        runs["raw_vllm_defaults"].append(run_raw(model_dir, inferctl_options=False))
        runs["raw_vllm_inferctl_options"].append(run_raw(model_dir, inferctl_options=True))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in runs.items()), flush=True)
    summary = {name: {"median_s": round(median(v), 2), "runs_s": [round(x, 2) for x in v]} for name, v in runs.items()}
    ok = summary["inferctl_up"]["median_s"] <= TARGET_S
    path = write_result(
        "cold_start",
        {
            "target_s": TARGET_S,
            "meets_target": ok,
            "demo_model_build_s": round(build_s, 2),
            "engine_options": {
                "--enforce-eager": "the demo is tiny: torch.compile would cost ~40 s to save nothing",
                "--distributed-executor-backend uni + VLLM_ENABLE_V1_MULTIPROCESSING=0": (
                    "the model runs inside the engine-core process: one process fewer importing vLLM and torch"
                ),
            },
            "results": summary,
        },
    )
    print(f"inferctl up -> first token: median {summary['inferctl_up']['median_s']} s "
          f"({'meets' if ok else 'MISSES'} the {TARGET_S} s target); wrote {path}")  # fmt: skip
    return 0 if ok else 1


def streamer_main(runs: int) -> int:
    from _streamer_case import run_streamer_case

    measured = run_streamer_case(runs, Path(tempfile.mkdtemp(prefix="inferctl-streamer-")))
    medians = {name: round(median(values), 2) for name, values in measured["runs"].items()}
    ratios = {
        "runai_streamer_local_dir": round(medians["runai_streamer_local_dir"] / medians["default_loader_local_dir"], 3),
        "runai_streamer_demo_s3_loopback": round(
            medians["runai_streamer_demo_s3_loopback"] / medians["default_loader_demo_local_dir"], 3
        ),
    }
    path = write_result(
        "cold_start_streamer",
        {
            "what": "vLLM (vllm-cpu 0.32) start -> /health 200, seconds; same engine options in every case",
            "weights_mb": measured["weights_mb"],
            "mirror_upload_s": measured["mirror_upload_s"],
            "median_s": medians,
            "ratio_to_default_loader": ratios,
            "runs_s": {k: [round(x, 2) for x in v] for k, v in measured["runs"].items()},
        },
    )
    print(f"medians {medians}; ratios to the default loader {ratios}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
