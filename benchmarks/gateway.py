"""The local target's model gateway, measured: its overhead, and what cache-aware routing buys across replicas.

Writes ``benchmarks/results/gateway.json``. Everything runs through the product: ``inferctl up`` (the starter model,
SmolLM2-135M-Instruct, from the inferctl home's prepared copy) and ``inferctl bench``, on this machine's CPU.

0. The gateway's own overhead against a stub that streams at a fixed pace (no vLLM noise): TTFT p50 added and
   output tok/s ratio, through the gateway vs direct, at concurrency 1 and 8.
1. Overhead. The starter model with one replica: ``inferctl bench`` through the platform's gateway (its one
   endpoint) and with ``--url`` straight to the same vLLM server, alternating (gateway, direct, direct, gateway,
   ...) so drifting load on the shared machine hits both alike; random prompts of exactly ``--input-len`` tokens
   (the model's tokenizer; a new seed per run, so no run reuses another's prompts from vLLM's prefix cache),
   concurrency 1 and 8. Reported per
   concurrency: output tok/s through the gateway / direct, and TTFT p50 added (ms), each averaged over the rounds.
2. Cache-aware routing. A second ``inferctl up`` with ``replicas: 2`` (which starts the second server and leaves the
   first, and the gateway, running). A second smg with ``--policy round_robin`` (otherwise the platform gateway's
   own command line: targets/local/gateway.py) reads the same manifest. Workload: chat sessions built from bench's
   built-in synthetic conversations (src/inferctl/bench/conversations.py), each given a long context of its own
   (~1,200 tokens of notes, as a document a user chats about) and grown to ``--turns`` user turns, every turn
   carrying the whole history: turns of a session share a long prefix, sessions share none. Each run sends every
   turn of its own fresh sessions once (``inferctl bench --dataset``, shuffled, concurrency ``--concurrency``), so
   no run finds another's prefixes cached; runs alternate cache-aware, round robin, round robin, cache-aware.
   Reported: TTFT p50 per policy and their ratio, vLLM's prefix cache hit rate per policy (the servers' own
   ``vllm:prefix_cache_hits`` / ``vllm:prefix_cache_queries`` counters), and how requests spread over the servers
   (``vllm:request_success_total``).

Hold the shared lock: ``flock /work/vllm.lock python benchmarks/gateway.py`` (about 30 minutes on 2 shared cores;
``--overhead-only`` measures parts 0 and 1 again, about 12 minutes, and keeps part 2 from the results file).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support lives at the repository root
from tests.support.bench import STUB_MODEL, PacedReplies, start_stub_process

from _common import INFERCTL, write_result
from inferctl.bench import BenchSpec, LengthRange, Level, RandomPrompts, run_bench
from inferctl.bench.conversations import CONVERSATIONS, SYSTEM
from inferctl.targets.local import process
from inferctl.targets.local.gateway import Gateway, Route, gateway_argv, write_manifest

CONFIG = """\
name: gateway-bench
models:
  - name: smollm2
    source: HuggingFaceTB/SmolLM2-135M-Instruct
    replicas: {replicas}
    engine:
      dtype: float32
"""
WORDS = ("amber", "harbor", "lantern", "granite", "orchard", "meadow", "copper", "signal", "violet", "ledger",
         "compass", "river", "beacon", "canyon", "falcon", "timber", "quartz", "garden", "anchor")  # fmt: skip


def cli(home: Path, *args: str, timeout: float = 1800) -> str:
    env = {**os.environ, "INFERCTL_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    done = subprocess.run([*INFERCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"inferctl {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def bench(home: Path, config: Path, *args: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(cli(home, "bench", "--config", str(config), *args, "--output", "json"))
    return report


def server_counters(url: str) -> dict[str, float]:
    """vLLM's own counters on one server: finished requests, prefix-cache queries and hits (tokens)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    wanted = {"vllm:request_success_total": "requests", "vllm:prefix_cache_queries_total": "prefix_queries",
              "vllm:prefix_cache_hits_total": "prefix_hits"}  # fmt: skip
    found = dict.fromkeys(wanted.values(), 0.0)
    for line in text.splitlines():
        name = re.split(r"[{ ]", line, maxsplit=1)[0]
        if name in wanted:
            found[wanted[name]] += float(line.rsplit(" ", 1)[1])
    return found


