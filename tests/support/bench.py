"""A real OpenAI-compatible streaming HTTP server on 127.0.0.1 with scripted chunk timings, for bench tests.

It speaks just enough HTTP/1.1 (keep-alive, chunked server-sent events) for httpx, runs its own asyncio loop in
a daemon thread (or, for the overhead benchmark, in a child process so it does not share the client's GIL), and
records what it received. Each reply is a :class:`StubReply`: how long before the first token, the gaps between
the next ones, whether to send usage, or which failure to produce.
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STUB_MODEL = "stub-model"


@dataclass(frozen=True)
class StubReply:
    ttft_s: float = 0.0  # sleep before the first token chunk
    gaps_s: tuple[float, ...] = ()  # sleeps before each following token chunk
    tokens_per_chunk: int = 1  # usage counts this many tokens per chunk
    usage: bool = True
    role_chunk: bool = False  # chat: a role-only first chunk, as vLLM sends
    status: int = 200
    error_message: str = "stub error"
    stream_error_after: int | None = None  # send an error event after this many chunks
    drop_after: int | None = None  # close the connection after this many chunks
    prompt_tokens: int = 7
    # Like the KEDA HTTP add-on's interceptor holding a request while the model wakes: nothing at all is sent for
    # this long, then the status line with these headers (e.g. X-KEDA-HTTP-Cold-Start).
    hold_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def chunks(self) -> int:
        return 1 + len(self.gaps_s)


@dataclass(frozen=True)
class PacedReplies:
    """Replies of exactly ``max_tokens`` chunks: the first after ``ttft_s``, the rest ``gap_s`` apart.
    Picklable, so a stub in a child process can use it."""

    ttft_s: float = 0.0
    gap_s: float = 0.0

    def __call__(self, body: dict[str, Any]) -> StubReply:
        tokens = int(body.get("max_tokens") or 1)
        return StubReply(ttft_s=self.ttft_s, gaps_s=(self.gap_s,) * (tokens - 1))


ReplyFor = Callable[[dict[str, Any]], StubReply]


@dataclass
class StubServer:
    reply_for: ReplyFor = field(default_factory=PacedReplies)
    api_key: str | None = None
    model: str = STUB_MODEL
    bodies: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0  # TCP connections accepted (keep-alive reuse shows as few)
    canned: list[tuple[bytes, bool]] = field(default_factory=list)  # verbatim replies (bytes, close after)
    metrics: str | None = None  # GET /metrics answers this Prometheus text (None: 404, as without the route)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> StubServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    async def serve_forever(self) -> None:
        await self._start()
        assert self._server is not None
        await self._server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    key, value = line.decode("latin-1").split(":", 1)
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self._route(method, path, headers, body, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection must close."""
        if self.canned:
            canned, close = self.canned.pop(0)
            writer.write(canned)
            await writer.drain()
            return not close
        if method == "GET" and path == "/health":  # vLLM's liveness route: no key needed
            return await _json(writer, 200, {})
        if method == "GET" and path == "/metrics" and self.metrics is not None:  # vLLM serves it without a key
            return await _text(writer, 200, self.metrics)
        authorized = self.api_key is None or headers.get("authorization") == f"Bearer {self.api_key}"
        if not authorized:
            return await _json(writer, 401, {"error": {"message": "Unauthorized", "code": 401}})
        if method == "GET" and path == "/v1/models":
            return await _json(writer, 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]})
        if method != "POST" or path not in ("/v1/completions", "/v1/chat/completions"):
            return await _json(writer, 404, {"error": {"message": f"no route {path}"}})
        request = json.loads(body)
        self.bodies.append(request)
        self.auth_headers.append(headers.get("authorization"))
        reply = self.reply_for(request)
        if reply.hold_s > 0:
            await asyncio.sleep(reply.hold_s)
        if reply.status != 200:
            return await _json(writer, reply.status, {"error": {"message": reply.error_message}})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await _stream(writer, reply, chat=path.endswith("chat/completions"))
        finally:
            self.in_flight -= 1


async def _json(writer: asyncio.StreamWriter, status: int, data: dict[str, Any]) -> bool:
    payload = json.dumps(data).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    writer.write(head.encode() + payload)
    await writer.drain()
    return True


async def _text(writer: asyncio.StreamWriter, status: int, text: str) -> bool:
    payload = text.encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {len(payload)}\r\n\r\n"
    writer.write(head.encode() + payload)
    await writer.drain()
    return True


async def _stream(writer: asyncio.StreamWriter, reply: StubReply, *, chat: bool) -> bool:
    extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers)
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    writer.write(head.encode())

    async def event(data: dict[str, Any] | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        frame = f"data: {text}\n\n".encode()
        writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        await writer.drain()

    for index, delay in enumerate((reply.ttft_s, *reply.gaps_s)):
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.drop_after is not None and index >= reply.drop_after:
            writer.close()
            return False
        if reply.stream_error_after is not None and index >= reply.stream_error_after:
            await event({"error": {"message": reply.error_message, "code": 500}})
            break
        if chat:
            if index == 0 and reply.role_chunk:
                await event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            await event({"choices": [{"index": 0, "delta": {"content": f"t{index} "}}]})
        else:
            await event({"choices": [{"index": 0, "text": f"t{index} "}]})
    if reply.usage:
        tokens = reply.chunks * reply.tokens_per_chunk
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": tokens}
        await event({"choices": [], "usage": usage})
    await event("[DONE]")
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


def _serve_in_process(port_queue: Any, replies: PacedReplies) -> None:
    server = StubServer(replies)

    async def main() -> None:
        await server._start()
        port_queue.put(server.port)
        assert server._server is not None
        await server._server.serve_forever()

    asyncio.run(main())


def start_stub_process(
    replies: PacedReplies | None = None,
) -> tuple[multiprocessing.process.BaseProcess, str]:
    """A stub in a child process (its own interpreter and core); returns the process and its base URL."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_serve_in_process, args=(queue, replies or PacedReplies()), daemon=True)
    process.start()
    port = queue.get(timeout=30)
    return process, f"http://127.0.0.1:{port}/v1"


def write_small_tokenizer(path: Path, *, bos: bool = False) -> Path:
    """Train a small byte-level BPE ``tokenizer.json`` in ``path`` (fast; for exact-length prompt tests)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = Path(json.__file__).read_text(encoding="utf-8") + Path(threading.__file__).read_text(encoding="utf-8")
    tokenizer.train_from_iterator([text], trainer=trainer)
    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    return path


def timing_tolerant(attempts: int = 3) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run a timing test up to ``attempts`` times; it passes when one run is within its tolerance.

    On a 2-core machine a late wake-up of the scheduler (a vLLM process of an earlier test still exiting, say) can
    add tens of milliseconds to one run; a wrong formula is off by the scripted gaps (100 ms and more) in every
    run, so it still fails all of them. Each run builds its own stub server inside the test body.
    """

    def wrap(test: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            for attempt in range(attempts):
                try:
                    test(*args, **kwargs)
                    return
                except AssertionError:
                    if attempt == attempts - 1:
                        raise

        return run

    return wrap
