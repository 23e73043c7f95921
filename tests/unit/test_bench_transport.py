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

from inferctl.bench.transport import LeanTransport, transport_for
from tests.support.bench import StubServer


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
    ],
)
def test_broken_responses_are_protocol_errors(canned: bytes, error: str) -> None:
    with StubServer(canned=[(canned, True)]) as server, pytest.raises(httpx.RemoteProtocolError, match=error):
        _get_all(server.base_url + "/x")


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
