"""A lean HTTP/1.1 transport for httpx, used for the benchmark's streamed requests to plain-http endpoints.

Why: httpx's default transport (httpcore + h11 + anyio) spends about three times the client CPU per streamed
chunk (143 vs 45 us at 8 streams, benchmarks/results/client_overhead.json). On a small machine that CPU is taken
from the server under test: with it, ``benchmarks/bench_fidelity.py`` saw inferctl report 4-12% less throughput
than ``vllm bench serve`` (aiohttp) on the same server; with this transport the two agree within 2%. It reads
whatever the socket holds in one call and unframes chunked bodies from a buffer, so one wake-up costs one read
however many chunks arrived, and it bounds silence with one timer per response instead of one per read.

Scope, on purpose small: ``http://`` only (TLS and proxies keep httpx's own transport, see ``transport_for``),
HTTP/1.1 keep-alive with an idle pool per host, bodies framed by ``Transfer-Encoding: chunked``,
``Content-Length`` or connection close. Errors are httpx's exception types, so callers see one family.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from asyncio import StreamReader, StreamWriter

_READ_SIZE = 65536
_MAX_HEAD = 65536


class _Connection:
    def __init__(self, reader: StreamReader, writer: StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 over asyncio streams; ``read_timeout_s`` bounds the silence between reads."""

    def __init__(self, *, connect_timeout_s: float = 10.0, read_timeout_s: float | None = 300.0) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"LeanTransport serves http:// only, not {request.url.scheme}://")
        key = (request.url.host, request.url.port or 80)
        conn = await self._connection(key)
        try:
            conn.writer.write(_request_bytes(request, await request.aread()))
            await conn.writer.drain()
            head = await self._wait(conn.reader.readuntil(b"\r\n\r\n"))
            version, status, raw_headers = _parse_head(head)
            headers = httpx.Headers(raw_headers)
            body = _Body(self, key, conn, headers, no_body=request.method == "HEAD" or status in (204, 304))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
            conn.close()
            raise httpx.RemoteProtocolError(f"no complete response head ({exc})") from None
        except BaseException:  # a malformed head, a timeout, a cancellation: the connection is unusable
            conn.close()
            raise
        body.reusable = body.reusable and version == "HTTP/1.1"
        return httpx.Response(status, headers=headers, stream=body, extensions={"http_version": b"HTTP/1.1"})

    async def _connection(self, key: tuple[str, int]) -> _Connection:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        try:
            connecting = asyncio.open_connection(*key, limit=_MAX_HEAD)
            reader, writer = await asyncio.wait_for(connecting, self.connect_timeout_s)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {self.connect_timeout_s}s") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    async def _wait(self, pending: Awaitable[bytes]) -> bytes:
        """Await the response head, turning silence longer than the read timeout into httpx.ReadTimeout."""
        try:
            return await asyncio.wait_for(pending, self.read_timeout_s)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no data within {self.read_timeout_s}s") from None

    def release(self, key: tuple[str, int], conn: _Connection) -> None:
        self._idle.setdefault(key, []).append(conn)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()


