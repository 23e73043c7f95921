"""The rendered model gateway, run for real on this machine: the pinned smg (1.13.0, from the project's venv) started
with the command and arguments of the gateway container ``render`` gives an aws platform, its wake registrar
(render/wake_registrar.py, the ConfigMap's text) beside it, one real vLLM server for an awake model, and a stand-in
for the KEDA HTTP add-on's interceptor in front of a sleeping one.

What is substituted, and why (nothing else is):

* **discovery**: the container's Kubernetes discovery flags (render.gateway.discovery_args) need an API server, and
  none runs here. They are replaced by smg's file discovery, a manifest naming the same model id ("chat", the served
  name the pod annotation would carry) at the vLLM server's loopback address.
* **listeners**: ``--host 0.0.0.0`` and the fixed ports 8080/8081/29000 become 127.0.0.1 and free ports on this
  shared machine; the registrar's gateway URL and its own port follow them.
* **the wake worker's address**: the registrar's worker list is the rendered one with the wake Service's DNS name
  (which does not resolve here) replaced by the stand-in's loopback address.
* **the interceptor**: tests/support/interceptor.py, which routes by the rendered InterceptorRoutes and holds a
  request on the wake route ``WAKE_S`` seconds, as the interceptor holds it while the model wakes (its docstring
  says what it models and from which source).

Asserted: the gateway routes each model by the request's ``model`` (the awake one to its vLLM server, counted by
vLLM itself; the sleeping one to its wake route); nothing reaches the wake route while the gateway idles (only the
status route's paths); a request for the sleeping model is held and answered, alone and four at once, never 404 or
503; vLLM's own finished-request counter, which the ScaledObject's recent-requests trigger reads, counts the awake
model's requests though the interceptor sees none of them; the registrar re-registers after a gateway restart; an
unknown model gets 404, a missing key 401; the key shows in no log. Run under the shared lock:
``flock /work/vllm.lock pytest tests/e2e/test_gateway_cluster_e2e.py`` (about two minutes, most of it vLLM's start).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferctl.config.models import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.gateway import API_KEY_ENV
from inferctl.home import Home
from inferctl.render import render_platform
from inferctl.render import wake_registrar as registrar_module
from inferctl.render.autoscaling import REQUEST_SUCCESS
from inferctl.render.gateway import discovery_args, registrar_source
from inferctl.render.wake import wake_host, wake_url
from inferctl.targets.local.process import free_port
from tests.support.interceptor import InterceptorStandIn
from tests.support.render import LLAMA3_8B, by_kind, one, placements_for

pytestmark = pytest.mark.e2e

KEY = "sk-gateway-cluster-e2e"
WAKE_S = 12.0  # how long the stand-in holds a request on the wake route (the model "waking")
IDLE_S = 25.0  # idling watched: two of smg's 10 s load-monitor rounds and its registration
HOUSEKEEPING = ("/health", "/v1/models", "/version", "/server_info", "/model_info", "/loads", "/v1/loads", "/metrics")


def _config(chat_sleeps: bool = False) -> PlatformConfig:
    """An aws platform (its gateway gets every flag, the NLB's idle timeout included): "chat" awake, "sleepy" at
    zero. ``chat_sleeps``: the same with chat able to sleep too (to read its ScaledObject's trigger)."""
    chat: dict[str, Any] = {"name": "chat", "source": "Qwen/Qwen2.5-7B-Instruct", "served_model_name": "chat"}
    if chat_sleeps:
        chat["autoscaling"] = {"min_replicas": 0}
    sleepy = {"name": "sleepy", "source": LLAMA3_8B, "autoscaling": {"min_replicas": 0, "wake_timeout": "2m"}}
    return PlatformConfig.model_validate({"name": "genai", "target": "aws", "models": [chat, sleepy]})


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)


def spawn(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Proc:
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, log)


def wait_until(what: str, check: Callable[[], bool], timeout_s: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited while waiting for {what}:\n{proc.text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        time.sleep(0.5)
    raise AssertionError(
        f"timed out after {timeout_s:.0f} s waiting for {what}" + (f":\n{proc.text()[-3000:]}" if proc else "")
    )


@dataclass
class Platform:
    config: PlatformConfig
    gateway: Proc
    registrar: Proc
    vllm: Proc
    standin: InterceptorStandIn
    gateway_url: str
    metrics_url: str
    vllm_url: str
    ready_url: str
    relaunch: Callable[[], Proc]


def _substituted_args(args: list[str], config: PlatformConfig, manifest: Path, ports: dict[str, int]) -> list[str]:
    """The rendered arguments with only the discovery flags and the listeners replaced (see the module docstring)."""
    discovery = discovery_args(config)
    start = next(i for i in range(len(args)) if args[i : i + len(discovery)] == discovery)
    out = [
        *args[:start],
        "--discovery-provider",
        "file",
        "--discovery-file",
        str(manifest),
        *args[start + len(discovery) :],
    ]
    listeners = {"--host": "127.0.0.1", "--prometheus-host": "127.0.0.1"} | {k: str(v) for k, v in ports.items()}
    for flag, value in listeners.items():
        out[out.index(flag) + 1] = value
    return out


def _vllm_requests(vllm_url: str, model: str) -> float:
    """vLLM's own finished-request count for served name ``model`` (every finish reason)."""
    total = 0.0
    for line in httpx.get(f"{vllm_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(REQUEST_SUCCESS) and f'model_name="{model}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    from inferctl.demo_model import ensure_demo_model

    logdir = tmp_path_factory.mktemp("gateway-logs")
    config = _config()
    objects = render_platform(config, placements_for(config))
    pod = one(objects, "Deployment", "genai-gateway")["spec"]["template"]["spec"]
    gateway_container = next(c for c in pod["containers"] if c["name"] == "gateway")
    registrar_container = next(c for c in pod["containers"] if c["name"] == "wake-registrar")
    sleepy = config.models[1]
    routes = [
        r for r in by_kind(objects, "InterceptorRoute") if r["metadata"]["labels"]["inferctl.io/model"] == "sleepy"
    ]
    standin = InterceptorStandIn(routes, wake_host(config, sleepy), "sleepy", wake_s=WAKE_S).start()

    # A real vLLM server for the awake model (the demo model, served under the name the pod annotation carries).
    home = Home(tmp_path_factory.mktemp("gateway-home"))
    model_dir = ensure_demo_model(home)
    vllm_port = free_port("127.0.0.1")
    vllm_env = {**os.environ, "VLLM_API_KEY": KEY, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}  # fmt: skip
    vllm_argv = [sys.executable, "-m", VLLM_SERVER_MODULE, "--model", str(model_dir), "--served-model-name", "chat",
                 "--host", "127.0.0.1", "--port", str(vllm_port), "--dtype", "float32", "--enforce-eager",
                 "--distributed-executor-backend", "uni", "--max-model-len", "2048"]  # fmt: skip
    vllm = spawn("vllm", vllm_argv, vllm_env, logdir)
    procs = [vllm]
    vllm_url = f"http://127.0.0.1:{vllm_port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        wait_until("vLLM", lambda: httpx.get(f"{vllm_url}/v1/models", headers=auth, timeout=5).status_code == 200,
                   600, vllm)  # fmt: skip
        manifest = logdir / "workers.json"
        manifest.write_text(
            json.dumps({"version": 1, "workers": [{"id": "chat-0", "url": vllm_url, "model_id": "chat"}]})
        )
        ports = {
            "--port": free_port("127.0.0.1"),
            "--health-check-port": free_port("127.0.0.1"),
            "--prometheus-port": free_port("127.0.0.1"),
        }
        argv = [sys.executable, *gateway_container["command"][1:], *_substituted_args(
            gateway_container["args"], config, manifest, ports)]  # fmt: skip
        assert gateway_container["command"][0] == "python3"  # the image's interpreter; here the venv's
        gateway_env = {**os.environ, API_KEY_ENV: KEY}
        gateway_url = f"http://127.0.0.1:{ports['--port']}"

        def launch() -> Proc:
            proc = spawn(f"smg-{len(procs)}", argv, gateway_env, logdir)
            procs.append(proc)
            wait_until(
                "the gateway", lambda: httpx.get(f"{gateway_url}/liveness", timeout=3).status_code == 200, 60, proc
            )
            return proc

        gateway = launch()
        # The registrar, as shipped: the ConfigMap's file, the rendered environment (key from "the Secret").
        script = logdir / "inferctl_wake_registrar.py"
        script.write_text(registrar_source(), encoding="utf-8")
        env = {e["name"]: e.get("value") for e in registrar_container["env"]}
        workers = json.loads(env[registrar_module.WORKERS_ENV])
        assert [w["url"] for w in workers] == [wake_url(config, sleepy)]
        workers[0]["url"] = standin.url
        registrar_port = free_port("127.0.0.1")
        registrar_env = {"PATH": os.environ.get("PATH", ""), registrar_module.WORKERS_ENV: json.dumps(workers),
                         registrar_module.GATEWAY_ENV: gateway_url, registrar_module.PORT_ENV: str(registrar_port),
                         API_KEY_ENV: KEY}  # fmt: skip
        registrar = spawn("registrar", [sys.executable, "-I", str(script)], registrar_env, logdir)
        procs.append(registrar)
        ready_url = f"http://127.0.0.1:{registrar_port}/ready"
        wait_until("the registrar", lambda: httpx.get(ready_url, timeout=3).status_code == 200, 60, registrar)
        metrics_url = f"http://127.0.0.1:{ports['--prometheus-port']}/metrics"
        yield Platform(config, gateway, registrar, vllm, standin, gateway_url, metrics_url, vllm_url, ready_url, launch)
    finally:
        for proc in procs:
            proc.stop()
        standin.stop()
        for log in logdir.glob("*.log"):
            assert KEY not in log.read_text(errors="replace"), f"the API key is in {log.name}"


def _chat(base: str, model: str, *, key: str | None = KEY, timeout: float = 120) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4, "temperature": 0}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers, timeout=timeout)


def _listed(platform: Platform) -> list[str]:
    answer = httpx.get(f"{platform.gateway_url}/v1/models", timeout=10).json()
    return sorted(str(m["id"]) for m in answer["data"])


def test_the_gateway_lists_both_models_and_idling_never_reaches_the_wake_route(platform: Platform) -> None:
    start = time.monotonic()
    assert _listed(platform) == ["chat", "sleepy"]  # the sleeping one through its wake worker
    time.sleep(IDLE_S)
    standin = platform.standin
    assert standin.on_route("sleepy-wake", since=0.0) == [], [s.path for s in standin.seen]
    polled = {s.path.split("?")[0] for s in standin.on_route("sleepy-status", since=0.0)}
    assert polled and polled <= set(HOUSEKEEPING), polled  # registration, health and load polls only
    assert any(s.at >= start for s in standin.seen), "the gateway stopped polling the wake host"


def test_each_request_goes_to_its_models_workers(platform: Platform) -> None:
    """The awake model's request reaches its vLLM server (vLLM counts it, smg names the worker); the interceptor
    sees nothing of it."""
    before, seen = _vllm_requests(platform.vllm_url, "chat"), len(platform.standin.on_route("sleepy-wake"))
    answer = _chat(platform.gateway_url, "chat")
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "chat"
    assert answer.headers["x-smg-routed-worker-id"] == platform.vllm_url  # model_gateway: insert_routed_worker_id
    assert _vllm_requests(platform.vllm_url, "chat") == before + 1
    assert len(platform.standin.on_route("sleepy-wake")) == seen


def test_a_request_for_the_sleeping_model_is_held_until_it_answers(platform: Platform) -> None:
    started = time.monotonic()
    answer = _chat(platform.gateway_url, "sleepy")
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "sleepy" and took >= WAKE_S
    assert answer.headers.get("x-keda-http-cold-start") == "true"  # the interceptor's header comes through
    woke = platform.standin.on_route("sleepy-wake")
    assert [(s.method, s.path) for s in woke] == [("POST", "/v1/chat/completions")]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _chat(platform.gateway_url, "sleepy"), range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]  # never 404 / 503


