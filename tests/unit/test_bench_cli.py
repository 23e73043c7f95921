"""``inferctl bench`` end to end against the local streaming stub (a real HTTP server on 127.0.0.1): flags,
JSON and table output, the plot, model discovery, errors, and that the API key is never printed.

The command is mounted on a fresh Typer app with the module's own ``register`` (the same call app.py makes),
and run in-process with click's non-standalone mode so InferctlError subclasses surface as they would to
``inferctl.cli.app.main``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from inferctl.cli import bench as bench_cli
from inferctl.errors import ConfigError, InferctlError, NotFoundError
from tests.support.bench import STUB_MODEL, StubReply, StubServer

KEY = "sk-bench-secret-42"


def _invoke(args: list[str]) -> None:
    app = typer.Typer()
    bench_cli.register(app)
    app.command("noop")(lambda: None)  # two commands, so "bench" is addressed by name as in inferctl
    typer.main.get_command(app).main(args=["bench", *args], prog_name="inferctl", standalone_mode=False)


def _json_out(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[dict[str, Any], str]:
    _invoke([*args, "--output", "json"])
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_json_report_with_sweep_slo_price_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "bench.png"
    with StubServer(lambda body: StubReply(ttft_s=0.01, gaps_s=(0.005,) * 3), api_key=KEY) as server:
        report, err = _json_out(
            capsys,
            [
                "--url",
                server.base_url,
                "--api-key",
                KEY,
                "--concurrency",
                "1,2",
                "--requests",
                "4",
                "--output-len",
                "4",
                "--input-len",
                "16",
                "--slo",
                "ttft=1s",
                "--price",
                "3.6",
                "--plot",
                str(plot),
            ],
        )
        assert set(server.auth_headers) == {f"Bearer {KEY}"}
        assert len(server.bodies) == 2 + 4 + 4  # warm-up + two levels
    assert report["endpoint"] == {"base_url": server.base_url, "model": STUB_MODEL, "api": "completions"}
    assert [lvl["concurrency"] for lvl in report["levels"]] == [1, 2]
    for lvl in report["levels"]:
        assert lvl["completed"] == 4 and lvl["failed"] == 0
        assert lvl["output_tokens"] == 16 and lvl["output_throughput"] > 0
        assert lvl["good_requests"] == 4
        assert lvl["usd_per_1m_output_tokens"] == pytest.approx(1000.0 / lvl["output_throughput"], rel=1e-3)
    assert report["price"]["basis"] == "--price"
    assert report["workload"]["client"].startswith("httpx with inferctl's lean HTTP/1.1 transport")
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert KEY not in json.dumps(report) and KEY not in err


def test_table_output_and_model_discovery(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as server:
        _invoke(
            [
                "--url",
                server.base_url.removesuffix("/v1") + "/v1/chat/completions",
                "--concurrency",
                "2",
                "-n",
                "3",
                "--output-len",
                "2",
                "--warmup",
                "0",
            ]
        )
        assert {body["model"] for body in server.bodies} == {STUB_MODEL}  # found through GET /v1/models
    out = capsys.readouterr().out
    assert "c=2" in out
    assert "unknown for --url" in out  # no --price for an arbitrary URL
    assert "approximate" in out  # no tokenizer for an arbitrary URL


def test_synthetic_dataset_uses_the_chat_api(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as server:
        report, _ = _json_out(
            capsys,
            [
                "--url",
                server.base_url,
                "--dataset",
                "synthetic",
                "--concurrency",
                "1",
                "-n",
                "2",
                "--output-len",
                "3",
                "--warmup",
                "1",
            ],
        )
        assert all("messages" in body for body in server.bodies)
    assert report["endpoint"]["api"] == "chat"
    assert report["workload"]["prompts"].startswith("built-in synthetic conversations")


def test_rate_sweep_with_a_concurrency_cap(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as server:
        report, _ = _json_out(
            capsys,
            [
                "--url",
                server.base_url,
                "--rate",
                "50,100",
                "--concurrency",
                "4",
                "-n",
                "5",
                "--output-len",
                "2",
                "--burstiness",
                "0.5",
            ],
        )
    assert [(lvl["rate"], lvl["concurrency"]) for lvl in report["levels"]] == [(50.0, 4), (100.0, 4)]
    assert report["workload"]["arrivals"] == "gamma (burstiness 0.5)"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "a,b"], "--concurrency"),
        (["--rate", "1", "--concurrency", "1,2"], "one cap"),
        (["--api", "grpc"], "--api"),
        (["--input-len", "0"], "--input-len"),
        (["--slo", "fast"], "--slo"),
        (["--dataset", "synthetic", "--api", "completions"], "--api chat"),
        (["--url", "ftp://x"], "--url"),
    ],
)
def test_bad_flags_are_config_errors(args: list[str], match: str) -> None:
    with StubServer() as server:
        url = [] if "--url" in args else ["--url", server.base_url]
        with pytest.raises(ConfigError, match=match):
            _invoke([*url, *args, "--warmup", "0", "-n", "1"])


def test_without_url_it_asks_the_configured_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No --url: the local target's endpoint; nothing runs in this empty INFERCTL_HOME."""
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no ./inferctl.yaml: built-in defaults (local target, demo model)
    with pytest.raises(NotFoundError, match="inferctl up"):
        _invoke(["--concurrency", "1"])


