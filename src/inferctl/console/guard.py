"""Who may use the console: the browser of the person who started it, on this machine.

As Jupyter does, ``inferctl console`` prints its address with a token made for this run. The first request that
carries it (``?token=...``) gets a session cookie (HttpOnly: scripts cannot read it; SameSite=Strict: no other
site's page can send it) and a redirect to the same address without the token, which is then spent: it opened
the console once and cannot open it again from a browser's history or a terminal's scrollback. Every other
request needs the cookie. The server listens on 127.0.0.1 only, and a request whose Host header is not this
address (``127.0.0.1:<port>`` or ``localhost:<port>``) is refused before anything else, so a page of another site
whose name was re-pointed at 127.0.0.1 (DNS rebinding) reaches nothing; a request that says it comes from another
origin is refused too.

Every answer carries headers that keep the page to itself: a Content-Security-Policy allowing only this origin
(no CDN could load even if a page asked), no framing, no referrer, no caching.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_PARAM = "token"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
REFUSED = {
    "host": "refused: this console answers only at {hosts}",
    "origin": "refused: a request from another site",
    "spent": (
        "refused: this token has been used; a console's token opens it once. Restart 'inferctl console' for a new "
        "address"
    ),
    "token": "refused: wrong token; open the address 'inferctl console' printed",
    "cookie": "refused: open the address 'inferctl console' printed (with its token) first",
}


class Keys:
    """The run's secrets: the token printed once, and the session the cookie carries."""

    def __init__(self, token: str | None = None, session: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.session = session or secrets.token_urlsafe(32)
        self.spent = False

    def exchange(self, presented: str) -> bool:
        """True once, for the right token; it is spent from then on."""
        if self.spent or not secrets.compare_digest(presented.encode(), self.token.encode()):
            return False
        self.spent = True
        return True

    def holds_session(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self.session.encode())


class Guard:
    """ASGI middleware in front of the console's application (see the module's docstring)."""

    def __init__(self, app: App, keys: Keys, port: int) -> None:
        self.app = app
        self.keys = keys
        self.hosts = (f"127.0.0.1:{port}", f"localhost:{port}")
        self.origins = tuple(f"http://{host}" for host in self.hosts)
        self.cookie = f"inferctl_console_{port}"  # per port: two consoles on one machine keep their own session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # the console has no websocket
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if headers.get("host") not in self.hosts:
            await _refuse(send, REFUSED["host"].format(hosts=" or ".join(self.hosts)))
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            await _refuse(send, REFUSED["origin"])
            return
        session = _cookies(headers.get("cookie", "")).get(self.cookie)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token = next((value for key, value in query if key == TOKEN_PARAM), None)
        if token is not None:
            rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAM])
            # One leading slash: "//host/..." would send the browser to another site.
            location = "/" + quote(str(scope.get("path", "/")).lstrip("/")) + (f"?{rest}" if rest else "")
            if self.keys.exchange(token):
                await _redirect(send, location, self._set_cookie())
            elif self.keys.holds_session(session):
                await _redirect(send, location)  # an old link in a browser already in: just drop the token
            else:
                await _refuse(send, REFUSED["spent" if self.keys.spent else "token"])
            return
        if not self.keys.holds_session(session):
            await _refuse(send, REFUSED["cookie"])
            return
        await self.app(scope, receive, _with_security_headers(send))

    def _set_cookie(self) -> str:
        return f"{self.cookie}={self.keys.session}; HttpOnly; SameSite=Strict; Path=/"


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header: as if there were none
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _headers(extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in {**SECURITY_HEADERS, **extra}.items()]


async def _refuse(send: Send, message: str, status: int = 403) -> None:
    body = (message + "\n").encode()
    extra = {"content-type": "text/plain; charset=utf-8", "content-length": str(len(body))}
    await send({"type": "http.response.start", "status": status, "headers": _headers(extra)})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, cookie: str | None = None) -> None:
    extra = {"location": location, "content-length": "0"}
    headers = _headers(extra)
    if cookie is not None:
        headers.append((b"set-cookie", cookie.encode("latin-1")))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in _headers({}) if k not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


__all__ = ["REFUSED", "SECURITY_HEADERS", "TOKEN_PARAM", "Guard", "Keys"]
