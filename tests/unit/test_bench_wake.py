"""``bench`` against a model that may be scaled to zero: the first request is sent alone, timed to its first
token, reported apart from the levels, with the interceptor's verdict (``X-KEDA-HTTP-Cold-Start``, kedacore/
http-add-on v0.15.0 ``pkg/http/headers.go``) and its 504 on a wake timeout (``interceptor/middleware/
endpoint_resolver.go``).

The server is a real HTTP server on loopback (tests/support/bench.py) that holds the first request the way the
interceptor does while a pod starts; no real cluster or interceptor runs here.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from inferctl.bench import BenchSpec, LengthRange, Level, RandomPrompts, report_dict, run_bench
from inferctl.bench.pricing import Price
from tests.support.bench import STUB_MODEL, StubReply, StubServer, timing_tolerant

FAST = StubReply(ttft_s=0.01, gaps_s=(0.01,))
KEY = "sk-wake-test"


def _replies(first: StubReply) -> Any:
    sequence = itertools.chain([first], itertools.repeat(FAST))
    return lambda body: next(sequence)


def _run(first: StubReply, **kw: Any) -> Any:
    with StubServer(_replies(first), api_key=KEY) as server:
        spec = BenchSpec(
            base_url=server.base_url,
            model=STUB_MODEL,
            api="completions",
            levels=(Level(concurrency=2),),
            api_key=KEY,
            requests=4,
            warmup=0,
            wake_up=True,
            **kw,
        )
        run = run_bench(spec, RandomPrompts(LengthRange(8, 8), LengthRange(2, 2), codec=None))
        assert server.auth_headers == [f"Bearer {KEY}"] * 5  # the key on the wake-up request too
    return run


@timing_tolerant()
def test_the_wake_up_is_timed_alone_and_kept_out_of_the_levels() -> None:
    held = StubReply(hold_s=0.6, ttft_s=0.05, headers=(("X-KEDA-HTTP-Cold-Start", "true"),))
    run = _run(held, timeout_s=0.3)  # a held request outlasts the levels' timeout and still counts
    assert run.wake_up is not None and run.wake_up.ok and run.wake_up.cold_start is True
    assert run.wake_up.seconds == pytest.approx(0.65, abs=0.2)
    (level,) = run.levels
    assert level.metrics.completed == 4 and level.metrics.ttft.p99_ms < 300  # the wake-up is not in them
    report = report_dict(run, Price(1.0, "test"))
    assert report["wake_up"]["cold_start"] is True
    assert any(note.startswith("woke the model from zero: first token after") for note in report["notes"])


def test_the_interceptors_504_is_reported_not_raised() -> None:
    run = _run(StubReply(hold_s=0.1, status=504, error_message="backend not ready: context deadline exceeded"))
    assert run.wake_up is not None and not run.wake_up.ok
    assert run.wake_up.status == 504 and "wake timeout ran out" in (run.wake_up.error or "")
    assert run.levels[0].metrics.completed == 4


def test_the_wake_up_waits_as_long_as_the_request_chain_and_no_longer() -> None:
    """``wake_timeout_s`` is the client's link of the chain (inferctl.sizing.request_timeouts): a hold past it is a
    client-side timeout, reported, not a hang."""
    held = StubReply(hold_s=0.6, ttft_s=0.01)
    short = _run(held, wake_timeout_s=0.2)
    assert short.wake_up is not None and not short.wake_up.ok and "Timeout" in (short.wake_up.error or "")
    assert _run(held, wake_timeout_s=5.0).wake_up.ok


def test_without_wake_up_nothing_is_sent_alone() -> None:
    with StubServer(_replies(FAST)) as server:
        spec = BenchSpec(
            base_url=server.base_url, model=STUB_MODEL, api="completions", levels=(Level(concurrency=1),), requests=2
        )
        run = run_bench(spec, RandomPrompts(LengthRange(8, 8), LengthRange(2, 2), codec=None))
    assert run.wake_up is None and "wake_up" not in report_dict(run, Price(1.0, "test"))


def test_bench_cli_wakes_a_model_that_scales_to_zero_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """No --url: the configured model (min_replicas 0), its endpoint faked by the stub server."""
    import json

    import inferctl.bench as lib
    from inferctl.cli.app import main
    from inferctl.targets.base import Endpoint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "inferctl.yaml").write_text(
        "target: aws\nmodels:\n  - {name: llama3, source: meta-llama/Meta-Llama-3-8B-Instruct, "
        "autoscaling: {min_replicas: 0}}\n",
        encoding="utf-8",
    )
    first = StubReply(hold_s=0.2, headers=(("X-KEDA-HTTP-Cold-Start", "true"),))
    with StubServer(_replies(first)) as server:

        def running(config: Any, model: str | None) -> lib.BenchEndpoint:
            return lib.BenchEndpoint(Endpoint(STUB_MODEL, server.base_url, None), config.models[0])

        monkeypatch.setattr(lib, "from_platform", running)
        specs: list[lib.BenchSpec] = []
        real_run = lib.run_bench
        monkeypatch.setattr(lib, "run_bench", lambda spec, *a, **kw: specs.append(spec) or real_run(spec, *a, **kw))
        argv = ["bench", "--concurrency", "1", "-n", "2", "--warmup", "0", "--price", "1", "--output", "json"]
        assert main(argv) == 0
        assert len(server.bodies) == 3
    # the chain of the configured model: wake 1080 s + dial 60 s + first byte 600 s behind the gateway (at least
    # smg's 1800 s), the NLB 30 s more, the client 30 s more
    assert specs[0].wake_timeout_s == 1860
    report = json.loads(capsys.readouterr().out)
    assert report["wake_up"]["ok"] and report["wake_up"]["cold_start"] is True
    assert report["wake_up"]["seconds"] >= 0.2
