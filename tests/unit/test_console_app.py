"""The console's pages and routes without a browser: Starlette's TestClient speaks ASGI to the real application
(guard included), the platform behind it is a real target.

Seams: the local platform is the stand-in of tests/support/local.py (a process the local target takes for vLLM,
and :class:`tests.support.bench.StubServer` answering vLLM's ``/health``, ``/metrics``, ``/v1/models`` and a
streamed ``/v1/chat/completions`` with its API key check on its port; vLLM itself takes a minute to start here and
is what tests/e2e/test_console_e2e.py uses). The cluster is :class:`tests.support.kube.FakeCluster` at lightkube's
transport (no API server runs here).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from inferctl.bench.saved import list_runs
from inferctl.config.loader import load_config
from inferctl.config.models import PlatformConfig
from inferctl.console.app import PAGES, Console, create_app
from inferctl.console.guard import Keys
from inferctl.home import Home
from inferctl.targets import target_for
from tests.support.bench import StubReply, StubServer
from tests.support.kube import FakeCluster, serve
from tests.support.local import server_standin, vllm_metrics, write_running_state
from tests.unit.test_kube_cli import NS, workshop_cluster, write_config

PORT = 45124
HOME = f"http://127.0.0.1:{PORT}"


@dataclass
class Running:
    console: Console
    browser: TestClient
    server: StubServer
    key: str


def open_console(console: Console) -> TestClient:
    keys = Keys(token="t0k3n")
    browser = TestClient(create_app(console, keys, PORT), base_url=HOME, follow_redirects=False)
    assert browser.get("/?token=t0k3n").status_code == 303
    return browser


@pytest.fixture
def local() -> Iterator[Running]:
    """The default config's local platform 'running' the demo model behind an API key."""
    home = Home.from_env()
    key = home.api_key("inferctl")
    assert key
    replies = StubServer(lambda body: StubReply(gaps_s=(0.001,) * (int(body.get("max_tokens") or 4) - 1)))
    replies.model, replies.api_key = "demo", key
    with server_standin() as pid, replies as server:
        server.metrics = vllm_metrics("demo", running=0, waiting=0, kv_cache=0.0, generation_tokens=0, ttft_s=[])
        write_running_state(home, pid, server.port, api_key_required=True)
        config = PlatformConfig()
        console = Console(config, target_for(config, home), home)
        yield Running(console, open_console(console), server, key)


def test_the_overview_shows_the_running_model_and_its_endpoint_without_the_key(local: Running) -> None:
    local.console.watch.read_once()
    page = local.browser.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "platform inferctl · target local · running" in page.text
    assert '<td class="name">demo</td>' in page.text and "state-running" in page.text
    assert f"<code>{local.server.base_url}</code>" in page.text
    assert "required: the console holds it" in page.text
    assert local.key not in page.text
    fragment = local.browser.get("/fragment/overview")
    assert (
        fragment.status_code == 200 and "<html" not in fragment.text and '<td class="name">demo</td>' in fragment.text
    )


def test_no_page_script_or_route_carries_the_api_key(local: Running) -> None:
    local.console.watch.read_once()
    answers = [local.browser.get(href) for href, _ in PAGES.values()]
    answers += [local.browser.get(f"/fragment/{name}") for name in ("overview", "load", "nodes")]
    answers += [local.browser.get("/static/console.js"), local.browser.get("/static/console.css")]
    answers += [local.browser.get("/api/models"), local.browser.get("/diagram.svg")]
    assert [a.status_code for a in answers if a.status_code != 200] == []
    for answer in answers:
        assert local.key not in answer.text, answer.url
        assert local.key not in json.dumps(dict(answer.headers)), answer.url


def test_the_chat_streams_through_the_console_which_adds_the_key(local: Running) -> None:
    assert local.browser.get("/api/models").json() == {"models": ["demo"], "problem": None}
    request = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    with local.browser.stream("POST", "/api/chat", json=request) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = [line for line in answer.iter_lines() if line.startswith("data: ")]
    text = "".join(
        choice["delta"].get("content", "")
        for line in events[:-1]
        for choice in json.loads(line.removeprefix("data: "))["choices"]
    )
    assert text == "t0 t1 t2 " and events[-1] == "data: [DONE]"
    assert local.server.auth_headers == [f"Bearer {local.key}"]  # added by the console, not the page
    (sent,) = local.server.bodies
    assert sent["model"] == "demo" and sent["messages"] == request["messages"] and sent["stream"] is True
    assert sent["max_tokens"] == 3


