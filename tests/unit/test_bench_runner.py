"""The load generator against a real local streaming stub (tests/support/bench.py) with known chunk timings:
request budgets, warm-up exclusion, concurrency caps, durations, rate arrivals, goodput and error counting.

Timing-based checks allow scheduling jitter but still fail on a wrong formula: the scripted fast and slow
replies are hundreds of milliseconds apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inferctl.bench import (
    BenchSpec,
    DatasetPrompts,
    LengthRange,
    Level,
    RandomPrompts,
    Slo,
    SyntheticConversations,
    run_bench,
)
from inferctl.bench.runner import Progress
from inferctl.errors import ConfigError, NotFoundError, OperationError, UserError
from tests.support.bench import STUB_MODEL, StubReply, StubServer, timing_tolerant

OUT = LengthRange(4, 4)
FAST = StubReply(ttft_s=0.02, gaps_s=(0.01, 0.01, 0.01))
SLOW = StubReply(ttft_s=0.3, gaps_s=(0.01, 0.01, 0.01))


def _spec(server: StubServer, *levels: Level, **kw: Any) -> BenchSpec:
    kw.setdefault("warmup", 0)
    return BenchSpec(base_url=server.base_url, model=STUB_MODEL, api="completions", levels=levels, **kw)


def _random() -> RandomPrompts:
    return RandomPrompts(LengthRange(8, 8), OUT, codec=None)


def _fast_slow_dataset(tmp_path: Path) -> DatasetPrompts:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "fast"}\n{"prompt": "slow"}\n', encoding="utf-8")
    return DatasetPrompts(path, OUT)


def _by_prompt(body: dict[str, Any]) -> StubReply:
    return SLOW if body["prompt"] == "slow" else FAST


def test_level_sends_its_budget_and_warmup_is_not_measured() -> None:
    events: list[Progress] = []
    with StubServer() as server:
        run = run_bench(_spec(server, Level(concurrency=2), requests=6, warmup=3), _random(), events.append)
        assert len(server.bodies) == 9  # 3 warm-up + 6 measured
    (level,) = run.levels
    assert (run.warmup_ok, level.sent, level.metrics.completed, level.metrics.failed) == (3, 6, 6, 0)
    assert level.metrics.output_tokens == 6 * 4  # usage: one token per chunk, max_tokens chunks
    assert level.usage_reported == 6 and level.short_outputs == 0
    assert [e.phase for e in events].count("warmup") == 3
    assert [e.done for e in events if e.phase == "level"] == [1, 2, 3, 4, 5, 6]


@timing_tolerant()
def test_concurrency_is_the_cap_and_the_level_duration_follows() -> None:
    reply = StubReply(ttft_s=0.1)
    with StubServer(lambda body: reply) as server:
        run = run_bench(_spec(server, Level(concurrency=4), requests=12), _random())
        assert server.max_in_flight == 4
    metrics = run.levels[0].metrics
    # 12 requests of 100 ms, 4 at a time: three waves.
    assert metrics.duration_s == pytest.approx(0.3, abs=0.1)
    assert metrics.request_throughput == pytest.approx(12 / metrics.duration_s)


@timing_tolerant()
def test_metrics_reflect_scripted_chunk_timings(tmp_path: Path) -> None:
    with StubServer(_by_prompt) as server:
        run = run_bench(_spec(server, Level(concurrency=1), requests=8), _fast_slow_dataset(tmp_path))
    m = run.levels[0].metrics
    # Each dataset cycle holds one fast and one slow prompt, so 8 requests are exactly 4 + 4.
    assert m.ttft.p50_ms == pytest.approx((20 + 300) / 2, abs=40)
    assert m.ttft.p90_ms == pytest.approx(300, abs=40)
    assert m.itl.count == 8 * 3
    assert m.itl.p50_ms == pytest.approx(10, abs=20)
    assert m.tpot.mean_ms == pytest.approx(10, abs=20)
    assert m.e2el.mean_ms == pytest.approx((50 + 330) / 2, abs=40)


@timing_tolerant()
def test_goodput_counts_only_requests_within_the_slo(tmp_path: Path) -> None:
    spec_kw: dict[str, Any] = {"requests": 8, "slo": Slo(ttft_s=0.15)}
    with StubServer(_by_prompt) as server:
        run = run_bench(_spec(server, Level(concurrency=2), **spec_kw), _fast_slow_dataset(tmp_path))
    m = run.levels[0].metrics
    assert m.good_requests == 4
    assert m.goodput == pytest.approx(4 / m.duration_s)


def test_duration_bounds_a_level_without_a_request_count() -> None:
    reply = StubReply(ttft_s=0.1)
    with StubServer(lambda body: reply) as server:
        run = run_bench(_spec(server, Level(concurrency=2), duration_s=0.5), _random())
    level = run.levels[0]
    assert 6 <= level.sent <= 12  # 2 streams of 100 ms requests for 0.5 s: about 10
    assert level.metrics.completed == level.sent  # requests in flight at the deadline finish and count


def test_rate_level_spreads_arrivals_over_time() -> None:
    with StubServer() as server:
        run = run_bench(_spec(server, Level(rate=40.0), requests=40, seed=3), _random())
    m = run.levels[0].metrics
    assert m.completed == 40
    assert 0.5 < m.duration_s < 2.0  # Poisson arrivals at 40/s: about a second for 40 requests


def test_rate_level_respects_a_concurrency_cap() -> None:
    reply = StubReply(ttft_s=0.1)
    with StubServer(lambda body: reply) as server:
        run = run_bench(_spec(server, Level(concurrency=2, rate=100.0), requests=10), _random())
        assert server.max_in_flight == 2
    assert run.levels[0].metrics.completed == 10


def test_a_sweep_runs_every_level_in_order() -> None:
    with StubServer() as server:
        run = run_bench(_spec(server, Level(concurrency=1), Level(concurrency=3), requests=5), _random())
    assert [r.level.concurrency for r in run.levels] == [1, 3]
    assert all(r.metrics.completed == 5 for r in run.levels)


def test_default_budget_gives_each_slot_several_requests() -> None:
    spec = BenchSpec(base_url="http://x/v1", model="m", api="chat", levels=(Level(concurrency=1),))
    assert spec.requests_for(Level(concurrency=1)) == 16
    assert spec.requests_for(Level(concurrency=32)) == 128
    assert spec.requests_for(Level(rate=2.0)) == 40
    timed = BenchSpec(base_url="http://x/v1", model="m", api="chat", levels=(Level(rate=1),), duration_s=5)
    assert timed.requests_for(Level(rate=1.0)) is None


def test_errors_are_counted_by_kind(tmp_path: Path) -> None:
    def reply(body: dict[str, Any]) -> StubReply:
        return StubReply(status=503, error_message="overloaded") if body["prompt"] == "slow" else FAST

    with StubServer(reply) as server:
        run = run_bench(_spec(server, Level(concurrency=2), requests=6), _fast_slow_dataset(tmp_path))
    level = run.levels[0]
    assert level.errors == {"HTTP 503": 3}
    assert level.error_examples == {"HTTP 503": "overloaded"}
    assert (level.metrics.completed, level.metrics.failed) == (3, 3)


def test_short_replies_are_noticed_when_lengths_must_be_exact() -> None:
    with StubServer(lambda body: StubReply(gaps_s=(0.0,))) as server:  # 2 tokens, 4 asked
        run = run_bench(_spec(server, Level(concurrency=1), requests=3), _random())
    assert run.levels[0].short_outputs == 3


def test_chat_messages_go_to_the_chat_api() -> None:
    source = SyntheticConversations(OUT)
    with StubServer() as server:
        spec = BenchSpec(
            base_url=server.base_url, model=STUB_MODEL, api="chat", levels=(Level(concurrency=2),), requests=4, warmup=0
        )
        run_bench(spec, source)
        assert all(body["messages"][0]["role"] == "system" for body in server.bodies)
    with pytest.raises(ConfigError, match="--api chat"):
        run_bench(
            BenchSpec(base_url="http://127.0.0.1:9/v1", model="m", api="completions", levels=(Level(concurrency=1),)),
            source,
        )


def test_warmup_failures_stop_the_run_with_the_cause(tmp_path: Path) -> None:
    with StubServer(api_key="right") as server:
        spec = _spec(server, Level(concurrency=1), requests=2, warmup=2, api_key="wrong")
        with pytest.raises(UserError, match=r"HTTP 401.*--api-key"):
            run_bench(spec, _random())
    bad_request = StubReply(status=400, error_message="unknown field min_tokens")
    with StubServer(lambda body: bad_request) as server, pytest.raises(UserError, match="--no-exact-output"):
        run_bench(_spec(server, Level(concurrency=1), warmup=1), _random())
    with StubServer(lambda body: StubReply(status=500)) as server, pytest.raises(OperationError, match="HTTP 500"):
        run_bench(_spec(server, Level(concurrency=1), warmup=1), _random())
    with pytest.raises(NotFoundError, match="inferctl up"):
        run_bench(
            BenchSpec(
                base_url="http://127.0.0.1:9/v1", model="m", api="completions", levels=(Level(concurrency=1),), warmup=1
            ),
            _random(),
        )


def test_the_api_key_reaches_the_server_but_never_the_spec_repr() -> None:
    with StubServer(api_key="sk-secret-123") as server:
        spec = _spec(server, Level(concurrency=1), requests=1, api_key="sk-secret-123")
        run_bench(spec, _random())
        assert server.auth_headers == ["Bearer sk-secret-123"]
    assert "sk-secret-123" not in repr(spec)
    assert json.dumps(server.bodies).count("sk-secret") == 0