def level_figures(report: dict[str, Any]) -> dict[int, dict[str, float]]:
    out = {}
    for level in report["levels"]:
        out[int(level["concurrency"])] = {
            "output_tok_s": level["output_throughput"],
            "ttft_p50_ms": level["ttft_ms"]["p50"],
            "ttft_p90_ms": level["ttft_ms"]["p90"],
            "completed": level["completed"],
            "failed": level["failed"],
            "input_tokens": level["input_tokens"],
        }
    return out


# --- 1. overhead ---------------------------------------------------------------------------------------------------


def overhead(home: Path, config: Path, args: argparse.Namespace) -> dict[str, Any]:
    from inferctl.home import Home
    from inferctl.starter_model import starter_model_dir

    status = json.loads(cli(home, "status", "--config", str(config), "--output", "json"))
    (server,) = status["models"]
    direct_url = server["base_url"]
    key = json.loads(cli(home, "endpoint", "--config", str(config), "--show-key", "--output", "json"))["endpoints"][0]
    # The same exact-length prompts both ways: the served model's tokenizer (bench finds it itself through the
    # platform, not for a bare --url).
    common = ["--model", "smollm2", "--concurrency", "1,8", "--requests", str(args.requests), "--warmup", "2",
              "--input-len", str(args.input_len), "--output-len", str(args.output_len),
              "--tokenizer", str(starter_model_dir(Home(home)))]  # fmt: skip
    runs: list[dict[str, Any]] = []
    seed = 100
    for round_ in range(args.rounds):
        # Which path goes first alternates (gateway, direct, direct, gateway, ...): drift cancels over pairs.
        order = ("gateway", "direct") if round_ % 2 == 0 else ("direct", "gateway")
        for path in order:
            seed += 1
            extra = [] if path == "gateway" else ["--url", direct_url, "--api-key", key["api_key"]]
            report = bench(home, config, *common, "--seed", str(seed), *extra)
            runs.append({"round": round_, "path": path, "base_url": report["endpoint"]["base_url"], "seed": seed,
                         "prompts": report["workload"]["prompts"], "levels": level_figures(report)})  # fmt: skip
            print(f"overhead round {round_} {path}: {runs[-1]['levels']}", flush=True)
    summary = {}
    for concurrency in (1, 8):
        pairs = []
        for round_ in range(args.rounds):
            mine = {r["path"]: r["levels"][concurrency] for r in runs if r["round"] == round_}
            pairs.append((mine["gateway"], mine["direct"]))
        ratios = [g["output_tok_s"] / d["output_tok_s"] for g, d in pairs]
        added = [g["ttft_p50_ms"] - d["ttft_p50_ms"] for g, d in pairs]
        summary[f"c{concurrency}"] = {
            "output_tok_s_ratio_gateway_over_direct": round(sum(ratios) / len(ratios), 3),
            "ttft_p50_added_ms": round(sum(added) / len(added), 2),
            "per_round_ratio": [round(r, 3) for r in ratios],
            "per_round_ttft_added_ms": [round(a, 2) for a in added],
            "target": "ratio >= 0.97 and added <= 5 ms",
        }
    return {"server": server["server"], "direct_url": direct_url, "gateway_url": key["base_url"], "runs": runs,
            "summary": summary}  # fmt: skip


