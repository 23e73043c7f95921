"""One streamed request to an OpenAI-compatible server, timed the way ``vllm bench serve`` times it.

The request asks for the server's token count (``stream_options.include_usage``) and, when output lengths
must be exact, for vLLM's ``ignore_eos`` and ``min_tokens`` extra parameters. Failures are outcomes, not
exceptions: the load generator counts them by kind (``HTTP 401``, ``timeout``, ``connect``...).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import httpx

ApiKind = Literal["completions", "chat"]
API_PATHS: dict[ApiKind, str] = {"completions": "/completions", "chat": "/chat/completions"}


@dataclass(frozen=True)
class Prompt:
    """One request's input: plain text (either API) or chat messages (chat only)."""

    text: str | None
    output_len: int
    messages: tuple[dict[str, Any], ...] | None = None
    input_len: int | None = None  # tokens aimed for; None when the source does not know


@dataclass
class RequestOutcome:
    """What one request measured. Times are seconds; ``start`` is ``time.perf_counter()`` at send."""

    start: float
    ok: bool = False
    ttft_s: float = 0.0
    e2el_s: float = 0.0
    itl_s: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_from_usage: bool = False
    error_kind: str | None = None
    error_message: str | None = None


def build_payload(api: ApiKind, model: str, prompt: Prompt, *, exact_output: bool) -> dict[str, Any]:
    """The JSON body of one streamed request."""
    payload: dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True}}
    if api == "chat":
        payload["messages"] = (
            list(prompt.messages) if prompt.messages else [{"role": "user", "content": prompt.text or ""}]
        )
    else:
        if prompt.messages:
            raise ValueError("chat messages need the chat API")
        payload["prompt"] = prompt.text or ""
    # max_tokens (not max_completion_tokens): every OpenAI-compatible server accepts it on both routes.
    payload["max_tokens"] = prompt.output_len
    if exact_output:
        # vLLM extra sampling parameters: generate exactly output_len tokens, end-of-sequence or not.
        payload["ignore_eos"] = True
        payload["min_tokens"] = prompt.output_len
    return payload


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


async def stream_request(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    *,
    api: ApiKind,
    headers: dict[str, str] | None = None,
) -> RequestOutcome:
    """Send one streamed request and time its chunks. Never raises for server or network failures."""
    import httpx

    outcome = RequestOutcome(start=time.perf_counter())
    content_chunks = 0
    usage_tokens: int | None = None
    first = False
    start = last = outcome.start
    try:
        async with client.stream("POST", url, json=payload, headers=headers) as response:
            if response.status_code != 200:
                body = await response.aread()
                return _failed(outcome, f"HTTP {response.status_code}", _error_text(body))
            buffer = b""
            async for raw in response.aiter_bytes():
                now = time.perf_counter()
                buffer += raw.replace(b"\r\n", b"\n")
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    for line in event.split(b"\n"):
                        if not line.startswith(b"data:"):
                            continue  # SSE comments (pings), event: and id: lines
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            break
                        chunk = json.loads(data)
                        if "error" in chunk:
                            return _failed(outcome, "stream error", _error_text(data))
                        if choices := chunk.get("choices"):
                            if first:
                                outcome.itl_s.append(now - last)
                            else:
                                first = True
                                outcome.ttft_s = now - start
                            last = now
                            content_chunks += _has_text(choices[0], api)
                        elif usage := chunk.get("usage"):
                            usage_tokens = usage.get("completion_tokens")
                            outcome.input_tokens = int(usage.get("prompt_tokens") or 0)
    except httpx.TimeoutException:
        return _failed(outcome, "timeout", "no data within the request timeout")
    except httpx.ConnectError as exc:
        return _failed(outcome, "connect", str(exc) or type(exc).__name__)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return _failed(outcome, "disconnected", str(exc) or type(exc).__name__)
    except (json.JSONDecodeError, AttributeError, TypeError) as exc:
        return _failed(outcome, "bad stream", f"unreadable chunk: {exc}")
    if not first:
        return _failed(outcome, "no tokens", "the stream ended before any token arrived")
    outcome.ok = True
    outcome.e2el_s = last - start
    if usage_tokens:
        outcome.output_tokens = int(usage_tokens)
        outcome.tokens_from_usage = True
    else:
        # No usage from the server: one token per chunk that carried text (servers may bundle tokens).
        outcome.output_tokens = max(content_chunks, 1)
    return outcome


def _has_text(choice: dict[str, Any], api: ApiKind) -> bool:
    """The chunk carries generated text (chat's first, role-only chunk does not)."""
    text = choice.get("text") if api == "completions" else (choice.get("delta") or {}).get("content")
    return bool(text)


def _failed(outcome: RequestOutcome, kind: str, message: str) -> RequestOutcome:
    outcome.ok = False
    outcome.error_kind = kind
    outcome.error_message = " ".join(message.split())[:240]
    return outcome


def _error_text(body: bytes) -> str:
    """The server's error message out of an OpenAI-style error body, else the body's start."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text[:240] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail")
            if message:
                return str(message)
        elif isinstance(err, str):
            return err
        if isinstance(data.get("detail"), str):
            return str(data["detail"])
    return text[:240]