def test_the_chat_refuses_what_it_should_not_forward(local: Running) -> None:
    post = local.browser.post
    unknown = post("/api/chat", json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})
    assert unknown.status_code == 400 and unknown.json()["error"] == "model 'gpt-4' is not served here (served: demo)"
    odd_role = post("/api/chat", json={"model": "demo", "messages": [{"role": "tool", "content": "x"}]})
    assert odd_role.status_code == 400
    too_long = post(
        "/api/chat", json={"model": "demo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}
    )
    assert too_long.status_code == 400 and "max_tokens" in too_long.json()["error"]
    assert post("/api/chat", content=b"not json").status_code == 400
    assert local.server.bodies == []  # nothing reached the endpoint


def test_an_endpoint_error_reaches_the_page_as_one_line_without_the_key(local: Running) -> None:
    local.server.reply_for = lambda body: StubReply(status=500, error_message=f"engine died holding {local.key}")
    request = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    answer = local.browser.post("/api/chat", json=request)
    assert answer.status_code == 502
    assert answer.json() == {"error": "the endpoint answered HTTP 500: engine died holding (the API key)"}


def test_a_stopped_platform_has_no_models_and_no_chat(local: Running, tmp_path: Path) -> None:
    for state in Home.from_env().target_dir("inferctl", "local").rglob("state.json"):  # each server's
        state.unlink()
    assert local.browser.get("/api/models").json()["models"] == []
    answer = local.browser.post("/api/chat", json={"model": "demo", "messages": [{"role": "user", "content": "x"}]})
    assert answer.status_code == 503 and "start it with 'inferctl up'" in answer.json()["error"]


def test_the_load_page_charts_what_vllm_reports(local: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    local.console.watch.read_once()
    local.server.metrics = vllm_metrics(
        "demo", running=3, waiting=1, kv_cache=0.25, generation_tokens=900, ttft_s=[0.03, 0.05, 0.05, 0.09]
    )
    local.console.watch.read_once()
    page = local.browser.get("/load")
    assert page.status_code == 200 and 'data-model="demo"' in page.text
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    assert "running 3 · waiting 1 · KV 25% ·" in page.text and "TTFT p50 50 ms" in page.text
    assert '<polyline class="line"' in page.text  # two reads: lines, not just dots
    assert "no metrics" not in page.text


def test_a_cluster_shows_its_nodes_and_says_when_it_has_no_metrics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = serve(FakeCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path, hf_token=None)
    workshop_cluster(fake)
    cfg, _ = load_config(Path(write_config(tmp_path)))
    console = Console(cfg, target_for(cfg, Home.from_env()), Home.from_env())
    browser = open_console(console)
    console.watch.read_once()
    nodes = browser.get("/nodes").text
    assert "g5.xlarge" in nodes and 'svg class="bar"' in nodes and "/month" in nodes
    load = browser.get("/load").text
    assert "no metrics: no Prometheus: set observability.prometheus_url" in load
    overview = browser.get("/").text
    assert "target kubernetes" in overview
    # Now: the two nodes' catalog prices (m5.xlarge on-demand + g5.xlarge spot); planned: plan's total for the config.
    assert '<dd>$0.594/h <span class="basis">(the nodes&#39; catalog prices)' in overview
    assert "<dt>planned</dt><dd>$1.006/h on-demand · $0.402/h spot" in overview


def test_a_bench_started_from_the_page_runs_is_saved_and_charted(local: Running) -> None:
    local.server.reply_for = lambda body: StubReply(ttft_s=0.05, gaps_s=(0.001,) * 3)  # a run of half a second
    start = local.browser.post(
        "/api/bench", json={"model": "demo", "concurrency": "1,2", "requests": "4", "input_len": 16, "output_len": 4}
    )
    assert start.status_code == 202, start.text
    job = start.json()
    busy = local.browser.post("/api/bench", json={"model": "demo"})
    assert busy.status_code == 409 and busy.json() == {"error": "a bench run is in progress; wait for it to finish"}
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = local.browser.get(f"/api/bench/{job['id']}").json()
    assert job["state"] == "done", job
    assert job["fraction"] == 1.0 and [lvl["done"] for lvl in job["levels"]] == [4, 4]
    (run,) = list_runs(Home.from_env(), "inferctl")
    assert job["run_id"] == run.id and run.model == "demo"
    assert "started from the console" in run.report["notes"]
    assert all(auth == f"Bearer {local.key}" for auth in local.server.auth_headers)
    page = local.browser.get("/bench").text
    assert page.count("<svg xmlns") == 3 and "concurrency</text>" in page
    assert f'data-run="{run.id}"' in page and "time to first token (ms)" in page and ">output tok/s</text>" in page
    assert ">c=1</text>" in page and ">c=2</text>" in page  # each level's point is labelled
    assert local.key not in page and local.key not in json.dumps(run.report)


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"concurrency": "1,4"}, "choose a model"),
        ({"model": "demo", "concurrency": "0"}, "concurrency: 1 to 4 numbers from 1 to 64"),
        ({"model": "demo", "concurrency": "1,2,3,4,5"}, "concurrency: 1 to 4 numbers"),
        ({"model": "demo", "requests": "1000"}, "requests: a whole number from 1 to 200"),
        ({"model": "demo", "output_len": "2.5"}, "output len: a whole number from 1 to 1024"),
    ],
)
def test_the_bench_form_is_checked(local: Running, form: dict[str, str], error: str) -> None:
    answer = local.browser.post("/api/bench", json=form)
    assert answer.status_code == 400 and answer.json()["error"].startswith(error)


