"""Commands follow what is running: after ``up --model ./dir`` the state, not the config, names the model.

The seam: instead of vLLM, a real process whose command line names vLLM's server module (so the local target takes
it for its server) and a real OpenAI-compatible HTTP server on loopback (tests/support/bench.StubServer). The
state file is the one ``up`` writes. Everything else (CLI, config, state reading, chat, bench) is the real code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferctl.cli.app import main
from inferctl.demo_model import build_demo_model
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.targets.local.state import LocalState, write_state
from tests.support.bench import STUB_MODEL, StubServer


@dataclass(frozen=True)
class Running:
    server: StubServer
    model_dir: Path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a real tokenizer, as ``up --model ./dir`` would serve (built once: a second or two)."""
    path = tmp_path_factory.mktemp("models") / "tiny-model"
    build_demo_model(path)
    return path


def _serve(home: Path, model_dir: Path, source: str | None) -> Iterator[Running]:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", VLLM_SERVER_MODULE])
    state_dir = home / "platforms" / "inferctl" / "local"
    state_dir.mkdir(parents=True)
    try:
        with StubServer() as server:
            write_state(
                state_dir / "state.json",
                LocalState(
                    pid=sleeper.pid,
                    pgid=sleeper.pid,
                    host="127.0.0.1",
                    port=server.port,
                    model="tiny-model",
                    served_model_name=STUB_MODEL,
                    source=source or str(model_dir),
                    model_path=str(model_dir),
                    log_path=str(state_dir / "server.log"),
                    started_at=time.time(),
                    api_key_required=False,
                    ready_at=time.time(),  # 'up' has returned: it saw the server answer
                ),
            )
            (state_dir / "server.log").write_text("a line\n", encoding="utf-8")
            yield Running(server, model_dir)
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture
def running_dir(isolated_home: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """``inferctl up --model ./tiny-model`` is running; the cwd has no config (defaults name the starter model)."""
    monkeypatch.chdir(model_dir.parent)
    yield from _serve(isolated_home, model_dir, None)


def test_chat_uses_the_running_model_and_no_demo_notice(
    running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "hello", "--max-tokens", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.strip()
    assert "random weights" not in err  # before: the default config's demo notice for a real model
    assert running_dir.server.bodies[-1]["model"] == STUB_MODEL
    # No --temperature: none is sent, so the server's default sampling (the model's own) applies.
    assert "temperature" not in running_dir.server.bodies[-1]
    assert main(["chat", "hello", "--max-tokens", "3", "--temperature", "0"]) == 0
    assert running_dir.server.bodies[-1]["temperature"] == 0


def test_chat_of_the_running_demo_says_it_is_noise(
    isolated_home: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for _ in _serve(isolated_home, model_dir, "demo"):
        assert main(["chat", "hello", "--max-tokens", "3"]) == 0
        assert capsys.readouterr().err.count("random weights") == 1


@pytest.mark.parametrize("command", [["chat", "hi"], ["status"], ["endpoint"], ["logs"], ["bench", "-n", "1"]])
def test_a_conflicting_model_flag_is_one_line_exit_2(
    command: list[str], running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--model", "demo"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "is serving" in lines[0] and "not 'demo'" in lines[0] and "drop --model" in lines[0]
    assert running_dir.server.bodies == []  # nothing was sent


@pytest.mark.parametrize("name", ["tiny-model", STUB_MODEL, "./tiny-model"])
def test_model_flags_naming_the_running_model_are_accepted(
    name: str, running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["endpoint", "--model", name, "-o", "json"]) == 0
    (endpoint,) = json.loads(capsys.readouterr().out)["endpoints"]
    assert endpoint["model"] == STUB_MODEL


def test_bench_finds_the_tokenizer_in_the_running_model_dir(
    running_dir: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--concurrency", "1", "-n", "1", "--warmup", "0", "--input-len", "16", "--output-len", "2"]
    assert main([*argv, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workload"]["exact_input_lengths"] is True  # before: no tokenizer, lengths approximated
    assert str(running_dir.model_dir) in report["workload"]["prompts"]
