"""Who may use the console: the guard in front of it, without a browser (Starlette's TestClient speaks ASGI to it).

The application behind the guard here is a small Starlette app that says what it was asked; the guard is the real
one the console uses. The browser's side of the same checks is in tests/e2e/test_console_e2e.py.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from inferctl.console.guard import REFUSED, SECURITY_HEADERS, Guard, Keys

PORT = 45123
HOME = f"http://127.0.0.1:{PORT}"
COOKIE = f"inferctl_console_{PORT}"


def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"{request.method} {request.url.path}?{request.url.query}")


@pytest.fixture
def keys() -> Keys:
    return Keys(token="the-token", session="the-session")


def client(keys: Keys, base_url: str = HOME) -> TestClient:
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    return TestClient(Guard(app, keys, PORT), base_url=base_url, follow_redirects=False)


def test_nothing_without_the_token_or_the_cookie(keys: Keys) -> None:
    answer = client(keys).get("/")
    assert answer.status_code == 403 and answer.text.strip() == REFUSED["cookie"]
    assert client(keys).post("/api/chat", json={}).status_code == 403
    guessing = client(keys)
    guessing.cookies.set(COOKIE, "a-guess")
    assert guessing.get("/").status_code == 403


def test_the_token_is_exchanged_once_for_a_strict_http_only_cookie(keys: Keys) -> None:
    browser = client(keys)
    answer = browser.get("/bench?run=abc&token=the-token")
    assert answer.status_code == 303 and answer.headers["location"] == "/bench?run=abc"  # the token is gone
    cookie = answer.headers["set-cookie"]
    assert cookie == f"{COOKIE}=the-session; HttpOnly; SameSite=Strict; Path=/"
    assert "the-token" not in cookie
    assert browser.get("/bench?run=abc").text == "GET /bench?run=abc"  # the cookie opens everything now
    assert browser.post("/api/chat").text == "POST /api/chat?"
    # The token is spent: another browser (no cookie) cannot use it again; this one just loses it from the URL.
    again = client(keys).get("/?token=the-token")
    assert again.status_code == 403 and again.text.strip() == REFUSED["spent"]
    assert browser.get("/?token=the-token").headers["location"] == "/"


def test_a_wrong_token_is_refused_and_does_not_spend_the_right_one(keys: Keys) -> None:
    assert client(keys).get("/?token=guess").status_code == 403
    assert client(keys).get("/?token=the-token").status_code == 303


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT + 1}", f"0.0.0.0:{PORT}"]
)
def test_another_host_header_is_refused_before_anything_else(keys: Keys, host: str) -> None:
    """DNS rebinding: a page of evil.example re-pointed at 127.0.0.1 sends Host: evil.example."""
    answer = client(keys).get("/?token=the-token", headers={"host": host})
    assert answer.status_code == 403 and answer.text.strip().startswith("refused: this console answers only at")
    assert not keys.spent  # the token survives a refused request
    with_cookie = client(keys)
    with_cookie.cookies.set(COOKIE, "the-session")
    assert with_cookie.get("/").status_code == 200
    assert with_cookie.get("/", headers={"host": host}).status_code == 403


def test_localhost_is_this_console_too(keys: Keys) -> None:
    assert client(keys, f"http://localhost:{PORT}").get("/?token=the-token").status_code == 303


def test_a_request_from_another_origin_is_refused(keys: Keys) -> None:
    browser = client(keys)
    browser.get("/?token=the-token")
    assert browser.post("/api/chat", headers={"origin": "http://evil.example"}).status_code == 403
    assert browser.post("/api/chat", headers={"origin": HOME}).status_code == 200


def test_the_redirect_stays_on_this_site(keys: Keys) -> None:
    """'//evil.example' as a Location would send the browser to another host."""
    answer = client(keys).get(f"{HOME}//evil.example/x?token=the-token")
    assert answer.status_code == 303 and answer.headers["location"] == "/evil.example/x"


def test_every_answer_keeps_the_page_to_itself(keys: Keys) -> None:
    browser = client(keys)
    for answer in (browser.get("/"), browser.get("/?token=the-token"), browser.get("/")):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp  # nothing from elsewhere, no inline script or style