class _Body(httpx.AsyncByteStream):
    """The response body, unframed; the connection goes back to the pool once the body was read to its end."""

    def __init__(
        self,
        transport: LeanTransport,
        key: tuple[str, int],
        conn: _Connection,
        headers: httpx.Headers,
        *,
        no_body: bool,
    ) -> None:
        self.transport, self.key, self.conn = transport, key, conn
        # HEAD, 204 and 304 responses have no body, whatever their framing headers announce.
        self.chunked = not no_body and "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            raise httpx.RemoteProtocolError(f"invalid Content-Length {length[:40]!r}")
        self.remaining = 0 if no_body else (int(length) if length is not None and not self.chunked else None)
        self.reusable = headers.get("connection", "").lower() != "close" and (
            no_body or self.chunked or length is not None
        )
        self.done = False
        self.watchdog: _Watchdog | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.transport.read_timeout_s is not None:
            self.watchdog = _Watchdog(self.transport.read_timeout_s)
        try:
            if self.chunked:
                async for data in self._chunked():
                    yield data
            else:
                async for data in self._plain():
                    yield data
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None
        finally:
            if self.watchdog is not None:
                self.watchdog.stop()

    async def _read_some(self, limit: int = _READ_SIZE) -> bytes:
        try:
            data = await self.conn.reader.read(limit)
        except asyncio.CancelledError:
            if self.watchdog is not None and self.watchdog.expire():
                raise httpx.ReadTimeout(f"no data within {self.transport.read_timeout_s}s") from None
            raise
        if self.watchdog is not None:
            self.watchdog.last = self.watchdog.loop.time()
        return data

    async def _plain(self) -> AsyncIterator[bytes]:
        while self.remaining is None or self.remaining > 0:
            data = await self._read_some(min(_READ_SIZE, self.remaining or _READ_SIZE))
            if not data:
                if self.remaining is None:
                    break  # close-delimited body
                raise httpx.RemoteProtocolError("connection closed before the announced Content-Length")
            if self.remaining is not None:
                self.remaining -= len(data)
            yield data
        self.done = True

    async def _chunked(self) -> AsyncIterator[bytes]:
        buffer = b""
        size: int | None = None  # payload bytes of the current chunk; None while its size line is pending
        while True:
            out = []
            while True:
                if size is None:
                    end = buffer.find(b"\r\n")
                    if end < 0:
                        break
                    size = _chunk_size(buffer[:end])
                    buffer = buffer[end + 2 :]
                if size == 0:  # the last chunk; done once the (usually empty) trailer section ended
                    self.done = buffer.startswith(b"\r\n") or b"\r\n\r\n" in buffer
                    break
                if len(buffer) < size + 2:
                    break
                if buffer[size : size + 2] != b"\r\n":
                    raise httpx.RemoteProtocolError("chunk data longer than its announced size")
                out.append(buffer[:size])
                buffer = buffer[size + 2 :]
                size = None
            if out:
                yield b"".join(out)
            if self.done:
                return
            data = await self._read_some()
            if not data:
                raise httpx.RemoteProtocolError("connection closed in the middle of a chunked body")
            buffer += data

    async def aclose(self) -> None:
        # The body may be closed before its iterator finished (the reader stopped early): the watchdog must
        # not outlive it, or it would cancel whatever the task does next once the read timeout has passed.
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.done and self.reusable:
            self.transport.release(self.key, self.conn)
        else:
            self.conn.close()


class _Watchdog:
    """Cancels the reading task after ``timeout_s`` without data: one timer per response, re-armed only when it
    fires early, instead of a timeout around every read (which cost a third of the CPU per streamed chunk)."""

    def __init__(self, timeout_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout_s = timeout_s
        self.last = self.loop.time()
        self.fired = False
        self.handle = self.loop.call_at(self.last + timeout_s, self._check)

    def _check(self) -> None:
        due = self.last + self.timeout_s
        if self.loop.time() < due:
            self.handle = self.loop.call_at(due, self._check)
        elif self.task is not None:
            self.fired = True
            self.task.cancel()

    def expire(self) -> bool:
        """True when the watchdog caused the cancellation (which is then taken back)."""
        if self.fired and self.task is not None:
            self.task.uncancel()
            return True
        return False

    def stop(self) -> None:
        self.handle.cancel()


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.multi_items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _chunk_size(line: bytes) -> int:
    """The size in a chunk-size line (hex digits, then optional ``;extensions``)."""
    digits = line.split(b";", 1)[0].strip()
    if not digits or digits.strip(b"0123456789abcdefABCDEF"):
        raise httpx.RemoteProtocolError(f"malformed chunk size line {line[:40]!r}")
    return int(digits, 16)


def _parse_head(head: bytes) -> tuple[str, int, list[tuple[str, str]]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"not an HTTP/1.1 response: {status_line[:80]!r}")
    headers = []
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return parts[0], int(parts[1]), headers


def transport_for(base_url: str, *, connect_timeout_s: float, read_timeout_s: float) -> LeanTransport | None:
    """The lean transport for a plain-http URL that no proxy setting applies to; None: use httpx's own."""
    url = httpx.URL(base_url)
    if url.scheme != "http":
        return None
    proxies = urllib.request.getproxies()
    if ("http" in proxies or "all" in proxies) and not urllib.request.proxy_bypass(url.host):
        return None
    return LeanTransport(connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s)