def test_the_busy_models_own_counter_keeps_it_awake_though_the_interceptor_sees_none_of_it(platform: Platform) -> None:
    """The ScaledObject's recent-requests trigger (render.autoscaling) of a model that can sleep but is awake: its
    metric and label exist in the real vLLM's /metrics, and the requests the gateway sends straight to the pod
    raise it, while the interceptor's trigger (its wake route) sees none of them."""
    scaled = one(render_platform(_config(chat_sleeps=True), placements_for(_config(chat_sleeps=True))),
                 "ScaledObject", "chat")  # fmt: skip
    query = next(t for t in scaled["spec"]["triggers"] if t["name"] == "vllm-recent-requests")["metadata"]["query"]
    metric, model = re.match(r"sum\(increase\(([^{]+)\{[^}]*model_name=\"([^\"]+)\"", query).groups()  # type: ignore[union-attr]
    assert (metric, model) == (REQUEST_SUCCESS, "chat")
    before = _vllm_requests(platform.vllm_url, model)
    woke_before = len(platform.standin.on_route("sleepy-wake"))
    for _ in range(3):
        assert _chat(platform.gateway_url, "chat").status_code == 200
    increase = _vllm_requests(platform.vllm_url, model) - before
    assert increase == 3 and (1 if increase > 0 else 0) == 1  # "> bool 0": the trigger is active
    assert len(platform.standin.on_route("sleepy-wake")) == woke_before


