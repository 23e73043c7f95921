"""Time to first token from vLLM's histogram: what the requests of the last ``window_s`` seconds waited, from two
reads of the cumulative histogram (:class:`inferctl.metrics.Histogram`) as Prometheus' ``rate(...[30s])`` under a
``histogram_quantile`` would give it. None until two reads, and while no request finished its first token in the
window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inferctl.metrics import Histogram

WINDOW_S = 30.0


@dataclass(frozen=True)
class Latency:
    """TTFT quantiles in milliseconds over a window, and how many first tokens they describe."""

    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    requests: float


def latency_of(histogram: Histogram) -> Latency | None:
    """The quantiles of what a histogram (a window's difference) observed; None when it observed nothing."""
    if histogram.count <= 0:
        return None
    p50, p99, mean = histogram.quantile(0.5), histogram.quantile(0.99), histogram.mean()
    return Latency(
        p50_ms=None if p50 is None else 1000 * p50,
        p99_ms=None if p99 is None else 1000 * p99,
        mean_ms=None if mean is None else 1000 * mean,
        requests=histogram.count,
    )


class LatencyWindow:
    """Per model, the TTFT of the requests whose first token came in the last ``window_s`` seconds."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._reads: dict[str, deque[tuple[float, Histogram]]] = {}

    def observe(self, histograms: Mapping[str, Histogram]) -> dict[str, Latency | None]:
        now = self._clock()
        out: dict[str, Latency | None] = {}
        for name in list(self._reads):
            if name not in histograms:
                del self._reads[name]  # the model went away: its next read starts afresh
        for name, histogram in histograms.items():
            reads = self._reads.setdefault(name, deque())
            # Keep the newest read at least window_s old (the baseline) and everything after it.
            while len(reads) > 1 and now - reads[1][0] >= self.window_s:
                reads.popleft()
            window = histogram.since(reads[0][1]) if reads else None
            if reads and window is None:
                reads.clear()  # the server restarted: its counts began again
            out[name] = None if window is None else latency_of(window)
            reads.append((now, histogram))
        return out


__all__ = ["WINDOW_S", "Latency", "LatencyWindow", "latency_of"]
