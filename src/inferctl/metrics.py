"""Read the few vLLM Prometheus metrics that ``status`` shows. Pure text parsing, no client library."""

from __future__ import annotations

import re

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
