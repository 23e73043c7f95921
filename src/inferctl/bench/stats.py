"""Benchmark arithmetic, defined exactly as vLLM's ``vllm bench serve`` defines it (vllm 0.32,
``vllm/benchmarks/serve.py::calculate_metrics``), so numbers from both tools can be compared:

- TTFT: request sent -> first streamed chunk that carries a choice.
- ITL: every gap between consecutive choice chunks (a chunk may carry several tokens).
- TPOT: ``(e2e - ttft) / (output_tokens - 1)`` per request with more than one output token.
- E2E: request sent -> last choice chunk (the trailing usage chunk carries no token).
- Percentiles: linear interpolation between closest ranks (numpy's default), over all successful requests.
- Throughput: totals divided by the level's wall time (first dispatch -> last response).
- Goodput: successful requests per second whose TTFT, TPOT (0 for one-token replies) and E2E all meet the SLO.

Everything here is pure: lists of numbers in, numbers out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inferctl.errors import ConfigError

PERCENTILES = (50.0, 90.0, 99.0)
SLO_METRICS = ("ttft", "tpot", "e2el")


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile with linear interpolation (numpy.percentile's default method)."""
    if not values:
        return 0.0
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile {pct} is outside [0, 100]")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def std(values: Sequence[float]) -> float:
    """Population standard deviation (numpy.std's default)."""
    if not values:
        return 0.0
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / len(values))


@dataclass(frozen=True)
class Distribution:
    """Summary of one latency metric, in milliseconds."""

    count: int
    mean_ms: float
    std_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @classmethod
    def of_seconds(cls, values: Sequence[float]) -> Distribution:
        p50, p90, p99 = (percentile(values, p) * 1000.0 for p in PERCENTILES)
        return cls(len(values), mean(values) * 1000.0, std(values) * 1000.0, p50, p90, p99)


@dataclass(frozen=True)
class Slo:
    """Per-request service-level objectives in seconds; ``None`` means not constrained."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2el_s: float | None = None

    def to_dict(self) -> dict[str, float]:
        out = {"ttft_ms": self.ttft_s, "tpot_ms": self.tpot_s, "e2el_ms": self.e2el_s}
        return {k: v * 1000.0 for k, v in out.items() if v is not None}

    def met_by(self, ttft_s: float, tpot_s: float, e2el_s: float) -> bool:
        checks = ((self.ttft_s, ttft_s), (self.tpot_s, tpot_s), (self.e2el_s, e2el_s))
        return all(limit >= value for limit, value in checks if limit is not None)


_SLO_ITEM = re.compile(r"^\s*(?P<key>[a-z0-9_]+)\s*[=:]\s*(?P<num>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s)?\s*$")
_SLO_ALIASES = {"ttft": "ttft", "tpot": "tpot", "e2el": "e2el", "e2e": "e2el", "latency": "e2el"}


def parse_slo(text: str) -> Slo:
    """``"ttft=500ms,tpot=50ms,e2e=2s"`` -> :class:`Slo`. A bare number is milliseconds (as in vLLM)."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _SLO_ITEM.match(item.lower())
        key = _SLO_ALIASES.get(match.group("key")) if match else None
        if match is None or key is None:
            raise ConfigError(f"--slo item {item!r} is not understood; write e.g. --slo ttft=500ms,tpot=50ms,e2e=10s")
        number = float(match.group("num"))
        values[key] = number if match.group("unit") == "s" else number / 1000.0
    if not values:
        raise ConfigError("--slo is empty; write e.g. --slo ttft=500ms,tpot=50ms")
    return Slo(values.get("ttft"), values.get("tpot"), values.get("e2el"))


@dataclass(frozen=True)
class RequestTiming:
    """What one successful request measured (seconds) and produced (tokens)."""

    ttft_s: float
    e2el_s: float
    itl_s: tuple[float, ...]
    input_tokens: int
    output_tokens: int

    @property
    def tpot_s(self) -> float:
        """Time per output token after the first; 0 for replies of at most one token (vLLM's convention)."""
        if self.output_tokens <= 1:
            return 0.0
        return (self.e2el_s - self.ttft_s) / (self.output_tokens - 1)


@dataclass(frozen=True)
class LevelMetrics:
    """The metrics of one benchmark level (one concurrency or one request rate)."""

    completed: int
    failed: int
    duration_s: float
    input_tokens: int
    output_tokens: int
    request_throughput: float  # successful requests / s
    output_throughput: float  # output tokens / s
    total_token_throughput: float  # (input + output) tokens / s
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2el: Distribution
    goodput: float | None  # good requests / s, None without an SLO
    good_requests: int | None


def level_metrics(
    timings: Sequence[RequestTiming], *, failed: int, duration_s: float, slo: Slo | None = None
) -> LevelMetrics:
    """Aggregate the successful requests of one level (see the module docstring for each definition)."""
    if duration_s <= 0:
        raise ValueError("duration_s must be positive")
    input_tokens = sum(t.input_tokens for t in timings)
    output_tokens = sum(t.output_tokens for t in timings)
    itls = [gap for t in timings for gap in t.itl_s]
    tpots = [t.tpot_s for t in timings if t.output_tokens > 1]
    good: int | None = None
    if slo is not None:
        good = sum(1 for t in timings if slo.met_by(t.ttft_s, t.tpot_s, t.e2el_s))
    return LevelMetrics(
        completed=len(timings),
        failed=failed,
        duration_s=duration_s,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        request_throughput=len(timings) / duration_s,
        output_throughput=output_tokens / duration_s,
        total_token_throughput=(input_tokens + output_tokens) / duration_s,
        ttft=Distribution.of_seconds([t.ttft_s for t in timings]),
        tpot=Distribution.of_seconds(tpots),
        itl=Distribution.of_seconds(itls),
        e2el=Distribution.of_seconds([t.e2el_s for t in timings]),
        goodput=None if good is None else good / duration_s,
        good_requests=good,
    )


def usd_per_million_tokens(usd_per_hour: float | None, tokens_per_s: float) -> float | None:
    """What a million tokens cost at ``tokens_per_s`` on hardware billed ``usd_per_hour``."""
    if usd_per_hour is None:
        return None
    if usd_per_hour == 0:
        return 0.0
    if tokens_per_s <= 0:
        return None
    return usd_per_hour / 3600.0 / tokens_per_s * 1_000_000.0
