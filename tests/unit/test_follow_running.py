"""Commands follow what is running: after ``up --model ./dir`` the state, not the config, names the model; with
several models behind the gateway, ``--model`` picks one (the only one by default) and ``endpoint`` prints one URL.

The seam (tests/support/local.py): instead of vLLM, a real process whose command line names vLLM's server module
and a real OpenAI-compatible HTTP server on loopback (tests/support/bench.StubServer); in front of them the real
gateway (smg) started by the local target's own code. Everything else (CLI, config, state reading, chat, bench) is
the real code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferctl.cli.app import main
from inferctl.demo_model import build_demo_model
from inferctl.targets.local.gateway import Route
from tests.support.bench import STUB_MODEL, StubServer
from tests.support.local import running_gateway, server_standin, server_state, write_server


@dataclass(frozen=True)
class Running:
    servers: dict[str, StubServer]  # by served model name
    model_dir: Path
    base_url: str  # the gateway's


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a real tokenizer, as ``up --model ./dir`` would serve (built once: a second or two)."""
    path = tmp_path_factory.mktemp("models") / "tiny-model"
    build_demo_model(path)
    return path


def _serve(home: Path, model_dir: Path, models: list[tuple[str, str, str]]) -> Iterator[Running]:
    """Each (deployment name, served name, source) runs one stand-in server behind the real gateway."""
    with ExitStack() as stack:
        stubs, routes = {}, []
        for name, served, source in models:
            stub = stack.enter_context(StubServer(model=served))
            pid = stack.enter_context(server_standin())
            state = server_state(pid, stub.port, model=name, served=served, source=source, model_path=str(model_dir))
            state = write_server(home, state)
            stubs[served] = stub
            routes.append(Route(state.name, state.base_url, served))
        gateway = stack.enter_context(running_gateway(home, routes))
        yield Running(stubs, model_dir, gateway.base_url + "/v1")


@pytest.fixture
def running_dir(isolated_home: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """``inferctl up --model ./tiny-model`` is running; the cwd has no config (defaults name the starter model)."""
    monkeypatch.chdir(model_dir.parent)
    yield from _serve(isolated_home, model_dir, [("tiny-model", STUB_MODEL, str(model_dir))])


@pytest.fixture
def two_models(isolated_home: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """Two models behind the gateway: ``small`` (the tiny model's directory) and ``other``."""
    monkeypatch.chdir(model_dir.parent)
    yield from _serve(isolated_home, model_dir, [("small", "small", str(model_dir)), ("other", "other", "demo")])


def test_chat_uses_the_running_model_and_no_demo_notice(
    running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "hello", "--max-tokens", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.strip()
    assert "random weights" not in err  # before: the default config's demo notice for a real model
    stub = running_dir.servers[STUB_MODEL]
    assert stub.bodies[-1]["model"] == STUB_MODEL
    # No --temperature: none is sent, so the server's default sampling (the model's own) applies.
    assert "temperature" not in stub.bodies[-1]
    assert main(["chat", "hello", "--max-tokens", "3", "--temperature", "0"]) == 0
    assert stub.bodies[-1]["temperature"] == 0


def test_chat_of_the_running_demo_says_it_is_noise(
    isolated_home: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for _ in _serve(isolated_home, model_dir, [("demo", "demo", "demo")]):
        assert main(["chat", "hello", "--max-tokens", "3"]) == 0
        assert capsys.readouterr().err.count("random weights") == 1


@pytest.mark.parametrize("command", [["chat", "hi"], ["status"], ["endpoint"], ["logs"], ["bench", "-n", "1"]])
def test_a_model_flag_naming_no_running_model_is_one_line_exit_2(
    command: list[str], running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--model", "demo"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "serves tiny-model, not 'demo'" in lines[0] and "pass one of those with --model" in lines[0]
    assert running_dir.servers[STUB_MODEL].bodies == []  # nothing was sent


@pytest.mark.parametrize("name", ["tiny-model", STUB_MODEL, "./tiny-model"])
def test_model_flags_naming_the_running_model_are_accepted(
    name: str, running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["endpoint", "--model", name, "-o", "json"]) == 0
    (endpoint,) = json.loads(capsys.readouterr().out)["endpoints"]
    assert endpoint["model"] == STUB_MODEL
    assert endpoint["base_url"] == running_dir.base_url  # the gateway's, not the server's own address


def test_bench_finds_the_tokenizer_in_the_running_model_dir(
    running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--concurrency", "1", "-n", "1", "--warmup", "0", "--input-len", "16", "--output-len", "2"]
    assert main([*argv, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workload"]["exact_input_lengths"] is True  # before: no tokenizer, lengths approximated
    assert str(running_dir.model_dir) in report["workload"]["prompts"]
    assert report["endpoint"]["base_url"] == running_dir.base_url


@pytest.mark.parametrize("command", [["chat", "hi"], ["logs"], ["bench", "-n", "1"]])
def test_with_two_models_a_command_for_one_asks_which(
    command: list[str], two_models: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --model, a command that talks to one model names the choices in one line, exit 2."""
    assert main(command) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "serves other, small; choose one with --model NAME" in line, line


def test_with_two_models_chat_and_bench_reach_the_model_named(
    two_models: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the one gateway URL, each request reaches the server of the model it names."""
    assert main(["chat", "hi", "--model", "other", "--max-tokens", "2"]) == 0
    assert capsys.readouterr().out.strip()
    assert [b["model"] for b in two_models.servers["other"].bodies] == ["other"]
    assert two_models.servers["small"].bodies == []
    argv = ["bench", "--model", "small", "--concurrency", "1", "-n", "2", "--warmup", "0", "--output-len", "2"]
    assert main([*argv, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["endpoint"]["base_url"] == two_models.base_url and report["endpoint"]["model"] == "small"
    assert len(two_models.servers["small"].bodies) == 2 and len(two_models.servers["other"].bodies) == 1


def test_with_two_models_endpoint_prints_one_base_url(two_models: Running, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["endpoint", "-o", "json"]) == 0
    endpoints = json.loads(capsys.readouterr().out)["endpoints"]
    assert sorted(e["model"] for e in endpoints) == ["other", "small"]
    assert {e["base_url"] for e in endpoints} == {two_models.base_url}
    assert main(["endpoint"]) == 0
    out = capsys.readouterr().out
    assert out.count(two_models.base_url) == 1 and "other, small" in out


def test_with_two_models_status_model_shows_that_model(two_models: Running, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state"] == "running" and report["gateway"]["state"] == "healthy"
    assert report["gateway"]["models"] == ["other", "small"]
    assert [(m["server"], m["state"], m["routable"]) for m in report["models"]] == [
        ("other-0", "healthy", True),
        ("small-0", "healthy", True),
    ]
    assert main(["status", "--model", "small", "-o", "json"]) == 0
    assert [m["server"] for m in json.loads(capsys.readouterr().out)["models"]] == ["small-0"]


def test_with_two_models_logs_shows_the_model_named(two_models: Running, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "--model", "other"]) == 0
    assert capsys.readouterr().out == "a line\n"  # the server's own log, unprefixed: the model has one replica
