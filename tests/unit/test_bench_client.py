"""One streamed request against a real local HTTP server with scripted chunk timings (tests/support/bench.py).

The stub is a real server on 127.0.0.1, so httpx, SSE parsing and timing run for real; only the model is
scripted. Timing assertions allow 40 ms of scheduling jitter, which still fails a wrong formula (the scripted
gaps differ by 100 ms and more).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

import httpx
import pytest

from inferctl.bench.client import ApiKind, Prompt, RequestOutcome, build_payload, stream_request
from inferctl.bench.transport import LeanTransport
from tests.support.bench import STUB_MODEL, StubReply, StubServer, timing_tolerant

JITTER = 0.04


class Sender(Protocol):
    def __call__(
        self, server_url: str, api: ApiKind, *, timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> RequestOutcome: ...


@pytest.fixture(params=["httpx-default", "lean"])
def send(request: pytest.FixtureRequest) -> Sender:
    """Send one request through httpx's default transport or inferctl's lean one: both must measure alike."""

    def sender(
        server_url: str, api: ApiKind, *, timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> RequestOutcome:
        body = build_payload(api, STUB_MODEL, Prompt("hello", output_len=4), exact_output=True)
        path = "/chat/completions" if api == "chat" else "/completions"
        lean = LeanTransport(read_timeout_s=timeout) if request.param == "lean" else None

        async def go() -> RequestOutcome:
            async with httpx.AsyncClient(timeout=timeout, transport=lean) as client:
                return await stream_request(client, server_url + path, body, api=api, headers=headers)

        return asyncio.run(go())

    return sender


def test_payload_asks_for_usage_and_exact_length() -> None:
    body = build_payload("completions", "m", Prompt("hi", output_len=16), exact_output=True)
    assert body == {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "prompt": "hi",
        "max_tokens": 16,
        "ignore_eos": True,
        "min_tokens": 16,
    }
    chat = build_payload("chat", "m", Prompt("hi", output_len=3), exact_output=False)
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    assert "ignore_eos" not in chat and "min_tokens" not in chat
    with pytest.raises(ValueError):
        build_payload(
            "completions", "m", Prompt(None, 3, messages=({"role": "user", "content": "x"},)), exact_output=True
        )


@timing_tolerant()
def test_completion_timings_follow_the_scripted_chunks(send: Sender) -> None:
    reply = StubReply(ttft_s=0.2, gaps_s=(0.05, 0.15, 0.3), prompt_tokens=11)
    with StubServer(lambda body: reply, api_key="sk-test") as server:
        outcome = send(server.base_url, "completions", headers={"Authorization": "Bearer sk-test"})
        assert server.bodies[0]["ignore_eos"] is True
        assert server.auth_headers == ["Bearer sk-test"]
    assert outcome.ok, outcome.error_message
    assert outcome.ttft_s == pytest.approx(0.2, abs=JITTER)
    assert len(outcome.itl_s) == 3
    for measured, scripted in zip(outcome.itl_s, reply.gaps_s, strict=True):
        assert measured == pytest.approx(scripted, abs=JITTER)
    assert outcome.e2el_s == pytest.approx(0.7, abs=JITTER)
    assert outcome.e2el_s == pytest.approx(outcome.ttft_s + sum(outcome.itl_s), abs=1e-6)
    assert (outcome.output_tokens, outcome.input_tokens, outcome.tokens_from_usage) == (4, 11, True)


@timing_tolerant()
def test_chat_role_chunk_counts_as_first_token_like_vllm(send: Sender) -> None:
    reply = StubReply(ttft_s=0.15, gaps_s=(0.1,), role_chunk=True)
    with StubServer(lambda body: reply) as server:
        outcome = send(server.base_url, "chat")
    assert outcome.ok
    assert outcome.ttft_s == pytest.approx(0.15, abs=JITTER)
    # role chunk -> first content chunk (no wait) -> second content chunk after 100 ms
    assert len(outcome.itl_s) == 2
    assert outcome.itl_s[0] == pytest.approx(0.0, abs=JITTER)
    assert outcome.itl_s[1] == pytest.approx(0.1, abs=JITTER)


def test_usage_wins_over_chunk_count_and_chunks_are_the_fallback(send: Sender) -> None:
    bundled = StubReply(gaps_s=(0.0, 0.0), tokens_per_chunk=2)
    with StubServer(lambda body: bundled) as server:
        outcome = send(server.base_url, "completions")
    assert (outcome.output_tokens, outcome.tokens_from_usage) == (6, True)
    silent = StubReply(gaps_s=(0.0, 0.0, 0.0), usage=False)
    with StubServer(lambda body: silent) as server:
        outcome = send(server.base_url, "chat")
    assert (outcome.output_tokens, outcome.tokens_from_usage) == (4, False)


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        (StubReply(status=400, error_message="min_tokens is not supported"), "HTTP 400", "min_tokens is not"),
        (StubReply(status=500), "HTTP 500", "stub error"),
        (
            StubReply(gaps_s=(0.0, 0.0), stream_error_after=1, error_message="engine died"),
            "stream error",
            "engine died",
        ),
        (StubReply(gaps_s=(0.0, 0.0, 0.0), drop_after=2), "disconnected", ""),
    ],
)
def test_failures_become_outcomes_by_kind(reply: StubReply, kind: str, message: str, send: Sender) -> None:
    with StubServer(lambda body: reply) as server:
        outcome = send(server.base_url, "completions")
    assert not outcome.ok
    assert outcome.error_kind == kind
    assert message in (outcome.error_message or "")


def test_wrong_key_is_http_401(send: Sender) -> None:
    with StubServer(api_key="right") as server:
        outcome = send(server.base_url, "completions", headers={"Authorization": "Bearer wrong"})
    assert outcome.error_kind == "HTTP 401"
    assert outcome.error_message == "Unauthorized"


def test_silent_server_times_out(send: Sender) -> None:
    with StubServer(lambda body: StubReply(ttft_s=1.0)) as server:
        outcome = send(server.base_url, "completions", timeout=0.2)
    assert outcome.error_kind == "timeout"


def test_closed_port_is_a_connect_error(send: Sender) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = send(f"http://127.0.0.1:{port}/v1", "completions")
    assert outcome.error_kind == "connect"