def stub_overhead(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The gateway's own cost, without vLLM's noise: the same smg (the platform gateway's command line, started by
    the target's own code) in front of a stub that streams at a fixed pace (tests/support/bench.py, in a child
    process), against the stub directly; alternating, ``--stub-rounds`` rounds of 64 requests at 1 and 8."""
    stub, stub_url = start_stub_process(PacedReplies(ttft_s=0.05, gap_s=0.01))
    gateway = Gateway(workdir / "stub-gateway")
    write_manifest(gateway.manifest_path, [Route("stub-0", stub_url.removesuffix("/v1"), STUB_MODEL)])
    port, metrics_port = process.free_port("127.0.0.1"), process.free_port("127.0.0.1")
    child, state = gateway.start("127.0.0.1", port, metrics_port, dict(os.environ))
    try:
        gateway.wait_serving(state, child)
        gateway.wait_routes(state, {"stub-0"}, None)
        rows: dict[str, list[dict[str, float]]] = {}
        for round_ in range(args.stub_rounds):
            for path, base in (("gateway", state.base_url + "/v1"), ("direct", stub_url)):
                for concurrency in (1, 8):
                    level = (Level(concurrency=concurrency),)
                    spec = BenchSpec(base_url=base, model=STUB_MODEL, api="completions", levels=level, requests=64,
                                     warmup=4, seed=round_)  # fmt: skip
                    run = run_bench(spec, RandomPrompts(LengthRange(32, 32), LengthRange(32, 32), codec=None))
                    metrics = run.levels[0].metrics
                    rows.setdefault(f"{path}_c{concurrency}", []).append(
                        {"output_tok_s": metrics.output_throughput, "ttft_p50_ms": metrics.ttft.p50_ms}
                    )
    finally:
        process.stop_group(state.pgid, timeout_s=10)
        child.wait()
        stub.terminate()
    summary: dict[str, Any] = {"stub": "TTFT 50 ms, then a token every 10 ms, 32 tokens"}
    for concurrency in (1, 8):
        through, direct = rows[f"gateway_c{concurrency}"], rows[f"direct_c{concurrency}"]
        ratios = [g["output_tok_s"] / d["output_tok_s"] for g, d in zip(through, direct, strict=True)]
        added = [g["ttft_p50_ms"] - d["ttft_p50_ms"] for g, d in zip(through, direct, strict=True)]
        summary[f"c{concurrency}"] = {
            "output_tok_s_ratio_gateway_over_direct": round(sum(ratios) / len(ratios), 4),
            "ttft_p50_added_ms": round(sum(added) / len(added), 2),
            "per_round_ttft_added_ms": [round(a, 2) for a in added],
        }
    return {"rounds": rows, "summary": summary}


# --- 2. cache-aware vs round robin ---------------------------------------------------------------------------------


def sessions_dataset(path: Path, tag: str, sessions: int, turns: int) -> int:
    """One JSONL row per turn: session ``s`` = synthetic conversation ``s % 12`` with a long context of its own
    (the first words name the session, so no two sessions share a prefix block) and ``turns`` user turns, each row
    the whole history up to that turn. Returns the number of rows."""
    rows = []
    for s in range(sessions):
        rng = random.Random(f"{tag}-{s}")
        notes = " ".join(
            f"Note {i}: the {rng.choice(WORDS)} {rng.choice(WORDS)} of site {tag}-{s} keeps {rng.randint(2, 99)} "
            f"{rng.choice(WORDS)}s near the {rng.choice(WORDS)} gate."
            for i in range(70)
        )
        history: list[dict[str, str]] = [
            {"role": "system", "content": f"Session {tag}-{s}. {SYSTEM} Background: {notes}"}
        ]
        conversation = list(CONVERSATIONS[s % len(CONVERSATIONS)])
        users = 0
        while users < turns:
            if conversation:
                role, text = conversation.pop(0)
            elif history[-1]["role"] == "user":
                role, text = "assistant", f"Note {rng.randint(0, 69)} says the {rng.choice(WORDS)} is near the gate."
            else:
                role, text = "user", f"Tell me more about note {rng.randint(0, 69)}."
            history.append({"role": role, "content": text})
            if role == "user":
                users += 1
                rows.append({"messages": list(history)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return len(rows)


def cache_routing(home: Path, config: Path, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    status = json.loads(cli(home, "status", "--config", str(config), "--output", "json"))
    servers = {row["server"]: row["base_url"].removesuffix("/v1") for row in status["models"]}
    gateway = status["gateway"]
    manifest = Path(gateway["log_path"]).with_name("workers.json")
    port, metrics_port = process.free_port("127.0.0.1"), process.free_port("127.0.0.1")
    argv = gateway_argv("127.0.0.1", port, metrics_port, manifest)
    argv[argv.index("cache_aware")] = "round_robin"
    key = json.loads(cli(home, "endpoint", "--config", str(config), "--show-key", "--output", "json"))["endpoints"][0]
    env = {**os.environ, "INFERCTL_GATEWAY_API_KEY": key["api_key"]}
    log = (workdir / "round-robin-gateway.log").open("wb")
    rr = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    rr_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                listed = httpx.get(f"{rr_url}/models", timeout=2).json().get("data", [])
                workers = httpx.get(f"http://127.0.0.1:{port}/workers", timeout=2,
                                    headers={"Authorization": f"Bearer {key['api_key']}"}).json()  # fmt: skip
                if listed and workers.get("total") == len(servers):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the round-robin gateway did not take both servers")
            time.sleep(0.5)
        runs = []
        for index, policy in enumerate(("cache_aware", "round_robin", "round_robin", "cache_aware")):
            dataset = workdir / f"sessions-{index}.jsonl"
            rows = sessions_dataset(dataset, f"run{index}", args.sessions, args.turns)
            before = {name: server_counters(url) for name, url in servers.items()}
            extra = [] if policy == "cache_aware" else ["--url", rr_url, "--api-key", key["api_key"]]
            report = bench(home, config, "--model", "smollm2", "--dataset", str(dataset), "--requests", str(rows),
                           "--concurrency", str(args.concurrency), "--warmup", "0", "--output-len", "16",
                           "--seed", str(index), *extra)  # fmt: skip
            after = {name: server_counters(url) for name, url in servers.items()}
            delta = {name: {k: after[name][k] - before[name][k] for k in after[name]} for name in servers}
            queries = sum(d["prefix_queries"] for d in delta.values())
            hits = sum(d["prefix_hits"] for d in delta.values())
            (level,) = report["levels"]
            runs.append({
                "policy": policy, "dataset_rows": rows, "base_url": report["endpoint"]["base_url"],
                "ttft_p50_ms": level["ttft_ms"]["p50"], "ttft_p90_ms": level["ttft_ms"]["p90"],
                "ttft_mean_ms": level["ttft_ms"]["mean"], "completed": level["completed"], "failed": level["failed"],
                "input_tokens": level["input_tokens"],
                "prefix_cache_hit_rate": round(hits / queries, 3) if queries else None,
                "requests_per_server": {name: d["requests"] for name, d in delta.items()}, "counters": delta,
            })  # fmt: skip
            print(f"cache run {index} {policy}: {json.dumps(runs[-1])[:400]}", flush=True)
    finally:
        rr.terminate()
        rr.wait(timeout=30)
        log.close()
    by_policy: dict[str, dict[str, float]] = {}
    for policy in ("cache_aware", "round_robin"):
        mine = [r for r in runs if r["policy"] == policy]
        queries = sum(sum(d["prefix_queries"] for d in r["counters"].values()) for r in mine)
        hits = sum(sum(d["prefix_hits"] for d in r["counters"].values()) for r in mine)
        by_policy[policy] = {
            "ttft_p50_ms": round(sum(r["ttft_p50_ms"] for r in mine) / len(mine), 1),
            "prefix_cache_hit_rate": round(hits / queries, 3) if queries else 0.0,
        }
    ratio = by_policy["cache_aware"]["ttft_p50_ms"] / by_policy["round_robin"]["ttft_p50_ms"]
    summary = {**by_policy, "ttft_p50_ratio_cache_aware_over_round_robin": round(ratio, 3), "target": "ratio <= 0.8"}
    return {"servers": servers, "round_robin_gateway": argv[3:], "runs": runs, "summary": summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starter", type=Path, help="a prepared starter model directory to copy (else prepared)")
    parser.add_argument("--rounds", type=int, default=4, help="gateway/direct rounds with the starter model")
    parser.add_argument("--requests", type=int, default=12, help="requests per concurrency level (overhead)")
    parser.add_argument("--input-len", type=int, default=256)
    parser.add_argument("--output-len", type=int, default=32)
    parser.add_argument("--stub-rounds", type=int, default=5, help="gateway/direct rounds against the stub")
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="concurrency of the cache-routing runs")
    parser.add_argument("--overhead-only", action="store_true",
                        help="measure parts 0 and 1 again; keep part 2 from the results file")  # fmt: skip
    parser.add_argument("--name", default="gateway")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    home = workdir / "home"
    if args.starter is not None:
        from inferctl.home import Home
        from inferctl.starter_model import starter_model_dir

        shutil.copytree(args.starter, starter_model_dir(Home(home)))
    config = workdir / "inferctl.yaml"
    result: dict[str, Any] = {"what": __doc__.split("\n\n")[0], "settings": vars(args) | {"starter": str(args.starter)}}
    kept_parts = ("cache_routing", "up_second_replica_s", "second_up_kept_replica_0_and_gateway")
    if args.overhead_only:
        previous = json.loads((Path(__file__).parent / "results" / f"{args.name}.json").read_text(encoding="utf-8"))
        result |= {part: previous[part] for part in kept_parts}
        result["parts_measured_at"] = {"cache_routing": previous.get("parts_measured_at", {}).get(
            "cache_routing", previous["measured_at"])}  # fmt: skip
        result["machine_cache_routing"] = previous.get("machine_cache_routing", previous["machine"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result.setdefault("parts_measured_at", {})["overhead"] = now
    result["overhead_stub"] = stub_overhead(workdir, args)
    print(f"stub overhead: {result['overhead_stub']['summary']}", flush=True)
    try:
        config.write_text(CONFIG.format(replicas=1), encoding="utf-8")
        started = time.monotonic()
        cli(home, "up", "--config", str(config))
        result["up_one_replica_s"] = round(time.monotonic() - started, 1)
        result["overhead"] = overhead(home, config, args)
        if not args.overhead_only:
            result["parts_measured_at"]["cache_routing"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            first = json.loads(cli(home, "status", "--config", str(config), "--output", "json"))
            config.write_text(CONFIG.format(replicas=2), encoding="utf-8")
            started = time.monotonic()
            cli(home, "up", "--config", str(config))
            result["up_second_replica_s"] = round(time.monotonic() - started, 1)
            second = json.loads(cli(home, "status", "--config", str(config), "--output", "json"))
            pids = [{r["server"]: r["pid"] for r in report["models"]} for report in (first, second)]
            same_gateway = first["gateway"]["pid"] == second["gateway"]["pid"]
            result["second_up_kept_replica_0_and_gateway"] = pids[0].items() <= pids[1].items() and same_gateway
            result["cache_routing"] = cache_routing(home, config, args, workdir)
    finally:
        subprocess.run([*INFERCTL, "down", "--config", str(config)], env={**os.environ, "INFERCTL_HOME": str(home)},
                       capture_output=True, check=False)  # fmt: skip
    path = write_result(args.name, result)
    print(f"wrote {path}")
    summaries = {part: result[part]["summary"] for part in ("overhead_stub", "overhead", "cache_routing")}
    print(json.dumps(summaries, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
