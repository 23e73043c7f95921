"""The first request to a model that may be scaled to zero, measured on its own.

Behind the KEDA HTTP add-on's interceptor a model at zero replicas answers only after a GPU node and a pod have
started: minutes, not milliseconds. Mixed into a load level that one request would wreck every percentile, so
``bench`` sends it alone first, with a client timeout longer than the request path's chain of timeouts
(inferctl.sizing.request_timeouts), so the interceptor's own answer arrives (504 Gateway Timeout after the
route's readiness timeout), and reports it separately.

The interceptor marks its answers with ``X-KEDA-HTTP-Cold-Start: true|false`` (``kedacore/http-add-on`` v0.15.0,
``pkg/http/headers.go``; on by default, ``interceptor/config/serving.go`` ``KEDA_HTTP_ENABLE_COLD_START_HEADER``),
so the report says whether this request really woke the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferctl.bench.client import Prompt, auth_headers, build_payload
from inferctl.sizing.request_timeouts import HOP_MARGIN_S, NLB_IDLE_TIMEOUT_MAX_S

if TYPE_CHECKING:
    import httpx

    from inferctl.bench.runner import BenchSpec

COLD_START_HEADER = "X-KEDA-HTTP-Cold-Start"
# A URL outside any config (--url): the longest chain inferctl builds, which an NLB's idle timeout caps.
UNKNOWN_CHAIN_TIMEOUT_S = float(NLB_IDLE_TIMEOUT_MAX_S + HOP_MARGIN_S)


@dataclass(frozen=True)
class WakeUp:
    """How the first request went: seconds from send to the first token (or to the error answer)."""

    ok: bool
    seconds: float
    status: int | None
    cold_start: bool | None  # the interceptor's header; None when absent (not behind the interceptor)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "cold_start": self.cold_start,
            "error": self.error,
        }

    def describe(self) -> str:
        if not self.ok:
            return f"first request failed after {self.seconds:.1f} s: {self.error}"
        woke = {True: "woke the model from zero", False: "found a replica running", None: "first request"}
        return f"{woke[self.cold_start]}: first token after {self.seconds:.1f} s (excluded from the levels)"


async def measure_wake_up(client: httpx.AsyncClient, spec: BenchSpec, prompt: Prompt) -> WakeUp:
    """Send ``prompt`` alone and time it to its first streamed chunk (the model's first token)."""
    import httpx

    payload = build_payload(spec.api, spec.model, prompt, exact_output=spec.exact_output)
    start = time.perf_counter()
    status: int | None = None
    cold: bool | None = None
    try:
        async with client.stream("POST", spec.url, json=payload, headers=auth_headers(spec.api_key)) as response:
            status = response.status_code
            header = response.headers.get(COLD_START_HEADER)
            cold = None if header is None else header.strip().lower() == "true"
            if status != 200:
                body = (await response.aread()).decode(errors="replace").strip()
                reason = "the interceptor's wake timeout ran out" if status == 504 else "the server refused"
                return WakeUp(
                    False, time.perf_counter() - start, status, cold, f"HTTP {status} ({reason}): {body[:200]}"
                )
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                    return WakeUp(True, time.perf_counter() - start, status, cold)
    except httpx.HTTPError as exc:
        return WakeUp(False, time.perf_counter() - start, status, cold, f"{type(exc).__name__}: {exc}")
    return WakeUp(False, time.perf_counter() - start, status, cold, "the stream ended without a token")