def test_a_bench_of_a_model_not_served_fails_with_its_reason(local: Running) -> None:
    job = local.browser.post("/api/bench", json={"model": "gpt-4"}).json()
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = local.browser.get(f"/api/bench/{job['id']}").json()
    assert job["state"] == "failed" and job["error"] == "model 'gpt-4' is not served (served: demo)"
    assert local.browser.get("/api/bench/99").status_code == 404


def test_a_cluster_with_prometheus_charts_its_load_and_prices_its_scale_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The model scales from 1 to 3 replicas; Prometheus (through the API server's service proxy) has its load."""
    from tests.unit.test_model_metrics import LOAD, FakePrometheus

    fake = serve(FakeCluster(namespaces=["default", "kube-system", NS, "monitoring"]), monkeypatch, tmp_path)
    workshop_cluster(fake)
    prometheus = FakePrometheus(LOAD)
    fake.proxy[("monitoring", "prometheus-server")] = prometheus
    cfg = PlatformConfig.model_validate(
        {
            **load_config(Path(write_config(tmp_path)))[0].model_dump(exclude={"models", "observability"}),
            "models": [
                {
                    "name": "llama",
                    "source": "meta-llama/Meta-Llama-3-8B-Instruct",
                    "autoscaling": {"min_replicas": 1, "max_replicas": 3},
                }
            ],
            "observability": {"prometheus_url": "http://prometheus-server.monitoring.svc"},
        }
    )
    console = Console(cfg, target_for(cfg, Home.from_env()), Home.from_env())
    browser = open_console(console)
    console.watch.read_once()
    console.watch.read_once()
    load = browser.get("/load").text
    assert "no metrics" not in load and 'data-model="llama"' in load
    assert "running 3 · waiting 1 · KV 25% · 812.5 tok/s · TTFT p50 120 ms" in load
    assert prometheus.queries  # asked through the API server, not from the browser
    overview = browser.get("/").text
    planned = re.search(r"<dt>planned</dt><dd>\$([\d.]+)/h on-demand", overview)
    scaled = re.search(r"<dt>all scaled up</dt><dd>\$([\d.]+)/h on-demand", overview)
    assert planned and scaled and float(scaled.group(1)) == pytest.approx(3 * float(planned.group(1)), rel=0.01)


def test_the_chat_waits_as_long_as_the_chosen_models_request_path() -> None:
    """A model that sleeps at zero waits for its wake-up; the playground's timeout is that model's chain, not the
    first model's (here 1830 s for the demo model, longer for the 8B model woken from zero)."""
    from inferctl.config import parse_config
    from inferctl.console.app import _chat_timeout
    from inferctl.sizing.request_timeouts import client_timeouts

    config = parse_config(
        "target: kubernetes\nmodels:\n  - name: a\n    source: demo\n  - name: b\n"
        "    source: meta-llama/Meta-Llama-3-8B-Instruct\n    served_model_name: llama\n"
        "    autoscaling: {min_replicas: 0, max_replicas: 2}\n"
    )
    first, sleeper = (client_timeouts(config, m).client_s for m in config.models)
    assert sleeper > first
    assert _chat_timeout(config, "llama") == sleeper and _chat_timeout(config, "a") == first
