"""The lean HTTP/1.1 transport against a real local server (tests/support/bench.py): keep-alive reuse, every
body framing (chunked with extensions and trailers, Content-Length, connection close), timeouts, broken
responses, and when httpx's own transport is used instead. The streaming metrics through this transport are
covered by test_bench_client.py (both transports) and test_bench_runner.py (which uses it by default)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from inferctl.bench import transport as transport_module
from inferctl.bench.transport import LeanTransport, transport_for
from tests.support.bench import StubReply, StubServer


def _get_all(url: str, count: int = 1, *, read_timeout_s: float = 5.0, read_body: bool = True) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = LeanTransport(read_timeout_s=read_timeout_s, connect_timeout_s=1.0)
        out = []
        async with httpx.AsyncClient(transport=transport) as client:
            for _ in range(count):
                async with client.stream("POST", url, json={"max_tokens": 3, "stream": True}) as response:
                    if read_body:
                        await response.aread()
                    out.append(response)
        return out

    return asyncio.run(go())


def test_streams_reuse_one_keep_alive_connection() -> None:
    with StubServer() as server:
        responses = _get_all(server.base_url + "/completions", count=5)
        assert server.connections == 1
    assert all(r.status_code == 200 for r in responses)
    assert responses[0].text.count("data: ") == 5  # three tokens, usage, [DONE]
    assert responses[0].text.endswith("data: [DONE]\n\n")


def test_an_unfinished_body_closes_its_connection() -> None:
    with StubServer() as server:
        _get_all(server.base_url + "/completions", count=3, read_body=False)
        assert server.connections == 3


def test_error_bodies_with_content_length_keep_the_connection() -> None:
    with StubServer(api_key="k") as server:
        responses = _get_all(server.base_url + "/completions", count=2)
        assert server.connections == 1
    assert responses[1].status_code == 401 and responses[1].json()["error"]["message"] == "Unauthorized"


CHUNKED_WITH_EXTRAS = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n"
)


def test_chunk_extensions_and_trailers() -> None:
    with StubServer(canned=[(CHUNKED_WITH_EXTRAS, False), (CHUNKED_WITH_EXTRAS, False)]) as server:
        responses = _get_all(server.base_url + "/x", count=2)
        assert server.connections == 1
    assert [r.text for r in responses] == ["hello world", "hello world"]


def test_close_delimited_body() -> None:
    canned = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    with StubServer(canned=[(canned, True), (canned, True)]) as server:
        responses = _get_all(server.base_url + "/x", count=2)
        assert server.connections == 2  # a close-delimited body cannot share its connection
    assert [r.text for r in responses] == ["until the end"] * 2


def test_http_1_0_responses_are_not_reused() -> None:
    canned = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with StubServer(canned=[(canned, False), (canned, False)]) as server:
        responses = _get_all(server.base_url + "/x", count=2)
        assert server.connections == 2
    assert [r.text for r in responses] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("canned", "error"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "not an HTTP/1.1 response"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "middle of a chunked body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "announced Content-Length"),
        (b"HTTP/1.1 200 O", "no complete response head"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", "announced size"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "invalid Content-Length"),
    ],
)
def test_broken_responses_are_protocol_errors(canned: bytes, error: str) -> None:
    with StubServer(canned=[(canned, True)]) as server, pytest.raises(httpx.RemoteProtocolError, match=error):
        _get_all(server.base_url + "/x")


def test_a_malformed_head_closes_its_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server keeps the connection open; the transport must close it (not leak or pool it) after a bad head."""
    closed: list[object] = []
    real_close = transport_module._Connection.close

    def close(conn: transport_module._Connection) -> None:
        closed.append(conn)
        real_close(conn)

    monkeypatch.setattr(transport_module._Connection, "close", close)
    good = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with StubServer(canned=[(b"SPDY/3 200 OK\r\n\r\n", False), (good, False)]) as server:

        async def go() -> tuple[str, str]:
            transport = LeanTransport(read_timeout_s=5.0, connect_timeout_s=1.0)
            async with httpx.AsyncClient(transport=transport) as client:
                with pytest.raises(httpx.RemoteProtocolError) as bad:
                    await client.post(server.base_url + "/x")
                return str(bad.value), (await client.post(server.base_url + "/x")).text

        error, text = asyncio.run(go())
        assert server.connections == 2
    assert len(closed) == 2  # the bad one at once, the good one when the client closed
    assert "not an HTTP/1.1 response" in error and text == "ok"


def test_no_content_responses_ignore_their_framing_headers() -> None:
    """A 204 has no body even when it says chunked; reading must not wait for one, and the connection is reused."""
    no_content = b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with StubServer(canned=[(no_content, False), (ok, False)]) as server:
        responses = _get_all(server.base_url + "/x", count=2, read_timeout_s=1.0)
        assert server.connections == 1
    assert [(r.status_code, r.text) for r in responses] == [(204, ""), (200, "ok")]


def test_a_body_closed_early_does_not_cancel_the_task_later() -> None:
    """Closing a streamed response mid-body (the reader stopped) must disarm the read-timeout watchdog, which
    would otherwise cancel the task's next await once the timeout passed."""
    with StubServer(lambda body: StubReply(gaps_s=(0.02,) * 30)) as server:

        async def go() -> str:
            transport = LeanTransport(read_timeout_s=0.2, connect_timeout_s=1.0)
            async with httpx.AsyncClient(transport=transport) as client:
                async with client.stream("POST", server.base_url + "/completions", json={}) as response:
                    chunks = response.aiter_raw()
                    await chunks.__anext__()  # then stop reading; ``chunks`` stays referenced
                await asyncio.sleep(0.5)  # past the read timeout
                del chunks
            return "survived"

        assert asyncio.run(go()) == "survived"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_silence_before_the_head_is_a_read_timeout(silent_port: int) -> None:
    with pytest.raises(httpx.ReadTimeout):
        _get_all(f"http://127.0.0.1:{silent_port}/x", read_timeout_s=0.2)


def test_silence_inside_the_body_is_a_read_timeout() -> None:
    stalled = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"  # then nothing
    with StubServer(canned=[(stalled, False)]) as server, pytest.raises(httpx.ReadTimeout):
        _get_all(server.base_url + "/x", read_timeout_s=0.3)


def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        _get_all(f"http://127.0.0.1:{port}/x")


def test_https_and_proxies_keep_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(transport_for("http://10.0.0.5:8000/v1", connect_timeout_s=1, read_timeout_s=1), LeanTransport)
    assert transport_for("https://api.example.com/v1", connect_timeout_s=1, read_timeout_s=1) is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    assert transport_for("http://10.0.0.5:8000/v1", connect_timeout_s=1, read_timeout_s=1) is None
    monkeypatch.setenv("NO_PROXY", "10.0.0.5")
    assert isinstance(transport_for("http://10.0.0.5:8000/v1", connect_timeout_s=1, read_timeout_s=1), LeanTransport)
