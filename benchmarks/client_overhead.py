"""How much load can ``inferctl bench``'s generator drive on this machine, and how much latency does it add?

Against the minimal streaming stub of tests/support/bench.py running in a child process (its own interpreter,
so it does not share the generator's GIL; on a 2-core machine each gets about a core):

1. capacity: zero-delay replies of ``--tokens`` chunks at rising concurrency -> the requests/s and streamed
   chunks (tokens)/s the generator sustains, and its CPU time per chunk;
2. added latency: replies paced at a known TTFT and inter-token gap -> measured minus scripted TTFT and ITL,
   at the concurrencies the e2e test uses (1, 4) and beyond;
3. transport cost: client CPU per streamed token with inferctl's lean HTTP/1.1 transport and with httpx's
   default transport, on replies paced like a CPU vLLM's.

The verdict compares the generator's capacity with what vLLM delivers on this kind of machine (DESIGN.md: about
1,300 tokens/s at 32 concurrent streams, 150-260 at one) at the e2e's concurrencies.

    .venv/bin/python benchmarks/client_overhead.py   # writes benchmarks/results/client_overhead.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support lives at the repository root
from tests.support.bench import STUB_MODEL, PacedReplies, start_stub_process

from _common import write_result
from inferctl.bench import BenchSpec, LengthRange, Level, RandomPrompts, run_bench
from inferctl.bench import transport as bench_transport

VLLM_TOKENS_PER_S_HERE = 1300.0  # best vLLM throughput measured on this machine class (DESIGN.md)
E2E_CONCURRENCIES = (1, 4)


def _run(base_url: str, concurrency: int, requests: int, tokens: int) -> dict[str, Any]:
    spec = BenchSpec(
        base_url=base_url,
        model=STUB_MODEL,
        api="completions",
        levels=(Level(concurrency=concurrency),),
        requests=requests,
        warmup=min(concurrency, 8),
    )
    source = RandomPrompts(LengthRange(32, 32), LengthRange(tokens, tokens), codec=None)
    cpu_before = time.process_time()
    run = run_bench(spec, source)
    cpu = time.process_time() - cpu_before
    metrics = run.levels[0].metrics
    chunks = metrics.output_tokens + run.warmup_ok * tokens
    return {
        "concurrency": concurrency,
        "requests": metrics.completed,
        "failed": metrics.failed,
        "duration_s": round(metrics.duration_s, 3),
        "requests_per_s": round(metrics.request_throughput, 1),
        "tokens_per_s": round(metrics.output_throughput, 1),
        "client_cpu_us_per_token": round(cpu / chunks * 1e6, 1),
        "ttft_p50_ms": round(metrics.ttft.p50_ms, 2),
        "ttft_p99_ms": round(metrics.ttft.p99_ms, 2),
        "itl_p50_ms": round(metrics.itl.p50_ms, 3),
        "itl_p99_ms": round(metrics.itl.p99_ms, 3),
    }


def capacity(tokens: int, concurrencies: list[int], requests_per_slot: int) -> list[dict[str, Any]]:
    process, base_url = start_stub_process(PacedReplies())
    try:
        return [_run(base_url, c, max(64, requests_per_slot * c), tokens) for c in concurrencies]
    finally:
        process.terminate()
        process.join(10)


def added_latency(ttft_s: float, gap_s: float, tokens: int, concurrencies: list[int]) -> list[dict[str, Any]]:
    process, base_url = start_stub_process(PacedReplies(ttft_s=ttft_s, gap_s=gap_s))
    rows = []
    try:
        for c in concurrencies:
            row = _run(base_url, c, max(32, 4 * c), tokens)
            row["ttft_added_p50_ms"] = round(row["ttft_p50_ms"] - ttft_s * 1000, 2)
            row["ttft_added_p99_ms"] = round(row["ttft_p99_ms"] - ttft_s * 1000, 2)
            row["itl_added_p50_ms"] = round(row["itl_p50_ms"] - gap_s * 1000, 3)
            row["itl_added_p99_ms"] = round(row["itl_p99_ms"] - gap_s * 1000, 3)
            rows.append(row)
    finally:
        process.terminate()
        process.join(10)
    return rows


def transport_cost(concurrency: int, tokens: int, gap_s: float) -> dict[str, Any]:
    """Client CPU per streamed token with inferctl's lean transport vs httpx's default one (the reason the lean
    one exists), on replies paced like a CPU vLLM's (one token every ``gap_s`` per stream)."""
    process, base_url = start_stub_process(PacedReplies(gap_s=gap_s))
    out: dict[str, Any] = {"concurrency": concurrency, "tokens_per_reply": tokens, "gap_ms": gap_s * 1000}
    try:
        for name, factory in (("lean", transport_for_original), ("httpx_default", lambda *a, **k: None)):
            bench_transport.transport_for = factory  # type: ignore[assignment]  # the one knob this comparison needs
            rows = [_run(base_url, concurrency, 4 * concurrency, tokens) for _ in range(3)]
            out[f"{name}_cpu_us_per_token"] = sorted(r["client_cpu_us_per_token"] for r in rows)[1]
    finally:
        bench_transport.transport_for = transport_for_original
        process.terminate()
        process.join(10)
    return out


transport_for_original = bench_transport.transport_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="chunks (tokens) per reply")
    parser.add_argument("--concurrency", default="1,4,8,16,32,64")
    parser.add_argument("--requests-per-slot", type=int, default=16)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    cap = capacity(args.tokens, concurrencies, args.requests_per_slot)
    paced = added_latency(0.05, 0.01, 32, [c for c in concurrencies if c <= 32])
    transports = transport_cost(8, 128, 0.006)
    at_e2e = [row for row in cap if row["concurrency"] in E2E_CONCURRENCIES]
    worst_e2e = min(row["tokens_per_s"] for row in at_e2e) if at_e2e else None
    peak = max(row["tokens_per_s"] for row in cap)
    result = {
        "what": "inferctl bench load generator vs a zero-work streaming stub in a child process",
        "tokens_per_reply": args.tokens,
        "capacity": cap,
        "added_latency": {"scripted_ttft_ms": 50.0, "scripted_itl_ms": 10.0, "levels": paced},
        "transport_cpu": transports,
        "verdict": {
            "generator_peak_tokens_per_s": peak,
            "generator_tokens_per_s_at_e2e_concurrencies": worst_e2e,
            "vllm_tokens_per_s_on_this_machine": VLLM_TOKENS_PER_S_HERE,
            "headroom_at_e2e_concurrencies": None
            if worst_e2e is None
            else round(worst_e2e / VLLM_TOKENS_PER_S_HERE, 1),
            "generator_is_not_the_bottleneck": worst_e2e is not None and worst_e2e > 2 * VLLM_TOKENS_PER_S_HERE,
        },
    }
    path = write_result("client_overhead", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0 if result["verdict"]["generator_is_not_the_bottleneck"] else 1


if __name__ == "__main__":
    sys.exit(main())
