"""Profiles of HuggingFace ids: what inferctl makes of the hub's answers.

The hub is faked at huggingface_hub's HTTP seam (``set_client_factory`` with a ``MockTransport``, see
tests/support/sizing.py): this machine cannot reach huggingface.co, and the behaviour under test is ours — a config
served, a gated 401/403, a missing repository, no network at all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inferctl.catalog import load_profile
from inferctl.errors import NotFoundError, OperationError, UserError
from tests.support.sizing import LLAMA_3_8B, FakeHub, fake_hub, fixture_config

TOKEN = "hf_sentinel_never_printed"


def _tensors_of_8b() -> dict[str, object]:
    """A single-file safetensors header whose tensors hold 8,030,261,248 bf16 parameters (two big tensors)."""
    half = 8_030_261_248 // 2
    return {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "BF16", "shape": [half], "data_offsets": [0, 2 * half]},
        "b": {"dtype": "BF16", "shape": [half], "data_offsets": [2 * half, 4 * half]},
    }


def test_config_from_the_hub_with_exact_counts(tmp_path: Path) -> None:
    hub = FakeHub({"acme/llama": fixture_config(LLAMA_3_8B)}, safetensors={"acme/llama": _tensors_of_8b()})
    with fake_hub(hub, tmp_path):
        profile = load_profile("acme/llama")
    assert profile.origin == "huggingface hub" and profile.num_kv_heads == 8
    assert profile.parameters_source == "safetensors headers" and profile.num_parameters == 8_030_261_248
    assert profile.checkpoint_bytes == 16_060_522_496


@pytest.mark.parametrize("status", [401, 403])
def test_gated_repo_says_accept_the_licence(tmp_path: Path, status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with fake_hub(FakeHub(gated={"meta-llama/Meta-Llama-3-8B": status}), tmp_path), pytest.raises(UserError) as caught:
        load_profile("meta-llama/Meta-Llama-3-8B")
    message = caught.value.message
    assert caught.value.exit_code == 2 and "\n" not in message
    assert "accept the licence at https://huggingface.co/meta-llama/Meta-Llama-3-8B" in message
    assert "export HF_TOKEN" in message


def test_gated_with_a_token_never_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub = FakeHub(gated={"meta-llama/Meta-Llama-3-8B": 403})
    with fake_hub(hub, tmp_path), pytest.raises(UserError) as caught:
        load_profile("meta-llama/Meta-Llama-3-8B")
    assert "has no access" in caught.value.message and TOKEN not in caught.value.message
    # The token did go to the hub, as a bearer header.
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub.requests)


def test_missing_repo(tmp_path: Path) -> None:
    with fake_hub(FakeHub(), tmp_path), pytest.raises(NotFoundError, match="no model 'acme/nothing'"):
        load_profile("acme/nothing")


def test_unreachable_hub_uses_the_packaged_snapshot_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    with fake_hub(FakeHub(offline=True), tmp_path) as hub:
        profile = load_profile("meta-llama/Meta-Llama-3-8B-Instruct")
    assert time.monotonic() - started < 5  # no retry loop
    assert len(hub.requests) == 1  # one probe, then the snapshot
    assert profile.origin == "packaged snapshot" and profile.num_parameters == 8_030_261_248
    assert any("cannot be reached" in note for note in profile.notes)


def test_unreachable_hub_without_snapshot_says_pass_a_path(tmp_path: Path) -> None:
    with fake_hub(FakeHub(offline=True), tmp_path), pytest.raises(OperationError) as caught:
        load_profile("acme/unknown-model")
    assert "local model directory" in caught.value.message and "\n" not in caught.value.message
