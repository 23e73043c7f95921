"""The benchmark arithmetic on known numbers: percentiles, TPOT, ITL pooling, throughput, goodput, cost.

Pure functions; the expected values are worked out by hand from vLLM's definitions (vllm/benchmarks/serve.py).
"""

from __future__ import annotations

import random

import pytest

from inferctl.bench.stats import (
    Distribution,
    RequestTiming,
    Slo,
    level_metrics,
    mean,
    parse_slo,
    percentile,
    std,
    usd_per_million_tokens,
)
from inferctl.errors import ConfigError


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)  # rank 2.7 -> 3 + 0.7 * (4 - 3)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([], 50) == 0.0


def test_percentile_matches_numpy_default() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(7)
    for size in (1, 2, 3, 10, 101):
        values = [rng.expovariate(3.0) for _ in range(size)]
        for pct in (50, 90, 99, 12.5):
            assert percentile(values, pct) == pytest.approx(float(np.percentile(values, pct)))


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_mean_and_population_std() -> None:
    assert mean([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(2.0)
    assert mean([]) == 0.0 and std([]) == 0.0


def test_distribution_reports_milliseconds() -> None:
    dist = Distribution.of_seconds([0.1, 0.2, 0.3, 0.4])
    assert dist.count == 4
    assert dist.mean_ms == pytest.approx(250.0)
    assert dist.p50_ms == pytest.approx(250.0)
    assert dist.p90_ms == pytest.approx(370.0)
    assert dist.p99_ms == pytest.approx(397.0)


def test_tpot_excludes_the_first_token() -> None:
    timing = RequestTiming(ttft_s=0.1, e2el_s=1.0, itl_s=(), input_tokens=5, output_tokens=10)
    assert timing.tpot_s == pytest.approx(0.1)  # (1.0 - 0.1) / 9
    one = RequestTiming(ttft_s=0.3, e2el_s=0.3, itl_s=(), input_tokens=5, output_tokens=1)
    assert one.tpot_s == 0.0


def _timings() -> list[RequestTiming]:
    return [
        RequestTiming(0.10, 0.50, (0.1, 0.1, 0.2), input_tokens=10, output_tokens=5),  # tpot 0.1
        RequestTiming(0.20, 1.00, (0.4, 0.4), input_tokens=20, output_tokens=3),  # tpot 0.4
        RequestTiming(0.90, 0.90, (), input_tokens=30, output_tokens=1),  # tpot 0 (one token)
    ]


def test_level_metrics_totals_throughput_and_pooled_itl() -> None:
    metrics = level_metrics(_timings(), failed=2, duration_s=2.0)
    assert (metrics.completed, metrics.failed) == (3, 2)
    assert (metrics.input_tokens, metrics.output_tokens) == (60, 9)
    assert metrics.request_throughput == pytest.approx(1.5)
    assert metrics.output_throughput == pytest.approx(4.5)
    assert metrics.total_token_throughput == pytest.approx(34.5)
    assert metrics.ttft.mean_ms == pytest.approx(400.0)
    assert metrics.ttft.p50_ms == pytest.approx(200.0)
    assert metrics.e2el.p50_ms == pytest.approx(900.0)
    # ITL pools every gap of every request: [0.1, 0.1, 0.2, 0.4, 0.4]
    assert metrics.itl.count == 5
    assert metrics.itl.mean_ms == pytest.approx(240.0)
    assert metrics.itl.p50_ms == pytest.approx(200.0)
    assert metrics.itl.p90_ms == pytest.approx(400.0)
    # TPOT only over requests with more than one token: [0.1, 0.4]
    assert metrics.tpot.count == 2
    assert metrics.tpot.mean_ms == pytest.approx(250.0)
    assert metrics.tpot.p99_ms == pytest.approx(397.0)
    assert metrics.goodput is None and metrics.good_requests is None


def test_goodput_counts_requests_meeting_every_objective() -> None:
    timings = _timings()
    # ttft <= 200 ms passes the first two; tpot <= 100 ms passes the first and the one-token reply (tpot 0).
    both = level_metrics(timings, failed=0, duration_s=2.0, slo=Slo(ttft_s=0.2, tpot_s=0.1))
    assert both.good_requests == 1
    assert both.goodput == pytest.approx(0.5)
    ttft_only = level_metrics(timings, failed=0, duration_s=2.0, slo=Slo(ttft_s=0.2))
    assert ttft_only.good_requests == 2  # the limit is inclusive
    e2el = level_metrics(timings, failed=0, duration_s=4.0, slo=Slo(e2el_s=0.95))
    assert e2el.good_requests == 2
    assert e2el.goodput == pytest.approx(0.5)


def test_level_metrics_without_successes_is_all_zero() -> None:
    metrics = level_metrics([], failed=4, duration_s=1.0, slo=Slo(ttft_s=1.0))
    assert metrics.completed == 0 and metrics.failed == 4
    assert metrics.output_throughput == 0.0 and metrics.ttft.p99_ms == 0.0
    assert metrics.goodput == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ttft=500ms,tpot=50ms", Slo(ttft_s=0.5, tpot_s=0.05)),
        ("ttft=0.5s", Slo(ttft_s=0.5)),
        ("e2e=10s, tpot=40", Slo(tpot_s=0.04, e2el_s=10.0)),  # a bare number is milliseconds
        ("TTFT:250ms", Slo(ttft_s=0.25)),
    ],
)
def test_parse_slo(text: str, expected: Slo) -> None:
    parsed = parse_slo(text)
    for name in ("ttft_s", "tpot_s", "e2el_s"):
        got, want = getattr(parsed, name), getattr(expected, name)
        assert got == (pytest.approx(want) if want is not None else None)


@pytest.mark.parametrize("text", ["", "ttft", "speed=5ms", "ttft=fast", "ttft=5min"])
def test_parse_slo_rejects_nonsense_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match="--slo"):
        parse_slo(text)


def test_slo_to_dict_in_milliseconds() -> None:
    assert Slo(ttft_s=0.5, e2el_s=2.0).to_dict() == {"ttft_ms": 500.0, "e2el_ms": 2000.0}


def test_cost_per_million_tokens() -> None:
    # A g5.xlarge on demand ($1.006/h) producing 1,000 tokens/s: 3.6M tokens/h -> $0.2794 per 1M.
    assert usd_per_million_tokens(1.006, 1000.0) == pytest.approx(1.006 / 3.6)
    assert usd_per_million_tokens(0.0, 1000.0) == 0.0
    assert usd_per_million_tokens(0.0, 0.0) == 0.0  # free is free, even when nothing came out
    assert usd_per_million_tokens(None, 1000.0) is None
    assert usd_per_million_tokens(1.0, 0.0) is None
