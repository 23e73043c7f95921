"""``inferctl bench`` against the local target's real vLLM serving the demo model (tests/e2e/conftest.py).

The demo model's words are noise, so the assertions are about counts, usage and throughput: exact prompt
lengths (the server's prompt_tokens equal what the demo tokenizer counted), exact output lengths (vLLM's
ignore_eos/min_tokens), every request answered, positive throughput, and a free local price.
"""

from __future__ import annotations

import json

import pytest

from inferctl.bench import BenchSpec, LengthRange, Level, RandomPrompts, SyntheticConversations, load_codec, run_bench
from inferctl.demo_model import ensure_demo_model
from inferctl.home import Home
from inferctl.targets.base import Endpoint
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

INPUT_LEN = 64
OUTPUT_LEN = 16
REQUESTS = 8


def test_library_sweep_has_exact_lengths_and_usage(local_endpoint: Endpoint, cli: Cli) -> None:
    codec = load_codec(ensure_demo_model(Home(cli.home)))
    spec = BenchSpec(
        base_url=local_endpoint.base_url,
        model=local_endpoint.model,
        api="completions",
        levels=(Level(concurrency=1), Level(concurrency=4)),
        api_key=local_endpoint.api_key,
        requests=REQUESTS,
        warmup=2,
    )
    run = run_bench(spec, RandomPrompts(LengthRange(INPUT_LEN, INPUT_LEN), LengthRange(OUTPUT_LEN, OUTPUT_LEN), codec))
    assert run.warmup_ok == 2 and run.exact_input_lengths
    for level in run.levels:
        m = level.metrics
        assert (level.sent, m.completed, m.failed) == (REQUESTS, REQUESTS, 0), level.error_examples
        assert level.usage_reported == REQUESTS and level.short_outputs == 0
        assert m.output_tokens == REQUESTS * OUTPUT_LEN
        assert m.input_tokens == REQUESTS * INPUT_LEN  # the server counted what the demo tokenizer counted
        assert m.output_throughput > 0 and m.request_throughput > 0
        assert 0 < m.ttft.p50_ms <= m.e2el.p50_ms
        assert m.tpot.count == REQUESTS and m.tpot.mean_ms > 0
        assert m.itl.count >= REQUESTS  # at least one gap per request (vLLM may bundle tokens into one chunk)


def test_synthetic_chat_conversations(local_endpoint: Endpoint) -> None:
    spec = BenchSpec(
        base_url=local_endpoint.base_url,
        model=local_endpoint.model,
        api="chat",
        levels=(Level(concurrency=2),),
        api_key=local_endpoint.api_key,
        requests=4,
        warmup=1,
    )
    (level,) = run_bench(spec, SyntheticConversations(LengthRange(8, 8))).levels
    assert level.metrics.completed == 4 and level.metrics.output_tokens == 32
    assert level.metrics.input_tokens > 4 * 10  # system prompt + turns, through the chat template


def test_cli_benchmarks_the_running_platform(local_platform: Cli, local_endpoint: Endpoint) -> None:
    result = local_platform(
        "bench", "--concurrency", "1,4", "--requests", str(REQUESTS), "--input-len", str(INPUT_LEN),
        "--output-len", str(OUTPUT_LEN), "--slo", "ttft=10s", "--output", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["endpoint"]["base_url"] == local_endpoint.base_url
    assert report["workload"]["exact_input_lengths"] is True  # found the demo model's tokenizer by itself
    assert report["price"]["usd_per_hour"] == 0.0 and "local" in report["price"]["basis"]
    for level in report["levels"]:
        assert level["completed"] == REQUESTS and level["failed"] == 0
        assert level["output_tokens"] == REQUESTS * OUTPUT_LEN and level["output_tokens_from"] == "usage"
        assert level["output_throughput"] > 0 and level["good_requests"] == REQUESTS
        assert level["usd_per_1m_output_tokens"] == 0.0
    assert local_endpoint.api_key, "the local platform should require a key"
    assert local_endpoint.api_key not in result.stdout + result.stderr


def test_cli_with_url_and_a_wrong_key_fails_in_one_line(local_platform: Cli, local_endpoint: Endpoint) -> None:
    result = local_platform("bench", "--url", local_endpoint.base_url, "--model", local_endpoint.model,
                            "--api-key", "sk-wrong", "--concurrency", "1", "-n", "1")  # fmt: skip
    assert result.returncode == 2
    assert "HTTP 401" in result.stderr and "--api-key" in result.stderr
    assert "Traceback" not in result.stderr
