"""``inferctl console`` in a real browser against a real local platform (tests/e2e/conftest.py: vLLM serving the
demo model on this machine).

The console runs as a user runs it (a subprocess); Debian's chromium, driven by Playwright, opens the address it
prints. Nothing is faked. The test checks what a person would: the overview shows the model running, the chat
streams a reply, a bench run started from the page ends in its chart, a request without the token is refused, no
page (nor script, stylesheet or answer) holds the API key, and the browser asks nothing of any other host.
Screenshots of every page go to ``test-output/console/`` (``INFERCTL_TEST_OUTPUT`` moves it); the picture README.md
shows (docs/images/console-chat.png) is one of them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferctl.bench.saved import list_runs
from inferctl.home import Home
from inferctl.targets.base import Endpoint
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra has it)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless, and nothing of its own on the network: no component updates, sync or background requests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADDRESS = re.compile(r"^(http://127\.0\.0\.1:\d+)/\?token=\S+$")
SHOTS = Path(os.environ.get("INFERCTL_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")) / "console"


@pytest.fixture(scope="module")
def console(local_platform: Cli) -> Iterator[str]:
    """The printed address of ``inferctl console`` for the running platform; Ctrl-C at the end (exit code 0)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferctl", "console", "--interval", "1"],
        cwd=local_platform.cwd, env=local_platform.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_console_in_a_browser(console: str, local_platform: Cli, local_endpoint: Endpoint) -> None:
    found = ADDRESS.match(console)
    assert found, console
    base = found.group(1)
    key = local_endpoint.api_key
    assert key, "the demo platform serves behind an API key: the test of its absence must be able to fail"
    assert httpx.get(f"{base}/").status_code == 403
    assert httpx.get(f"{base}/", headers={"host": f"evil.example:{base.rsplit(':', 1)[1]}"}).status_code == 403
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 820})
            page = context.new_page()
            elsewhere: list[str] = []
            answers: list[str] = []
            page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((base, "data:")) else None)
            # Every answer's body as it arrives (pages, fragments, the script, the JSON routes); the chat's stream
            # is the model's words, read by the page as it streams.
            page.on("response", lambda r: answers.append(_body(r)))

            refused = page.goto(f"{base}/load")
            assert refused is not None and refused.status == 403 and "refused" in page.content()

            page.goto(console)
            assert page.url == f"{base}/"  # the token left the address bar
            (cookie,) = context.cookies()
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["domain"] == "127.0.0.1"
            demo = page.locator("table.models tr", has_text="demo")
            sync_api.expect(demo.locator(".state")).to_have_text("running", timeout=30_000)
            shot(page, "overview")
            sources = [page.content()]

            page.goto(f"{base}/load")
            page.wait_for_selector('section[data-model="demo"] polyline', state="attached", timeout=30_000)  # 2 reads
            shot(page, "load")
            sources.append(page.content())

            page.goto(f"{base}/nodes")
            sync_api.expect(page.locator("main")).to_contain_text("no nodes to show")
            shot(page, "nodes")

            page.goto(f"{base}/diagram")
            if shutil.which("dot"):
                page.wait_for_function("document.querySelector('img.diagram').naturalWidth > 0")
            shot(page, "diagram")

            page.goto(f"{base}/chat")
            page.wait_for_selector("#chat-model option[value='demo']", state="attached")
            page.fill("#chat-max-tokens", "48")
            page.fill("#chat-input", "Say something about the sea.")
            page.evaluate(WATCH_REPLY)
            page.click("#chat-send")
            page.wait_for_selector(".msg.assistant.done", timeout=120_000)
            reply = page.locator(".msg.assistant .text").inner_text()
            assert reply.strip(), "the reply is empty"
            assert page.evaluate("window.replyUpdates") > 1, "the reply came in one piece, not streamed"
            sync_api.expect(page.locator("#chat-stats")).to_contain_text("tokens, first token")
            shot(page, "chat")
            sources.append(page.content())

            home = Home(local_platform.home)
            before = {run.id for run in list_runs(home, "inferctl")}  # other tests' 'inferctl bench' runs
            page.goto(f"{base}/bench")
            page.wait_for_selector("#bench-model option[value='demo']", state="attached")
            page.fill("input[name=concurrency]", "1,2")
            page.fill("input[name=requests]", "6")
            page.fill("input[name=output_len]", "16")
            page.click("#bench-start")
            page.wait_for_selector("#bench-progress:not([hidden])", timeout=30_000)
            page.wait_for_url(re.compile(r"/bench\?run="), timeout=300_000)  # done: the page shows the saved run
            page.wait_for_selector("#bench-run svg.chart")
            shot(page, "bench")
            sources.append(page.content())
            (run,) = [run for run in list_runs(home, "inferctl") if run.id not in before]
            assert page.url == f"{base}/bench?run={run.id}" and run.model == "demo"
            assert [level["completed"] for level in run.levels] == [6, 6]
            assert page.locator("#bench-run svg.chart").count() == 3
        finally:
            browser.close()
    read = [a for a in answers if a]
    assert len(read) > 20 and any('fetch("/api/chat"' in a for a in read) and any('"models"' in a for a in read)
    sources += read
    assert not [s for s in sources if key in s], "the API key reached the browser"
    assert elsewhere == [], f"the browser asked other hosts: {elsewhere}"


# Counts the times the assistant's reply grows while it streams (each chunk the page appends).
WATCH_REPLY = """() => {
  window.replyUpdates = 0;
  new MutationObserver((changes) => {
    for (const change of changes) {
      const host = change.target.nodeType === 1 ? change.target : change.target.parentElement;
      if (host && host.closest('.msg.assistant')) window.replyUpdates += 1;
    }
  }).observe(document.getElementById('chat-log'), {subtree: true, childList: true, characterData: true});
}"""


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _body(response: Any) -> str:
    """A response's text; '' for one without a body to read back (a redirect, the chat's event stream)."""
    if response.status in (301, 302, 303, 307, 308) or "event-stream" in response.headers.get("content-type", ""):
        return ""
    try:
        return str(response.text())
    except Exception:  # the page moved on before its body was read
        return ""
