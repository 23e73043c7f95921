"""The async load generator: levels of fixed concurrency or of a request rate (Poisson or gamma arrivals),
each bounded by a request count and/or a duration, after warm-up requests that are not measured.

Concurrency levels run ``concurrency`` workers that send back to back; rate levels dispatch on a random
arrival schedule, optionally capped by a concurrency. A level stops *sending* at its request count or
duration; requests in flight then finish and count. The library never prints: it reports through
``on_progress``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from inferctl.bench.client import (
    API_PATHS,
    ApiKind,
    Prompt,
    RequestOutcome,
    auth_headers,
    build_payload,
    stream_request,
)
from inferctl.bench.prompts import PromptSource
from inferctl.bench.stats import LevelMetrics, RequestTiming, Slo, level_metrics
from inferctl.bench.wake import UNKNOWN_CHAIN_TIMEOUT_S, WakeUp, measure_wake_up
from inferctl.errors import ConfigError, NotFoundError, OperationError, UserError

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Level:
    """One point of the sweep: at most ``concurrency`` requests in flight, arriving at ``rate`` per second."""

    concurrency: int | None = None  # None: no cap (rate levels only)
    rate: float | None = None  # None: send as soon as a slot frees (concurrency levels)

    def __post_init__(self) -> None:
        if self.concurrency is None and self.rate is None:
            raise ValueError("a level needs a concurrency, a rate, or both")

    @property
    def label(self) -> str:
        if self.rate is None:
            return f"concurrency {self.concurrency}"
        cap = f", max {self.concurrency} in flight" if self.concurrency else ""
        return f"rate {self.rate:g}/s{cap}"

    def to_dict(self) -> dict[str, int | float | None]:
        return {"concurrency": self.concurrency, "rate": self.rate}


@dataclass(frozen=True)
class BenchSpec:
    """Everything one run needs. ``base_url`` is the OpenAI base (``http://host:port/v1``)."""

    base_url: str
    model: str
    api: ApiKind
    levels: tuple[Level, ...]
    api_key: str | None = field(default=None, repr=False)
    requests: int | None = None  # per level
    duration_s: float | None = None  # per level: stop sending after this long
    warmup: int = 2
    burstiness: float = 1.0  # 1: Poisson arrivals; otherwise gamma with this shape
    exact_output: bool = True  # ask vLLM for exactly output_len tokens (ignore_eos + min_tokens)
    slo: Slo | None = None
    timeout_s: float = 300.0
    seed: int = 0
    wake_up: bool = False  # send one request alone first and report it apart (a model that may be at zero)
    wake_timeout_s: float = UNKNOWN_CHAIN_TIMEOUT_S  # that request's silence budget: the request path's chain

    def __post_init__(self) -> None:
        if not self.levels:
            raise ConfigError("give at least one level: --concurrency 1,8 or --rate 2")
        if self.burstiness <= 0:
            raise ConfigError("--burstiness must be positive (1 = Poisson arrivals)")

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + API_PATHS[self.api]

    def requests_for(self, level: Level) -> int | None:
        """The level's request budget: ``requests``; unbounded under a duration alone; else a default that
        gives every in-flight slot several requests (so the level reaches steady state)."""
        if self.requests is not None:
            return self.requests
        if self.duration_s is not None:
            return None
        if level.rate is not None:
            return max(16, math.ceil(20 * level.rate))
        return max(16, 4 * (level.concurrency or 1))


@dataclass(frozen=True)
class Progress:
    """A progress event: ``phase`` is ``warmup`` or ``level``; ``total`` None when bounded by time only."""

    phase: Literal["warmup", "level"]
    label: str
    index: int  # 0-based level index (0 during warm-up)
    levels: int
    done: int
    failed: int
    total: int | None
    elapsed_s: float
    duration_s: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class LevelResult:
    level: Level
    sent: int
    metrics: LevelMetrics
    errors: dict[str, int]  # failures by kind: "HTTP 429", "timeout", ...
    error_examples: dict[str, str]  # one message per kind
    usage_reported: int  # successful requests whose token count came from the server's usage
    short_outputs: int  # successful requests with fewer tokens than asked (exact_output on)


@dataclass(frozen=True)
class BenchRun:
    spec: BenchSpec
    prompts: str  # description of the prompt source
    exact_input_lengths: bool
    levels: tuple[LevelResult, ...]
    warmup_ok: int
    client: str = ""  # the HTTP stack and event loop that measured (they set the generator's own overhead)
    wake_up: WakeUp | None = None  # the first request, sent alone (spec.wake_up)


def run_bench(spec: BenchSpec, source: PromptSource, on_progress: ProgressCallback | None = None) -> BenchRun:
    """Run every level of ``spec`` against the endpoint (blocking), on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(arun_bench(spec, source, on_progress))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop if installed (it comes with vLLM and uvicorn): the generator then spends about a fifth
    less CPU per streamed token (benchmarks/client_overhead.py), CPU the server would otherwise lose on a
    small machine. None: asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def arun_bench(spec: BenchSpec, source: PromptSource, on_progress: ProgressCallback | None = None) -> BenchRun:
    import httpx

    from inferctl.bench.transport import transport_for

    if source.chat_only and spec.api != "chat":
        raise ConfigError("these prompts are chat messages: use --api chat (or a dataset of plain prompts)")
    caps = [lvl.concurrency for lvl in spec.levels]
    max_conn = None if any(c is None for c in caps) else max(*(c for c in caps if c), spec.warmup, 1)
    limits = httpx.Limits(max_connections=max_conn, max_keepalive_connections=max_conn, keepalive_expiry=60)
    timeout = httpx.Timeout(spec.timeout_s, connect=min(10.0, spec.timeout_s))
    prompts = source.prompts(spec.seed)
    results: list[LevelResult] = []
    wake = None
    if spec.wake_up:  # its own client: a wait of minutes must not tie the levels' timeouts to it
        wake_timeout = httpx.Timeout(spec.wake_timeout_s, connect=min(10.0, spec.timeout_s))
        async with httpx.AsyncClient(timeout=wake_timeout) as wake_client:
            wake = await measure_wake_up(wake_client, spec, next(prompts))
    # The lean transport for plain http (the usual case for a benchmark); httpx's own for TLS and proxies.
    transport = transport_for(spec.base_url, connect_timeout_s=timeout.connect or 10.0, read_timeout_s=spec.timeout_s)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, transport=transport) as client:
        warm_ok = await _warm_up(client, spec, prompts, on_progress)
        for index, level in enumerate(spec.levels):
            run = _LevelRun(_Sender(client, spec), level, index, prompts=prompts, on_progress=on_progress)
            results.append(await run.run())
    stack = "httpx with inferctl's lean HTTP/1.1 transport" if transport else "httpx"
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    client_desc = f"{stack}, {'uvloop' if loop == 'uvloop' else 'asyncio'} event loop"
    return BenchRun(spec, source.description, source.exact_lengths, tuple(results), warm_ok, client_desc, wake)


class _Sender:
    """Sends one prompt and keeps what came back (shared by warm-up and levels)."""

    def __init__(self, client: httpx.AsyncClient, spec: BenchSpec) -> None:
        self.client = client
        self.spec = spec
        self.headers = auth_headers(spec.api_key)
        self.done: list[tuple[Prompt, RequestOutcome]] = []

    async def send(self, prompt: Prompt) -> RequestOutcome:
        payload = build_payload(self.spec.api, self.spec.model, prompt, exact_output=self.spec.exact_output)
        outcome = await stream_request(self.client, self.spec.url, payload, api=self.spec.api, headers=self.headers)
        self.done.append((prompt, outcome))
        return outcome


async def _warm_up(
    client: httpx.AsyncClient,
    spec: BenchSpec,
    prompts: Iterator[Prompt],
    on_progress: ProgressCallback | None,
) -> int:
    """Send ``spec.warmup`` unmeasured requests; if every one fails, stop with what the server said."""
    if spec.warmup <= 0:
        return 0
    sender = _Sender(client, spec)
    start = time.perf_counter()
    width = min(spec.warmup, max((lvl.concurrency or 1) for lvl in spec.levels))
    queue = [next(prompts) for _ in range(spec.warmup)]

    async def worker() -> None:
        while queue:
            await sender.send(queue.pop())
            if on_progress:
                failed = sum(1 for _, o in sender.done if not o.ok)
                on_progress(
                    Progress(
                        "warmup",
                        "warm-up",
                        0,
                        len(spec.levels),
                        len(sender.done),
                        failed,
                        spec.warmup,
                        time.perf_counter() - start,
                        None,
                    )
                )

    await asyncio.gather(*(worker() for _ in range(width)))
    ok = sum(1 for _, o in sender.done if o.ok)
    if ok == 0:
        raise _unreachable_error(spec, sender.done[0][1])
    return ok


def _unreachable_error(spec: BenchSpec, outcome: RequestOutcome) -> UserError | OperationError:
    """One line that says what the first failure means and what to do."""
    kind, message = outcome.error_kind or "error", outcome.error_message or ""
    if kind == "connect":
        return NotFoundError(
            f"cannot connect to {spec.base_url} ({message}); start the platform with 'inferctl up' or fix --url"
        )
    if kind == "HTTP 401":
        return UserError(f"{spec.base_url} refused the API key (HTTP 401); pass the endpoint's key with --api-key")
    if kind == "HTTP 404":
        return NotFoundError(
            f"{spec.url} answered 404 for model {spec.model!r} ({message}); "
            "check --model, and --url (it must end in /v1)"
        )
    if kind == "HTTP 400" and spec.exact_output:
        return UserError(
            f"{spec.base_url} rejected the request (HTTP 400: {message}); if this server is not vLLM, "
            "retry with --no-exact-output (drops ignore_eos/min_tokens)"
        )
    return OperationError(f"every warm-up request to {spec.url} failed ({kind}: {message}); is the server healthy?")


class _LevelRun:
    """One level: hands out prompts until the level's budget or duration is spent, and reports progress."""

    def __init__(
        self,
        sender: _Sender,
        level: Level,
        index: int,
        *,
        prompts: Iterator[Prompt],
        on_progress: ProgressCallback | None,
    ) -> None:
        self.sender, self.spec, self.level, self.index = sender, sender.spec, level, index
        self.prompts = prompts
        self.on_progress = on_progress
        self.total = self.spec.requests_for(level)
        self.start = time.perf_counter()
        self.deadline = self.start + self.spec.duration_s if self.spec.duration_s is not None else None
        self.sent = 0
        self.failed = 0

    async def run(self) -> LevelResult:
        self.start = time.perf_counter()
        if self.spec.duration_s is not None:
            self.deadline = self.start + self.spec.duration_s
        if self.level.rate is None:
            await asyncio.gather(*(self._worker() for _ in range(self.level.concurrency or 1)))
        else:
            await self._dispatch_at_rate(self.level.rate)
        duration = time.perf_counter() - self.start
        return _summarize(self.spec, self.level, self.sent, self.sender.done, duration)

    def _take(self) -> Prompt | None:
        if self.total is not None and self.sent >= self.total:
            return None
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return None
        self.sent += 1
        return next(self.prompts)

    async def _measured(self, prompt: Prompt) -> None:
        outcome = await self.sender.send(prompt)
        self.failed += not outcome.ok
        if self.on_progress:
            elapsed = time.perf_counter() - self.start
            done = len(self.sender.done)
            self.on_progress(
                Progress(
                    "level",
                    self.level.label,
                    self.index,
                    len(self.spec.levels),
                    done,
                    self.failed,
                    self.total,
                    elapsed,
                    self.spec.duration_s,
                )
            )

    async def _worker(self) -> None:
        while (prompt := self._take()) is not None:
            await self._measured(prompt)

    async def _dispatch_at_rate(self, rate: float) -> None:
        """Send on a gamma arrival schedule (shape ``burstiness``; 1 = Poisson), on average 1/rate apart."""
        burstiness = self.spec.burstiness
        rng = random.Random(self.spec.seed * 1_000_003 + self.index)
        slots = asyncio.Semaphore(self.level.concurrency) if self.level.concurrency else None
        tasks: list[asyncio.Task[None]] = []

        async def capped(prompt: Prompt) -> None:
            if slots is None:
                await self._measured(prompt)
                return
            async with slots:
                await self._measured(prompt)

        next_at = self.start
        while self.deadline is None or next_at < self.deadline:
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            prompt = self._take()
            if prompt is None:
                break
            tasks.append(asyncio.create_task(capped(prompt)))
            next_at += rng.gammavariate(burstiness, 1.0 / (rate * burstiness))
        await asyncio.gather(*tasks)


def _summarize(
    spec: BenchSpec, level: Level, sent: int, done: list[tuple[Prompt, RequestOutcome]], duration_s: float
) -> LevelResult:
    timings: list[RequestTiming] = []
    errors: Counter[str] = Counter()
    examples: dict[str, str] = {}
    usage = short = 0
    for prompt, outcome in done:
        if not outcome.ok:
            kind = outcome.error_kind or "error"
            errors[kind] += 1
            examples.setdefault(kind, outcome.error_message or "")
            continue
        usage += outcome.tokens_from_usage
        short += spec.exact_output and outcome.tokens_from_usage and outcome.output_tokens < prompt.output_len
        timings.append(
            RequestTiming(
                ttft_s=outcome.ttft_s,
                e2el_s=outcome.e2el_s,
                itl_s=tuple(outcome.itl_s),
                input_tokens=outcome.input_tokens or prompt.input_len or 0,
                output_tokens=outcome.output_tokens,
            )
        )
    metrics = level_metrics(timings, failed=sum(errors.values()), duration_s=duration_s, slo=spec.slo)
    return LevelResult(level, sent, metrics, dict(errors), examples, usage, short)
