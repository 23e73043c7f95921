"""The documentation's examples that need a running model (``<!-- example: local-server -->``), run against one.

A real vLLM serves the demo model through the local target under the name the examples use (``smollm2``, the
starter's name; the starter itself is what tests/e2e/test_starter_e2e.py serves), from an inferctl.yaml in the
examples' working directory. Each example then runs as written: shell blocks with ``inferctl`` (and
``.venv/bin/inferctl``) from this environment, Python blocks with ``http://127.0.0.1:PORT`` and
``sk-inferctl-...`` replaced by the running server's address and key. A block that stops the server (``down``)
runs last.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import vllm_server_pids
from tests.support import doc_examples as docs

pytestmark = pytest.mark.e2e

SERVED = [e for e in docs.examples() if e.mark("local-server") is not None]
CONFIG = "models:\n  - name: smollm2\n    source: demo\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("docs-examples")
    cwd = root / "cwd"
    cwd.mkdir()
    (cwd / "inferctl.yaml").write_text(CONFIG, encoding="utf-8")
    env = docs.environment(root / "home")
    yield cwd, env
    stopped = docs.run_shell("inferctl down", cwd, env)
    assert stopped.returncode == 0, stopped.output
    assert vllm_server_pids(root / "home") == [], "vLLM processes survived 'inferctl down'"


def _ensure_up(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Start the model unless it runs; its base URL and key."""
    shown = docs.run_shell("inferctl endpoint --show-key --output json", cwd, env)
    if shown.returncode != 0:
        started = docs.run_shell("inferctl up --output json", cwd, env, timeout=900)
        assert started.returncode == 0, f"inferctl up failed:\n{started.output}"
        shown = docs.run_shell("inferctl endpoint --show-key --output json", cwd, env)
    assert shown.returncode == 0, shown.output
    return dict(json.loads(shown.output[shown.output.index("{") :])["endpoints"][0])


def test_there_are_served_examples() -> None:
    assert len(SERVED) >= 3


@pytest.mark.parametrize(
    "example", sorted(SERVED, key=lambda e: "inferctl down" in e.body), ids=lambda e: e.id
)  # fmt: skip
def test_served_example_runs(example: docs.Example, served: tuple[Path, dict[str, str]]) -> None:
    cwd, env = served
    endpoint = _ensure_up(cwd, env)
    docs.workdir(example, cwd.parent)
    if example.kind == "python":
        port = endpoint["base_url"].split(":")[-1].split("/")[0]
        source = example.body.replace("PORT", port).replace("sk-inferctl-...", endpoint["api_key"])
        ran = docs.run_python(source, cwd, env)
    else:
        ran = docs.run_shell(example.body, cwd, env, timeout=900)
    assert ran.returncode == 0, f"{example.id} failed (exit {ran.returncode}):\n{example.body}\n{ran.output}"