def test_every_level_failing_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    replies = iter([StubReply()] + [StubReply(status=500)] * 10)
    with StubServer(lambda body: next(replies)) as server, pytest.raises(InferctlError) as info:
        _invoke(["--url", server.base_url, "--concurrency", "1", "-n", "2", "--warmup", "1", "--output", "json"])
    assert info.value.exit_code == 1
    report = json.loads(capsys.readouterr().out)  # the report is still printed
    assert report["levels"][0]["errors"] == {"HTTP 500": 2}


def test_registered_in_the_cli() -> None:
    from inferctl.cli import app as cli_app

    source = Path(cli_app.__file__).read_text(encoding="utf-8")
    assert '"bench",' in source


def test_benchmarking_the_demo_model_says_its_replies_are_noise(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No --url: the platform's endpoint, here the config's demo model (its server faked by the stub)."""
    import inferctl.bench as lib
    from inferctl.targets.base import Endpoint

    monkeypatch.chdir(tmp_path)  # the local target, the demo model
    (tmp_path / "inferctl.yaml").write_text("models: [{name: demo, source: demo}]\n", encoding="utf-8")
    with StubServer() as server:

        def running_demo(config: Any, model: str | None) -> lib.BenchEndpoint:
            return lib.BenchEndpoint(Endpoint(STUB_MODEL, server.base_url, None), config.models[0])

        monkeypatch.setattr(lib, "from_platform", running_demo)
        report, err = _json_out(
            capsys, ["--dataset", "synthetic", "--concurrency", "1", "-n", "1", "--warmup", "0", "--output-len", "2"]
        )
    assert report["levels"][0]["completed"] == 1
    assert report["price"]["usd_per_hour"] == 0.0  # the local target is free
    assert err.count("its replies are noise") == 1


def test_openai_api_key_is_for_url_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$OPENAI_API_KEY (often an OpenAI key) is the --url default; the platform keeps its own key."""
    import inferctl.bench as lib
    from inferctl.targets.base import Endpoint

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-the-platform")
    args = ["--dataset", "synthetic", "--concurrency", "1", "-n", "1", "--warmup", "0", "--output-len", "2"]
    with StubServer(api_key=KEY) as server:

        def running(config: Any, model: str | None) -> lib.BenchEndpoint:
            return lib.BenchEndpoint(Endpoint(STUB_MODEL, server.base_url, KEY), config.models[0])

        monkeypatch.setattr(lib, "from_platform", running)
        report, _ = _json_out(capsys, args)
        assert report["levels"][0]["completed"] == 1
        assert set(server.auth_headers) == {f"Bearer {KEY}"}
    with StubServer(api_key="sk-openai-not-for-the-platform") as server:
        report, err = _json_out(capsys, ["--url", server.base_url, *args])
    assert report["levels"][0]["completed"] == 1  # --url: the variable is the key
    assert "sk-openai" not in json.dumps(report) + err