def test_unknown_model_and_missing_key_are_refused_by_the_gateway(platform: Platform) -> None:
    unknown = _chat(platform.gateway_url, "no-such-model")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert _chat(platform.gateway_url, "chat", key=None).status_code == 401
    assert _chat(platform.gateway_url, "sleepy", key="sk-wrong").status_code == 401


def test_the_dashboards_gateway_metrics_are_what_smg_exports(platform: Platform) -> None:
    """Every smg metric the Grafana dashboard's gateway panels query (render/dashboard.py) is on smg's metrics
    listener after the requests above."""
    from inferctl.render.dashboard import GATEWAY_PANELS

    text = httpx.get(platform.metrics_url, timeout=10).text
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    queried = {m for _, _, queries in GATEWAY_PANELS for _, expr in queries for m in re.findall(r"smg_[a-z_]+", expr)}
    assert queried and queried <= exported, queried - exported


def test_a_restarted_gateway_gets_the_wake_route_back_from_the_registrar(platform: Platform) -> None:
    platform.gateway.stop()
    wait_until("the registrar to notice", lambda: httpx.get(platform.ready_url, timeout=3).status_code == 503, 30)
    platform.gateway = platform.relaunch()
    wait_until("the registrar to re-register", lambda: httpx.get(platform.ready_url, timeout=3).status_code == 200, 60)
    assert _listed(platform) == ["chat", "sleepy"]
    assert _chat(platform.gateway_url, "sleepy").status_code == 200
