"""How many tokens does a chat request hold in vLLM's KV cache? The measurement behind the default of
``autoscaling.request_tokens`` (inferctl.config.models.DEFAULT_REQUEST_TOKENS).

A request holds its prompt and, by the time it finishes, every token it generated: prompt + output tokens, as
vLLM reports them in each answer's ``usage``. This serves the starter model (SmolLM2-135M-Instruct, a real
instruct model) with the local target in a temporary INFERCTL_HOME and sends ``inferctl bench``'s built-in
synthetic conversations (``--dataset synthetic``: multi-turn everyday assistant chats with a system prompt),
letting the model stop on its own (``--no-exact-output``) under a generous ``--output-len`` cap, then divides
the tokens of the run by its completed requests. The starter is served greedy (temperature 0), so one pass over
the 12 conversations, all at once, is the measurement; more passes repeat it. Tokens count what the server's
tokenizer counts; the model's verbosity is its own, so measure your traffic with ``inferctl bench`` and set
``autoscaling.request_tokens``.

    flock /work/vllm.lock .venv/bin/python benchmarks/request_tokens.py   # writes results/request_tokens.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result


def inferctl(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFERCTL_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    env.pop("INFERCTL_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "inferctl", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def finish_reasons(server: str) -> dict[str, int]:
    """vLLM's ``vllm:request_success_total`` by ``finished_reason`` (its /metrics, no key needed)."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"{server}/metrics", timeout=30) as response:
        text = response.read().decode()
    pattern = r'^vllm:request_success_total\{[^}]*finished_reason="([a-z]+)"[^}]*\} ([0-9.]+)$'
    return {reason: int(float(n)) for reason, n in re.findall(pattern, text, re.MULTILINE) if float(n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=1, help="times each of the 12 conversations is sent")
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--output-len", default="1024", help="max_tokens cap; the model stops on its own first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inferctl-request-tokens-") as tmp:
        home = Path(tmp)
        up = inferctl(home, "up", timeout=1500)
        if up.returncode != 0:
            raise SystemExit(f"inferctl up failed:\n{up.stderr}")
        try:
            endpoint = json.loads(inferctl(home, "endpoint", "--output", "json", timeout=120).stdout)["endpoints"][0]
            bench = inferctl(
                home,
                "bench",
                "--dataset",
                "synthetic",
                "--no-exact-output",
                "--output-len",
                args.output_len,
                "--concurrency",
                str(args.concurrency),
                "--requests",
                str(12 * args.passes),
                "--warmup",
                "0",
                "--output",
                "json",
                timeout=1800,
            )
            finished = finish_reasons(endpoint["base_url"].removesuffix("/v1"))
        finally:
            down = inferctl(home, "down", timeout=300)
        if bench.returncode != 0:
            raise SystemExit(f"inferctl bench failed:\n{bench.stderr}")
        if down.returncode != 0:
            raise SystemExit(f"inferctl down failed:\n{down.stderr}")
    report = json.loads(bench.stdout)
    (level,) = report["levels"]
    completed = level["completed"]
    data: dict[str, Any] = {
        "model": report["endpoint"]["model"],
        "workload": report["workload"]["prompts"],
        "concurrency": args.concurrency,
        "completed": completed,
        "failed": level["failed"],
        "output_tokens_from": level["output_tokens_from"],
        "mean_input_tokens": round(level["input_tokens"] / completed, 1),
        "mean_output_tokens": round(level["output_tokens"] / completed, 1),
        "mean_request_tokens": round((level["input_tokens"] + level["output_tokens"]) / completed, 1),
        "finished_reasons": finished,  # vLLM's own count; "length": stopped by the --output-len cap
    }
    path = write_result("request_tokens", data)
    print(json.dumps(data, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
