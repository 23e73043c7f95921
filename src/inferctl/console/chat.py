"""The chat playground's server side: which models the endpoint serves, and a streamed chat completion.

The page never sees the platform's API key. It asks the console (``/api/models``, ``/api/chat``); the console asks
the target for its endpoints (each with its key), lists the models of every distinct endpoint through its own
``GET /v1/models`` (one vLLM serves one; a gateway in front of several lists them all), and forwards a chat to the
endpoint that serves the chosen model with ``Authorization: Bearer <key>`` added. What streams back is the
endpoint's own server-sent events, passed through as they come. An error is one line for the page, with the key
taken out should an upstream message ever echo it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferctl.errors import UserError

if TYPE_CHECKING:
    import httpx

    from inferctl.targets.base import Endpoint

ROLES = frozenset({"system", "user", "assistant"})
MAX_MESSAGES = 100
MAX_CHARS = 100_000  # all messages together: a playground, not a batch API
MAX_TOKENS = 4096
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServedModel:
    """A model an endpoint lists, and which endpoint (its index in the target's list) serves it."""

    id: str
    endpoint: int


def auth(endpoint: Endpoint) -> dict[str, str]:
    return {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}


def hide_key(text: str, endpoints: Sequence[Endpoint]) -> str:
    for endpoint in endpoints:
        if endpoint.api_key:
            text = text.replace(endpoint.api_key, "(the API key)")
    return text


def served_models(endpoints: Sequence[Endpoint], timeout_s: float = 5.0) -> tuple[list[ServedModel], str]:
    """Every model the endpoints list, and a note when one could not be asked (the others still count).
    Blocking: the console calls it in a worker thread."""
    import httpx

    models: list[ServedModel] = []
    problems: list[str] = []
    asked: set[tuple[str, str | None]] = set()
    with httpx.Client(timeout=timeout_s) as client:
        for index, endpoint in enumerate(endpoints):
            if (endpoint.base_url, endpoint.api_key) in asked:
                continue
            asked.add((endpoint.base_url, endpoint.api_key))
            try:
                response = client.get(f"{endpoint.base_url}/models", headers=auth(endpoint))
                listed = [str(m["id"]) for m in response.json()["data"]] if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{endpoint.base_url}/models: {type(exc).__name__}")
                continue
            if listed is None:
                problems.append(f"{endpoint.base_url}/models answered HTTP {response.status_code}")
                continue
            known = {m.id for m in models}
            models.extend(ServedModel(name, index) for name in listed if name not in known)
    return models, hide_key("; ".join(problems), endpoints)


def chat_request(body: Any, served: Sequence[ServedModel]) -> tuple[ServedModel, dict[str, Any]]:
    """The page's request checked and turned into the endpoint's (a served model, messages of known roles, sizes
    a playground needs); UserError says what is wrong."""
    if not isinstance(body, dict):
        raise UserError("send a JSON object with model and messages")
    chosen = next((m for m in served if m.id == body.get("model")), None)
    if chosen is None:
        names = ", ".join(m.id for m in served) or "none"
        raise UserError(f"model {body.get('model')!r} is not served here (served: {names})")
    messages = body.get("messages")
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        raise UserError(f"messages must be a list of 1 to {MAX_MESSAGES} messages")
    clean = []
    for message in messages:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise UserError("each message needs a role (system, user or assistant) and a text content")
        clean.append({"role": message["role"], "content": message["content"]})
    if sum(len(m["content"]) for m in clean) > MAX_CHARS:
        raise UserError(f"the messages are longer than {MAX_CHARS:,} characters together")
    max_tokens = body.get("max_tokens", 256)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS:
        raise UserError(f"max_tokens must be a whole number from 1 to {MAX_TOKENS}")
    request: dict[str, Any] = {
        "model": chosen.id,
        "messages": clean,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    temperature = body.get("temperature")
    if temperature is not None:
        if not isinstance(temperature, int | float) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
            raise UserError("temperature must be a number from 0 to 2")
        request["temperature"] = float(temperature)
    return chosen, request


@dataclass
class Upstream:
    """An opened streaming chat completion: its status, and (200) the events to pass on, or (else) one line."""

    status: int
    events: AsyncIterator[bytes] | None
    error: str | None
    close: Callable[[], Any]


async def open_chat(
    client: httpx.AsyncClient, endpoint: Endpoint, request: dict[str, Any], endpoints: Sequence[Endpoint]
) -> Upstream:
    """POST the chat to ``endpoint`` with its key; the caller passes on :attr:`Upstream.events` and closes it."""
    import httpx

    url = f"{endpoint.base_url}/chat/completions"
    try:
        response = await client.send(
            client.build_request("POST", url, json=request, headers=auth(endpoint)), stream=True
        )
    except httpx.HTTPError as exc:
        detail = hide_key(str(exc) or type(exc).__name__, endpoints)
        return Upstream(502, None, f"cannot reach {url}: {detail}; is the platform running?", _nothing)
    if response.status_code != 200:
        text = (await response.aread()).decode("utf-8", "replace")
        await response.aclose()
        return Upstream(
            response.status_code, None, hide_key(_error_message(response.status_code, text), endpoints), _nothing
        )
    return Upstream(200, response.aiter_raw(), None, response.aclose)


def _error_message(status: int, text: str) -> str:
    import json

    try:
        data = json.loads(text)
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("message")
    except (ValueError, AttributeError):
        message = None
    what = " ".join(str(message or text).split())[:300]
    return f"the endpoint answered HTTP {status}: {what}"


async def _nothing() -> None:
    return None


__all__ = ["MAX_TOKENS", "ServedModel", "Upstream", "auth", "chat_request", "hide_key", "open_chat", "served_models"]
